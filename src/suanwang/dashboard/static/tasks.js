// The live task table (newest first, every 2 s: state, site, cost and carbon so far) and the
// task page (#/task/<id>): the task, its story event by event, and why it went where it did.

import { ApiError } from "./api.js";
import { facts, h, put, s } from "./dom.js";
import { grams, label, lang, money, num, t, time } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const LIMIT = 100;
const STATES = [
  "submitted",
  "queued",
  "placed",
  "dispatched",
  "running",
  "rescheduling",
  "succeeded",
  "failed",
  "cancelled",
];
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

const rows = new Map(); // task id -> {tr, sig}
let forbidden = false;

// --- the table ----------------------------------------------------------------------------

export function init(ctx) {
  const select = $("task-state");
  fillStates(select);
  select.addEventListener("change", () => {
    ctx.refreshTasks().catch(ctx.report);
  });
  const body = $("task-rows");
  body.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-task]");
    if (tr && !ev.target.closest("a"))
      location.hash = `#/task/${encodeURIComponent(tr.dataset.task)}`;
  });
  body.addEventListener("keydown", (ev) => {
    const tr = ev.target.closest("tr[data-task]");
    if (tr && ev.key === "Enter") location.hash = `#/task/${encodeURIComponent(tr.dataset.task)}`;
  });
}

function fillStates(select) {
  const current = select.value;
  put(
    select,
    h("option", { value: "" }, t("tasks.all")),
    STATES.map((x) => h("option", { value: x }, label("state", x))),
  );
  select.value = current;
}

export async function refresh(ctx) {
  const state = $("task-state").value;
  const query = `v1/map/tasks?limit=${LIMIT}${state ? `&state=${encodeURIComponent(state)}` : ""}`;
  try {
    ctx.tasks = await ctx.call(query);
    forbidden = false;
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      ctx.tasks = null;
      forbidden = true;
    } else {
      throw err;
    }
  }
  render(ctx);
}

function cells(ctx, x) {
  return [
    h(
      "td",
      {},
      h(
        "a",
        { href: `#/task/${encodeURIComponent(x.id)}`, title: `${t("tasks.open")}: ${x.id}` },
        x.name,
      ),
    ),
    h("td", {}, x.tenant),
    h("td", {}, h("span", { class: `badge state-${x.state}` }, label("state", x.state))),
    h("td", { class: "clip", title: x.site ?? "" }, x.site ? ctx.siteName(x.site) : "—"),
    h("td", { class: "wrap" }, x.reason || ""),
    h("td", { class: "num" }, money(x.cost_micros, x.currency)),
    h("td", { class: "num" }, grams(x.carbon_g)),
    h("td", {}, time(x.submitted_at)),
  ];
}

function render(ctx) {
  const body = $("task-rows");
  const empty = $("task-empty");
  const scope = $("task-scope");
  if (forbidden || !ctx.tasks) {
    for (const { tr } of rows.values()) tr.remove();
    rows.clear();
    empty.textContent = t("tasks.forbidden");
    empty.hidden = false;
    scope.textContent = "";
    return;
  }
  const own = ctx.me && ["tenant"].includes(ctx.me.role);
  scope.textContent = own
    ? t("tasks.scopeOwn", { principal: ctx.me.principal })
    : t("tasks.scopeAll", { n: LIMIT });
  const seen = new Set();
  const key = `${lang()}|${ctx.net ? ctx.net.sites.length : 0}`;
  ctx.tasks.forEach((x) => {
    seen.add(x.id);
    const sig = `${key}|${x.state}|${x.site}|${x.reason}|${x.cost_micros}|${x.carbon_g}`;
    let entry = rows.get(x.id);
    if (!entry) {
      const tr = h("tr", { "data-task": x.id, "data-testid": `task-${x.id}`, tabindex: 0 });
      entry = { tr, sig: "" };
      rows.set(x.id, entry);
    }
    if (entry.sig !== sig) {
      put(entry.tr, cells(ctx, x));
      entry.tr.dataset.state = x.state;
      entry.tr.dataset.tenant = x.tenant;
      entry.tr.dataset.site = x.site ?? "";
      entry.sig = sig;
    }
  });
  for (const [id, entry] of rows) {
    if (!seen.has(id)) {
      entry.tr.remove();
      rows.delete(id);
    }
  }
  // newest first, in the API's order; move only the rows out of place
  let cursor = body.firstElementChild;
  for (const x of ctx.tasks) {
    const tr = rows.get(x.id).tr;
    if (tr !== cursor) body.insertBefore(tr, cursor);
    else cursor = cursor.nextElementSibling;
  }
  empty.hidden = ctx.tasks.length > 0;
  empty.textContent = t("tasks.empty");
}

export function onLang(ctx) {
  fillStates($("task-state"));
  redraw(ctx);
}

/** Draw the table and the task page again from what was last fetched. */
export function redraw(ctx) {
  if (ctx.tasks || forbidden) render(ctx);
  if (page.id) renderPage(ctx);
}

// --- the task page ------------------------------------------------------------------------

const page = {
  id: "",
  task: null,
  events: null,
  explain: null,
  explainError: "",
  error: null,
  timer: null,
};

export function openPage(ctx, id) {
  if (page.id !== id) {
    Object.assign(page, {
      id,
      task: null,
      events: null,
      explain: null,
      explainError: "",
      error: null,
    });
    put($("task-page"), h("section", {}, h("p", { class: "muted" }, "…")));
    loadExplain(ctx, id);
  }
  clearTimeout(page.timer);
  loadPage(ctx, id);
  window.scrollTo(0, 0);
}

export function closePage() {
  clearTimeout(page.timer);
  page.id = "";
}

async function loadPage(ctx, id) {
  const path = `v1/tasks/${encodeURIComponent(id)}`;
  try {
    const [task, events] = await Promise.all([ctx.call(path), ctx.call(`${path}/events`)]);
    if (page.id !== id) return;
    page.task = task;
    page.events = events;
    page.error = null;
  } catch (err) {
    if (page.id !== id) return;
    if (err instanceof ApiError && err.status === 401) {
      ctx.report(err);
      return;
    }
    page.error = err;
  }
  renderPage(ctx);
  if (
    page.id === id &&
    (!page.task || !TERMINAL.has(page.task.state)) &&
    !(page.error instanceof ApiError && page.error.status === 404)
  ) {
    page.timer = setTimeout(() => loadPage(ctx, id), 2000);
  }
}

async function loadExplain(ctx, id) {
  try {
    const out = await ctx.call(`v1/tasks/${encodeURIComponent(id)}/explain`);
    if (page.id !== id) return;
    page.explain = out;
    page.explainError = "";
  } catch (err) {
    if (page.id !== id) return;
    page.explain = null;
    page.explainError = err instanceof ApiError ? err.message : String(err);
  }
  renderPage(ctx);
}

function back() {
  return h("a", { href: "#/", class: "back", "data-testid": "task-back" }, t("task.back"));
}

function renderPage(ctx) {
  const root = $("task-page");
  if (!page.id) return;
  if (page.error) {
    const err = page.error;
    const notFound = err instanceof ApiError && err.status === 404;
    put(
      root,
      h(
        "section",
        { "data-testid": notFound ? "task-not-found" : "task-error" },
        back(),
        h("h2", {}, notFound ? t("task.notFound", { message: err.message }) : err.message),
        h("p", { class: "mono" }, page.id),
      ),
    );
    return;
  }
  const task = page.task;
  if (!task) return;
  const row = ctx.tasks?.find((x) => x.id === task.id);
  put(
    root,
    h(
      "section",
      { "data-testid": "task-summary", "data-state": task.state },
      back(),
      h(
        "div",
        { class: "title" },
        h("h2", {}, t("task.title", { name: task.name })),
        h(
          "span",
          { class: `badge state-${task.state}`, "data-testid": "task-state" },
          label("state", task.state),
        ),
      ),
      facts(
        [
          [t("task.id"), h("span", { class: "mono" }, task.id)],
          [t("task.tenant"), task.tenant],
          [t("task.site"), task.site ? `${ctx.siteName(task.site)} (${task.site})` : "—"],
          [t("task.pool"), task.pool == null ? null : String(task.pool)],
          [t("task.attempt"), String(task.attempt ?? 0)],
          [t("tasks.cost"), row ? money(row.cost_micros, row.currency) : null],
          [t("tasks.carbon"), row ? grams(row.carbon_g) : null],
          [t("task.submitted"), `${time(task.submitted_at, true)} UTC`],
          [t("task.updated"), `${time(task.updated_at, true)} UTC`],
          [t("task.reason"), task.reason || null],
        ],
        "task-facts",
      ),
    ),
    storySection(),
    explainSection(ctx),
  );
}

function storySection() {
  const events = page.events ?? [];
  return h(
    "section",
    { "data-testid": "task-story", class: "story" },
    h("h2", {}, t("task.story")),
    h(
      "table",
      { class: "grid" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, t("task.time")),
          h("th", {}, t("task.event")),
          h("th", {}, t("task.change")),
          h("th", {}, t("task.note")),
          h("th", {}, t("task.ops")),
        ),
      ),
      h(
        "tbody",
        {},
        events.map((e) =>
          h(
            "tr",
            { "data-testid": "story-event", "data-kind": e.kind },
            h("td", {}, time(e.at, true)),
            h("td", {}, label("event", e.kind), e.attempt ? ` #${e.attempt}` : ""),
            h(
              "td",
              {},
              e.accepted
                ? `${e.before ? label("state", e.before) : "∅"} → ${e.after ? label("state", e.after) : "—"}`
                : t("task.refused"),
            ),
            h("td", { class: "wrap" }, e.note || ""),
            h("td", { class: "ops" }, (e.ops ?? []).join(", ")),
          ),
        ),
      ),
    ),
  );
}

function bars(scores) {
  const grid = h("div", { class: "bars" });
  for (const [name, value] of Object.entries(scores ?? {})) {
    const w = Math.max(0, Math.min(100, Number(value) || 0)) * 0.7;
    grid.append(
      h("span", {}, name),
      s(
        "svg",
        { width: 70, height: 8, "aria-hidden": "true" },
        s("rect", { class: "bg", width: 70, height: 8 }),
        s("rect", { class: "fg", width: w.toFixed(1), height: 8 }),
      ),
      h("span", {}, num(value, 0)),
    );
  }
  return grid;
}

function explainSection(ctx) {
  const section = h(
    "section",
    { "data-testid": "task-explain" },
    h("h2", {}, t("task.explain")),
    h("p", { class: "sub muted" }, t("task.explainHelp")),
  );
  if (page.explainError) {
    section.append(
      h("p", { class: "message error" }, t("task.explainNone", { message: page.explainError })),
    );
    return section;
  }
  const out = page.explain;
  if (!out) {
    section.append(h("p", { class: "muted" }, "…"));
    return section;
  }
  const e = out.explanation;
  const rejected = Object.entries(e.rejected_by ?? {})
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");
  section.append(
    facts(
      [
        [
          t("task.chosen"),
          e.chosen
            ? h(
                "strong",
                { "data-testid": "explain-chosen" },
                `${ctx.siteName(e.chosen)} (${e.chosen})`,
              )
            : "—",
        ],
        [t("task.runnerUp"), e.runner_up ? `${ctx.siteName(e.runner_up)} (${e.runner_up})` : "—"],
        [t("task.feasible"), num(e.feasible_sites, 0)],
        [t("task.mode"), e.mode],
        [t("task.rejectedBy"), rejected || null],
        [t("task.whyNot"), out.why_not || null],
      ],
      "explain-facts",
    ),
  );
  const feasible = e.sites
    .filter((x) => x.feasible)
    .sort((a, b) => (a.rank ?? 1e9) - (b.rank ?? 1e9));
  const top = feasible.slice(0, 10);
  if (top.length) {
    section.append(
      h(
        "table",
        { class: "grid", "data-testid": "explain-ranking" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { class: "num" }, t("task.rank")),
            h("th", {}, t("task.site")),
            h("th", {}, t("task.pool")),
            h("th", { class: "num" }, t("task.score")),
            h("th", {}, t("task.scores")),
          ),
        ),
        h(
          "tbody",
          {},
          top.map((x) =>
            h(
              "tr",
              { class: x.site === e.chosen ? "chosen" : "" },
              h("td", { class: "num" }, x.rank ?? "—"),
              h("td", {}, ctx.siteName(x.site)),
              h("td", {}, x.pool ?? "—"),
              h("td", { class: "num" }, num(x.score, 1)),
              h("td", {}, bars(x.scores)),
            ),
          ),
        ),
      ),
    );
    if (feasible.length > top.length) {
      section.append(
        h("p", { class: "muted" }, t("task.more", { n: feasible.length - top.length })),
      );
    }
  }
  const infeasible = e.sites.filter((x) => !x.feasible);
  if (infeasible.length) {
    section.append(
      h("h3", {}, t("task.infeasible")),
      h(
        "ul",
        { "data-testid": "explain-infeasible" },
        infeasible
          .slice(0, 15)
          .map((x) => h("li", {}, h("strong", {}, ctx.siteName(x.site)), `: ${x.reason}`)),
      ),
    );
    if (infeasible.length > 15) {
      section.append(h("p", { class: "muted" }, t("task.more", { n: infeasible.length - 15 })));
    }
  }
  return section;
}

// The dashboard's entry point: sign-in, the shared state, polling, tabs, the map's tooltip and
// legend, and the route between the dashboard (#/) and a task page (#/task/<id>).

import { ApiError, call, saveToken, savedToken, url } from "./api.js";
import { h, put, s } from "./dom.js";
import { applyStatic, label, lang, num, onLangChange, pct, setLang, t } from "./i18n.js";
import {
  INTERNET_BINS,
  LATENCY_BINS,
  NO_DATA,
  RINGS,
  UNREACHABLE,
  WorldMap,
  binColour,
  loadColour,
} from "./map.js";
import * as panels from "./panels.js";
import * as tasks from "./tasks.js";

const NETWORK_EVERY_MS = 5000;
const NETWORK_FAST_MS = 1000;
const TASKS_EVERY_MS = 2000;

const $ = (id) => document.getElementById(id);

/** The state every module reads; one object, passed around. */
const ctx = {
  token: "",
  me: null, // {principal, role}
  net: null, // /v1/map/network
  sitesById: new Map(),
  linksById: new Map(),
  countryRows: null, // /v1/map/countries, by code
  shapes: null, // countries.json
  tasks: null, // /v1/map/tasks rows (null: not readable)
  selection: null, // {kind: "site"|"link", id}
  tab: "details",
  layer: "none",
  map: null,
  fastUntil: 0,
  metrics: { start: performance.now() },
  call: (path, options) => call(ctx.token, path, options),
  isStaff: () => Boolean(ctx.me && ["operator", "admin"].includes(ctx.me.role)),
  siteName: (id) => ctx.sitesById.get(id)?.name ?? id ?? "—",
  select,
  selectTab,
  renderLegend,
  refreshNetwork,
  refreshTasks,
  report,
  fast() {
    ctx.fastUntil = Date.now() + 20000;
    pollers.network?.now();
  },
};
window.suanwang = { ctx, metrics: ctx.metrics };

// --- errors and the banner ----------------------------------------------------------------

let bannerTimer = null;

function banner(text, isError = false) {
  const el = $("banner");
  if (!text) {
    el.hidden = true;
    return;
  }
  el.textContent = text;
  el.classList.toggle("error", isError);
  el.hidden = false;
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => {
    el.hidden = true;
  }, 8000);
}

/** What to do with a failed call: 401 ends the session; the rest shows in the banner. */
function report(err) {
  if (!(err instanceof ApiError)) {
    console.error(err);
    banner(String(err), true);
    return;
  }
  if (err.status === 401) {
    logout(t("login.ended", { message: err.message }));
  } else if (err.status === 0) {
    banner(t("err.unreachable", { message: err.message }), true);
  } else if (err.status === 429) {
    banner(t("err.rateLimited"));
  } else {
    banner(err.message, true);
  }
}

// --- polling ------------------------------------------------------------------------------

const pollers = {};

function poll(name, fn, every) {
  let timer = null;
  let running = false;
  let again = false;
  let stopped = false;
  const run = async () => {
    clearTimeout(timer);
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      if (!document.hidden || !ctx.net) await fn();
    } catch (err) {
      report(err);
    } finally {
      running = false;
    }
    if (stopped) return;
    if (again) {
      again = false;
      run();
      return;
    }
    timer = setTimeout(run, typeof every === "function" ? every() : every);
  };
  pollers[name] = {
    now: run,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
  run();
}

function stopPolling() {
  for (const p of Object.values(pollers)) p.stop();
  for (const k of Object.keys(pollers)) delete pollers[k];
}

// --- sign-in ------------------------------------------------------------------------------

async function login(token, { silent = false } = {}) {
  const error = $("login-error");
  if (!token) {
    if (!silent) error.textContent = t("login.empty");
    showLogin();
    return;
  }
  error.textContent = silent ? "" : t("login.checking");
  let me;
  try {
    me = await call(token, "v1/whoami");
  } catch (err) {
    saveToken("");
    ctx.token = "";
    showLogin();
    const message = err instanceof ApiError ? err.message : String(err);
    error.textContent = t("login.failed", { message });
    return;
  }
  ctx.token = token;
  ctx.me = me;
  saveToken(token);
  error.textContent = "";
  ctx.metrics.signedIn = performance.now();
  start();
}

function showLogin() {
  $("login").hidden = false;
  $("dashboard").hidden = true;
  $("task-page").hidden = true;
  $("logout").hidden = true;
  $("whoami").textContent = "";
  $("token").focus();
}

function logout(message = "") {
  stopPolling();
  saveToken("");
  ctx.token = "";
  ctx.me = null;
  ctx.tasks = null;
  ctx.net = null;
  $("token").value = "";
  showLogin();
  $("login-error").textContent = message;
}

function renderWho() {
  if (!ctx.me) return;
  $("whoami").textContent = t("app.signedIn", {
    principal: ctx.me.principal,
    role: label("role", ctx.me.role),
  });
}

// --- start --------------------------------------------------------------------------------

let shapesPromise = null;

function loadShapes() {
  shapesPromise ??= fetch(url("ui/countries.json"))
    .then((r) => {
      if (!r.ok) throw new ApiError(r.status, "shapes", `countries.json: ${r.status}`);
      return r.json();
    })
    .catch((err) => {
      shapesPromise = null; // try again on the next refresh
      throw err;
    });
  return shapesPromise;
}

function start() {
  $("login").hidden = true;
  $("logout").hidden = false;
  renderWho();
  $("tab-whatif").hidden = !ctx.isStaff();
  if (!ctx.isStaff() && ctx.tab === "whatif") ctx.tab = "details";
  if (!ctx.map) {
    ctx.map = new WorldMap($("map"), { onSelect: select, onHover: tooltip });
    panels.init(ctx);
    tasks.init(ctx);
  }
  route();
  selectTab(ctx.tab);
  renderLegend();
  poll("network", refreshNetwork, () =>
    Date.now() < ctx.fastUntil ? NETWORK_FAST_MS : NETWORK_EVERY_MS,
  );
  poll("tasks", refreshTasks, TASKS_EVERY_MS);
}

async function refreshNetwork() {
  const [net, shapes] = await Promise.all([
    ctx.call("v1/map/network"),
    ctx.shapes ? null : loadShapes(),
  ]);
  if (shapes && !ctx.shapes) {
    ctx.shapes = shapes;
    ctx.map.setShapes(shapes.countries);
  }
  const before = ctx.net;
  ctx.net = net;
  ctx.sitesById = new Map(net.sites.map((x) => [x.id, x]));
  ctx.linksById = new Map(net.links.map((x) => [x.id, x]));
  ctx.map.setNetwork(net);
  const cut = net.links.filter((l) => l.cut).length;
  const stats = $("map-stats");
  stats.removeAttribute("data-i18n");
  stats.textContent = t("map.stats", {
    sites: net.sites.length,
    links: net.links.length,
    cut,
    time: new Date(net.at).toISOString().slice(11, 19),
  });
  stats.dataset.cut = String(cut);
  if (!ctx.metrics.mapReady) {
    ctx.metrics.mapReady = performance.now();
    ctx.metrics.mapReadyAfterSignIn = ctx.metrics.mapReady - ctx.metrics.signedIn;
    $("map").dataset.ready = "true";
    shade();
    tasks.redraw(ctx); // site names, now that the sites are known
  }
  const cutsChanged = before && before.version !== net.version;
  if (cutsChanged && ctx.layer !== "none") {
    ctx.countryRows = null;
    shade();
  }
  panels.onNetwork(ctx, { cutsChanged: Boolean(cutsChanged) });
}

async function refreshTasks() {
  await tasks.refresh(ctx);
  panels.onTasks(ctx);
}

// --- selection and tabs -------------------------------------------------------------------

function select(kind, id) {
  ctx.selection = kind ? { kind, id } : null;
  ctx.map.select(kind, id);
  if (kind === "site" && ctx.tab === "circles") {
    panels.setCircleSite(ctx, id);
  } else if (kind === "site" && ctx.tab === "market") {
    panels.setEnergySite(ctx, id);
  } else {
    selectTab("details");
  }
  panels.renderDetails(ctx);
}

function selectTab(name) {
  if (name === "whatif" && !ctx.isStaff()) name = "details";
  ctx.tab = name;
  for (const button of document.querySelectorAll("[role=tab]")) {
    const on = button.dataset.tab === name;
    button.setAttribute("aria-selected", String(on));
    button.tabIndex = on ? 0 : -1;
  }
  for (const panel of document.querySelectorAll("[role=tabpanel]")) {
    panel.hidden = panel.id !== `panel-${name}`;
  }
  panels.onTab(ctx, name);
  renderLegend();
}

// --- tooltip ------------------------------------------------------------------------------

function tooltip(hover) {
  const el = $("tooltip");
  if (!hover) {
    el.hidden = true;
    return;
  }
  const lines = [];
  if (hover.kind === "site") {
    const site = ctx.sitesById.get(hover.id);
    if (!site) return;
    lines.push(h("strong", {}, site.name));
    lines.push(`${site.city}, ${site.country} · ${label("kind", site.kind)}`);
    lines.push(`${t("site.load")}: ${pct(site.load, 1)} · ${t("site.running")}: ${site.running}`);
    lines.push(`${t("site.carbon")}: ${num(site.carbon_g_per_kwh, 0)} g CO₂/kWh`);
    if (site.down) lines.push(t("site.down"));
  } else if (hover.kind === "link") {
    const link = ctx.linksById.get(hover.id);
    if (!link) return;
    lines.push(h("strong", {}, link.name));
    lines.push(
      `${label("linkkind", link.kind)} · ${num(link.one_way_ms, 2)} ms · ${num(link.capacity_gbps, 0)} Gbps`,
    );
    if (link.cut) lines.push(t("link.cut"));
  } else if (hover.kind === "country") {
    const shape = ctx.shapes?.countries.find((c) => c.code === hover.id);
    const row = ctx.countryRows?.get(hover.id);
    const name = lang() === "zh" && shape?.name_zh ? shape.name_zh : (shape?.name ?? hover.id);
    lines.push(h("strong", {}, name));
    if (row) {
      lines.push(`${t("country.income")}: ${label("income", row.income_group)}`);
      lines.push(
        `${t("country.internet")}: ${row.internet_users_pct == null ? "—" : `${num(row.internet_users_pct, 0)} %`}`,
      );
      lines.push(
        `${t("country.best")}: ${
          row.best_site
            ? t("country.bestValue", { site: ctx.siteName(row.best_site), ms: num(row.best_ms, 1) })
            : t("country.none")
        }`,
      );
    }
  }
  put(el, ...lines.map((line) => (line instanceof Node ? line : h("div", {}, line))));
  el.hidden = false;
  const box = el.parentElement.getBoundingClientRect();
  const x = Math.min(hover.x + 14, box.width - el.offsetWidth - 6);
  const y =
    hover.y + 14 + el.offsetHeight > box.height ? hover.y - el.offsetHeight - 10 : hover.y + 14;
  el.style.left = `${Math.max(4, x)}px`;
  el.style.top = `${Math.max(4, y)}px`;
}

// --- the country layer and the legend -----------------------------------------------------

async function shade() {
  if (!ctx.map || !ctx.shapes) return;
  if (ctx.layer === "none") {
    ctx.map.shadeCountries(null);
    renderLegend();
    return;
  }
  if (!ctx.countryRows) {
    try {
      const rows = await ctx.call("v1/map/countries");
      ctx.countryRows = new Map(rows.map((r) => [r.code, r]));
    } catch (err) {
      report(err);
      return;
    }
  }
  const layer = ctx.layer;
  ctx.map.shadeCountries((code) => {
    const row = ctx.countryRows.get(code);
    if (!row) return NO_DATA;
    if (layer === "latency") {
      return row.best_ms == null ? UNREACHABLE : binColour(LATENCY_BINS, row.best_ms);
    }
    return row.internet_users_pct == null
      ? NO_DATA
      : binColour(INTERNET_BINS, row.internet_users_pct);
  });
  $("map").dataset.layer = layer;
  renderLegend();
}

function swatchLine(cls) {
  return s(
    "svg",
    { width: 26, height: 10, "aria-hidden": "true" },
    s("path", { d: "M1,5 C8,0 18,10 25,5", class: `link ${cls}`, "stroke-width": 2 }),
  );
}

function swatchBox(colour) {
  return s(
    "svg",
    { width: 14, height: 10, "aria-hidden": "true" },
    s("rect", { width: 14, height: 10, fill: colour, stroke: "#adb5bd", "stroke-width": 0.5 }),
  );
}

function renderLegend() {
  const body = $("legend-body");
  if (!body) return;
  const rows = [];
  rows.push(h("div", { class: "head" }, t("legend.sites")));
  const stops = [0, 0.25, 0.5, 0.75, 1].map((x) => swatchBox(loadColour(x)));
  rows.push(
    h(
      "div",
      { class: "row" },
      t("legend.idle"),
      ...stops,
      t("legend.full"),
      s(
        "svg",
        { width: 44, height: 16, "aria-hidden": "true" },
        s("circle", { cx: 6, cy: 8, r: 2.5, fill: "#868e96" }),
        s("circle", { cx: 18, cy: 8, r: 4.5, fill: "#868e96" }),
        s("circle", { cx: 34, cy: 8, r: 7, fill: "#868e96" }),
      ),
    ),
    h(
      "div",
      { class: "row" },
      s(
        "svg",
        { width: 14, height: 14, "aria-hidden": "true" },
        s("circle", { cx: 7, cy: 7, r: 5, fill: "#444", stroke: "#c92a2a", "stroke-width": 2 }),
      ),
      t("legend.down"),
    ),
  );
  rows.push(h("div", { class: "head" }, t("legend.links")));
  rows.push(
    h(
      "div",
      { class: "row" },
      swatchLine("kind-terrestrial"),
      t("legend.terrestrial"),
      swatchLine("kind-submarine"),
      t("legend.submarine"),
    ),
    h(
      "div",
      { class: "row" },
      swatchLine("kind-metro"),
      t("legend.metro"),
      swatchLine("kind-satellite"),
      t("legend.satellite"),
      swatchLine("cut"),
      t("legend.cut"),
    ),
    h(
      "div",
      { class: "row" },
      s(
        "svg",
        { width: 10, height: 10, "aria-hidden": "true" },
        s("circle", { cx: 5, cy: 5, r: 2, class: "landing" }),
      ),
      t("legend.landing"),
    ),
  );
  if (ctx.layer !== "none") {
    const bins = ctx.layer === "latency" ? LATENCY_BINS : INTERNET_BINS;
    rows.push(
      h(
        "div",
        { class: "head" },
        t(ctx.layer === "latency" ? "legend.latency" : "legend.internet"),
      ),
    );
    const row = h("div", { class: "row", "data-testid": "legend-layer" });
    for (const bin of bins) row.append(swatchBox(bin.colour), bin.label);
    if (ctx.layer === "latency") row.append(swatchBox(UNREACHABLE), t("legend.unreachable"));
    row.append(swatchBox(NO_DATA), t("legend.noData"));
    rows.push(row);
  }
  if (ctx.tab === "circles" && panels.circlesShown(ctx)) {
    rows.push(h("div", { class: "head" }, t("legend.rings")));
    const row = h("div", { class: "row" });
    for (const r of RINGS) {
      row.append(swatchRing(r), t("circles.ring", { ms: r }));
    }
    rows.push(row);
  }
  rows.push(h("div", { class: "source" }, t("legend.source")));
  put(body, ...rows);
}

function swatchRing(r) {
  const colours = { 1: "#c2255c", 5: "#e8590c", 20: "#1c7ed6" };
  return s(
    "svg",
    { width: 14, height: 14, "aria-hidden": "true" },
    s("circle", { cx: 7, cy: 7, r: 5, fill: "none", stroke: colours[r], "stroke-width": 2.5 }),
  );
}

// --- routing ------------------------------------------------------------------------------

function route() {
  const match = /^#\/task\/([^/?#]+)/.exec(location.hash);
  if (!ctx.token) return;
  if (match) {
    $("dashboard").hidden = true;
    $("task-page").hidden = false;
    tasks.openPage(ctx, decodeURIComponent(match[1]));
  } else {
    tasks.closePage(ctx);
    $("task-page").hidden = true;
    $("dashboard").hidden = false;
  }
}

// --- wiring -------------------------------------------------------------------------------

function renderLangButtons() {
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === lang()));
  }
}

function wire() {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    login($("token").value.trim());
  });
  $("logout").addEventListener("click", () => logout());
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => setLang(b.dataset.lang));
  }
  onLangChange(() => {
    renderLangButtons();
    renderWho();
    renderLegend();
    if (ctx.net) {
      const stats = $("map-stats");
      stats.textContent = t("map.stats", {
        sites: ctx.net.sites.length,
        links: ctx.net.links.length,
        cut: ctx.net.links.filter((l) => l.cut).length,
        time: new Date(ctx.net.at).toISOString().slice(11, 19),
      });
    }
    panels.onLang(ctx);
    tasks.onLang(ctx);
  });
  for (const b of document.querySelectorAll("[role=tab]")) {
    b.addEventListener("click", () => selectTab(b.dataset.tab));
    b.addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
      const tabs = [...document.querySelectorAll("[role=tab]:not([hidden])")];
      const i = tabs.indexOf(b) + (ev.key === "ArrowRight" ? 1 : -1);
      const next = tabs[(i + tabs.length) % tabs.length];
      selectTab(next.dataset.tab);
      next.focus();
    });
  }
  $("layer").addEventListener("change", (ev) => {
    ctx.layer = ev.target.value;
    shade();
  });
  $("show-satellite").addEventListener("change", (ev) => {
    $("map").classList.toggle("hide-satellite", !ev.target.checked);
  });
  $("zoom-in").addEventListener("click", () => ctx.map?.zoomAt(1.6));
  $("zoom-out").addEventListener("click", () => ctx.map?.zoomAt(1 / 1.6));
  $("zoom-reset").addEventListener("click", () => ctx.map?.reset());
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && ctx.selection) select(null, null);
  });
}

applyStatic();
renderLangButtons();
wire();
loadShapes().catch(() => {}); // start the download now; start() reports a failure
login(savedToken(), { silent: true });

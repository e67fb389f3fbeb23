// The side panels: details of a site or a link, latency circles, market and energy, and the
// what-if cut for operators. Each panel keeps its controls (built once) and redraws only its
// results, so a refresh never steals the focus from a select.

import { ApiError } from "./api.js";
import { clear, facts, h, put, s } from "./dom.js";
import { label, lang, money, num, pct, t } from "./i18n.js";
import { RINGS } from "./map.js";

const $ = (id) => document.getElementById(id);
const ACTIVE = new Set(["placed", "dispatched", "running"]);

const local = {
  circles: { site: "", rtt: false, data: null, error: "" },
  energy: { site: "", data: null, windows: null, error: "", loadedFor: "" },
  leases: { rows: null, error: "" },
  whatif: { message: "", error: false, snapshot: null, moves: new Map(), pending: null },
};

function siteOptions(ctx, select, placeholderKey) {
  const current = select.value;
  const sites = [...(ctx.net?.sites ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const key = sites.map((x) => x.id).join(",");
  if (select.dataset.key === key) return;
  select.dataset.key = key;
  put(
    select,
    h("option", { value: "", "data-i18n": placeholderKey }, t(placeholderKey)),
    sites.map((x) => h("option", { value: x.id }, `${x.name} (${x.country})`)),
  );
  select.value = current;
}

function prettyCorridor(id) {
  return id
    .split("-")
    .map((w) => (["el", "of"].includes(w) ? w : w.charAt(0).toUpperCase() + w.slice(1)))
    .join(" ");
}

function srlgName(ctx, srlg) {
  const [kind, id] = srlg.split(":", 2);
  if (kind === "cable") return ctx.net?.cables.find((c) => c.id === id)?.name ?? id;
  if (kind === "corridor") return `${t("whatif.corridor")}: ${prettyCorridor(id)}`;
  return srlg;
}

function errorText(err) {
  return err instanceof ApiError ? err.message : String(err);
}

// --- init and events from app.js ----------------------------------------------------------

export function init(ctx) {
  initCircles(ctx);
  initMarket(ctx);
  initWhatIf(ctx);
  renderDetails(ctx);
}

export function onNetwork(ctx, { cutsChanged }) {
  renderDetails(ctx);
  siteOptions(ctx, $("circle-site"), "circles.pick");
  siteOptions(ctx, $("energy-site"), "energy.pick");
  if (cutsChanged && local.circles.site) loadCircles(ctx);
  if (ctx.tab === "market") {
    renderPrices(ctx);
    loadLeases(ctx);
  }
  if (ctx.isStaff()) renderWhatIf(ctx);
}

export function onTasks(ctx) {
  if (ctx.selection?.kind === "site") renderSiteTasks(ctx);
  trackMoves(ctx);
}

export function onTab(ctx, name) {
  if (name === "circles") ctx.map.setRings(local.circles.data);
  else ctx.map.setRings(null);
  if (name === "market") {
    if (!local.energy.site && ctx.selection?.kind === "site") {
      local.energy.site = ctx.selection.id;
      $("energy-site").value = ctx.selection.id;
    }
    renderPrices(ctx);
    loadLeases(ctx);
    loadEnergy(ctx);
  }
  if (name === "whatif") renderWhatIf(ctx);
}

export function onLang(ctx) {
  renderDetails(ctx);
  renderCircles(ctx);
  renderPrices(ctx);
  renderLeases(ctx);
  renderEnergy(ctx);
  if (ctx.isStaff()) renderWhatIf(ctx);
}

export function circlesShown() {
  return Boolean(local.circles.data);
}

// --- details: a site or a link ------------------------------------------------------------

export function renderDetails(ctx) {
  const panel = $("panel-details");
  const sel = ctx.selection;
  if (!sel || !ctx.net) {
    put(panel, h("p", { class: "empty", "data-testid": "details-empty" }, t("details.empty")));
    return;
  }
  if (sel.kind === "site") renderSite(ctx, panel, ctx.sitesById.get(sel.id));
  else renderLink(ctx, panel, ctx.linksById.get(sel.id));
}

function renderSite(ctx, panel, site) {
  if (!site) {
    put(panel, h("p", { class: "empty" }, t("details.empty")));
    return;
  }
  const pools = h(
    "table",
    { class: "grid", "data-testid": "site-pools" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, t("site.class")),
        h("th", {}, t("site.model")),
        h("th", { class: "num" }, t("site.devices")),
        h("th", { class: "num" }, t("site.online")),
        h("th", { class: "num" }, t("market.price")),
      ),
    ),
    h(
      "tbody",
      {},
      site.pools.map((p) =>
        h(
          "tr",
          {},
          h("td", {}, label("class", p.compute_class)),
          h("td", {}, p.model),
          h("td", { class: "num" }, num(p.count, 0)),
          h("td", { class: "num" }, p.online == null ? "—" : num(p.online, 0)),
          h("td", { class: "num" }, money(p.price_per_unit_hour_micros, p.currency)),
        ),
      ),
    ),
  );
  put(
    panel,
    h(
      "div",
      { "data-testid": "site-panel", "data-site": site.id },
      h("h2", {}, site.name),
      h("p", { class: "sub" }, `${site.id} · ${label("kind", site.kind)}`),
      facts(
        [
          [
            t("site.status"),
            h(
              "span",
              { class: `badge ${site.down ? "down" : "ok"}` },
              t(site.down ? "site.down" : "site.up"),
            ),
          ],
          [
            t("site.where"),
            `${site.city}, ${site.country} (${num(site.lat, 2)}, ${num(site.lon, 2)})`,
          ],
          [t("site.operator"), site.operator],
          [
            t("site.load"),
            `${pct(site.load, 1)} · ${num(site.used_units, 0)} / ${t("unit.units", { n: num(site.capacity_units, 0) })}`,
          ],
          [t("site.running"), num(site.running, 0)],
          [t("site.pue"), num(site.pue, 2)],
          [t("site.zone"), site.grid_zone],
          [t("site.carbon"), `${num(site.carbon_g_per_kwh, 0)} g CO₂/kWh`],
          [t("site.power"), `$${num(site.price_usd_per_mwh, 2)}/MWh · ${label("band", site.band)}`],
        ],
        "site-facts",
      ),
      h("h3", {}, t("site.pools")),
      pools,
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            "data-testid": "site-show-circles",
            onclick: () => {
              ctx.selectTab("circles");
              setCircleSite(ctx, site.id);
            },
          },
          t("site.circles"),
        ),
        h(
          "button",
          {
            type: "button",
            "data-testid": "site-show-energy",
            onclick: () => {
              ctx.selectTab("market");
              setEnergySite(ctx, site.id);
            },
          },
          t("site.energy"),
        ),
      ),
      h("h3", {}, t("site.tasks")),
      h("div", { id: "site-tasks", "data-testid": "site-tasks" }),
    ),
  );
  renderSiteTasks(ctx);
}

function renderSiteTasks(ctx) {
  const box = $("site-tasks");
  const sel = ctx.selection;
  if (!box || sel?.kind !== "site") return;
  if (!ctx.tasks) {
    put(box, h("p", { class: "muted" }, t("tasks.forbidden")));
    return;
  }
  const here = ctx.tasks.filter((x) => x.site === sel.id && ACTIVE.has(x.state));
  if (!here.length) {
    put(box, h("p", { class: "muted" }, t("site.noTasks")));
    return;
  }
  put(
    box,
    h(
      "ul",
      {},
      here
        .slice(0, 12)
        .map((x) =>
          h(
            "li",
            {},
            h("a", { href: `#/task/${encodeURIComponent(x.id)}` }, x.name),
            " ",
            h("span", { class: `badge state-${x.state}` }, label("state", x.state)),
            ` ${x.tenant}`,
          ),
        ),
    ),
  );
}

function renderLink(ctx, panel, link) {
  if (!link) {
    put(panel, h("p", { class: "empty" }, t("details.empty")));
    return;
  }
  const cable = link.cable
    ? (ctx.net.cables.find((c) => c.id === link.cable)?.name ?? link.cable)
    : null;
  put(
    panel,
    h(
      "div",
      { "data-testid": "link-panel", "data-link": link.id },
      h("h2", {}, link.name),
      h("p", { class: "sub" }, `${link.id} · ${label("linkkind", link.kind)}`),
      facts(
        [
          [
            t("link.status"),
            h(
              "span",
              { class: `badge ${link.cut ? "cut" : "ok"}`, "data-testid": "link-status" },
              t(link.cut ? "link.cut" : "link.up"),
            ),
          ],
          [t("link.ends"), `${ctx.siteName(link.a)} ↔ ${ctx.siteName(link.b)}`],
          [
            t("link.latency"),
            t("link.latencyValue", {
              ow: num(link.one_way_ms, 2),
              rtt: num(2 * link.one_way_ms, 2),
            }),
          ],
          [t("link.capacity"), `${num(link.capacity_gbps, 0)} Gbps`],
          [t("link.utilisation"), pct(link.utilisation, 1)],
          [t("link.cable"), cable],
          [
            t("link.corridors"),
            link.corridors.length ? link.corridors.map(prettyCorridor).join(", ") : null,
          ],
        ],
        "link-facts",
      ),
    ),
  );
}

// --- latency circles ----------------------------------------------------------------------

function initCircles(ctx) {
  const select = h("select", {
    id: "circle-site",
    "data-testid": "circle-site",
    onchange: (ev) => setCircleSite(ctx, ev.target.value),
  });
  const mode = h(
    "div",
    { class: "form-row", role: "radiogroup" },
    h("span", { class: "muted", "data-i18n": "circles.mode" }, t("circles.mode")),
    ...[
      ["oneway", false, "circles.oneWay"],
      ["rtt", true, "circles.rtt"],
    ].map(([value, rtt, key]) =>
      h(
        "label",
        {},
        h("input", {
          type: "radio",
          name: "circle-mode",
          value,
          checked: rtt === local.circles.rtt,
          "data-testid": `circle-mode-${value}`,
          onchange: () => {
            local.circles.rtt = rtt;
            loadCircles(ctx);
          },
        }),
        " ",
        h("span", { "data-i18n": key }, t(key)),
      ),
    ),
  );
  put(
    $("panel-circles"),
    h("h2", { "data-i18n": "circles.title" }, t("circles.title")),
    h("p", { class: "sub", "data-i18n": "circles.help" }, t("circles.help")),
    h(
      "div",
      { class: "form-row" },
      h("label", { for: "circle-site", "data-i18n": "circles.site" }, t("circles.site")),
      select,
    ),
    mode,
    h("div", { id: "circle-result", "data-testid": "circle-result" }),
    h("p", { class: "muted", "data-i18n": "circles.tip" }, t("circles.tip")),
  );
}

export function setCircleSite(ctx, id) {
  local.circles.site = id || "";
  $("circle-site").value = local.circles.site;
  if (!id) {
    local.circles.data = null;
    ctx.map.setRings(null);
    renderCircles(ctx);
    ctx.renderLegend();
    return;
  }
  loadCircles(ctx);
}

async function loadCircles(ctx) {
  const c = local.circles;
  if (!c.site) return;
  const site = c.site;
  const rtt = c.rtt;
  try {
    const data = await ctx.call(
      `v1/network/circles/${encodeURIComponent(site)}?rings=${RINGS.join(",")}&rtt=${rtt}`,
    );
    if (site !== c.site || rtt !== c.rtt) return; // a newer choice won
    const first = !c.data || c.data.site !== data.site;
    c.data = data;
    c.error = "";
    if (first && ctx.tab === "circles") {
      const outer = data.rings[data.rings.length - 1]?.sites ?? [];
      const pts = [data.site, ...outer.map((x) => x.site)]
        .map((id) => ctx.sitesById.get(id))
        .filter(Boolean)
        .map((x) => [x.lon, x.lat]);
      ctx.map.fit(pts, 6);
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) ctx.report(err);
    c.data = null;
    c.error = errorText(err);
  }
  if (ctx.tab === "circles") ctx.map.setRings(c.data);
  renderCircles(ctx);
  ctx.renderLegend();
}

function renderCircles(ctx) {
  const box = $("circle-result");
  if (!box) return;
  const c = local.circles;
  if (c.error) {
    put(box, h("p", { class: "message error" }, c.error));
    return;
  }
  if (!c.data) {
    clear(box);
    return;
  }
  const seen = new Set();
  const list = h("ol", { class: "ring-list" });
  c.data.rings.forEach((ring, i) => {
    const ms = RINGS[i] ?? ring.within_ms;
    const fresh = ring.sites.filter((x) => !seen.has(x.site));
    for (const x of ring.sites) seen.add(x.site);
    list.append(
      h(
        "li",
        { "data-testid": `ring-${ms}`, "data-count": ring.sites.length },
        h("span", { class: `swatch ring-${ms}` }),
        h("strong", {}, t("circles.ring", { ms: num(ring.within_ms, 0) })),
        " — ",
        t("circles.count", { n: ring.sites.length }),
        ring.sites.length
          ? h(
              "div",
              { class: "chips" },
              fresh.map((x) =>
                h(
                  "button",
                  {
                    type: "button",
                    class: "chip",
                    title: `${num(x.one_way_ms, 2)} ms one-way · ${num(x.rtt_ms, 2)} ms RTT`,
                    onclick: () => ctx.select("site", x.site),
                  },
                  `${ctx.siteName(x.site)} ${num(c.rtt ? x.rtt_ms : x.one_way_ms, 1)} ms`,
                ),
              ),
            )
          : h("div", { class: "muted" }, t("circles.none")),
      ),
    );
  });
  put(
    box,
    h(
      "p",
      {},
      h("strong", {}, ctx.siteName(c.data.site)),
      ` · ${c.rtt ? t("circles.rtt") : t("circles.oneWay")}`,
    ),
    list,
    h(
      "button",
      { type: "button", "data-testid": "circle-clear", onclick: () => setCircleSite(ctx, "") },
      t("circles.clear"),
    ),
  );
}

// --- market and energy --------------------------------------------------------------------

function initMarket(ctx) {
  const select = h("select", {
    id: "energy-site",
    "data-testid": "energy-site",
    onchange: (ev) => setEnergySite(ctx, ev.target.value),
  });
  put(
    $("panel-market"),
    h("h2", { "data-i18n": "market.prices" }, t("market.prices")),
    h("p", { class: "sub", "data-i18n": "market.pricesHelp" }, t("market.pricesHelp")),
    h("div", { id: "market-prices", "data-testid": "market-prices" }),
    h("h3", { "data-i18n": "market.leases" }, t("market.leases")),
    h("div", { id: "market-leases", "data-testid": "market-leases" }),
    h("h3", { "data-i18n": "energy.title" }, t("energy.title")),
    h(
      "div",
      { class: "form-row" },
      h("label", { for: "energy-site", "data-i18n": "energy.site" }, t("energy.site")),
      select,
    ),
    h("div", { id: "energy", "data-testid": "energy" }),
  );
}

function median(sorted) {
  const n = sorted.length;
  if (!n) return null;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

function renderPrices(ctx) {
  const box = $("market-prices");
  if (!box || !ctx.net) return;
  const byClass = new Map();
  const byModel = new Map();
  let currency = "USD";
  for (const site of ctx.net.sites) {
    for (const p of site.pools) {
      currency = p.currency;
      if (!byClass.has(p.compute_class)) byClass.set(p.compute_class, []);
      byClass.get(p.compute_class).push(p.price_per_unit_hour_micros);
      const key = `${p.compute_class}|${p.model}`;
      if (!byModel.has(key))
        byModel.set(key, { cls: p.compute_class, model: p.model, prices: [], sites: new Set() });
      const m = byModel.get(key);
      m.prices.push(p.price_per_unit_hour_micros);
      m.sites.add(site.id);
    }
  }
  const row = (cells, attrs = {}) => h("tr", attrs, cells);
  const stats = (prices) => {
    const sorted = [...prices].sort((a, b) => a - b);
    return [
      h("td", { class: "num" }, money(sorted[0], currency)),
      h("td", { class: "num" }, money(median(sorted), currency)),
      h("td", { class: "num" }, money(sorted[sorted.length - 1], currency)),
    ];
  };
  const head = (first, second) =>
    h(
      "thead",
      {},
      row([
        h("th", {}, first),
        h("th", { class: "num" }, second),
        h("th", { class: "num" }, t("market.min")),
        h("th", { class: "num" }, t("market.median")),
        h("th", { class: "num" }, t("market.max")),
      ]),
    );
  const classes = [...byClass.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  const models = [...byModel.values()].sort(
    (a, b) => a.cls.localeCompare(b.cls) || a.model.localeCompare(b.model),
  );
  put(
    box,
    h(
      "table",
      { class: "grid", "data-testid": "price-classes" },
      head(t("market.class"), t("market.pools")),
      h(
        "tbody",
        {},
        classes.map(([cls, prices]) =>
          row(
            [
              h("td", {}, label("class", cls)),
              h("td", { class: "num" }, prices.length),
              ...stats(prices),
            ],
            {
              "data-testid": `price-class-${cls}`,
            },
          ),
        ),
      ),
    ),
    h(
      "details",
      {},
      h("summary", {}, t("market.byModel")),
      h(
        "table",
        { class: "grid", "data-testid": "price-models" },
        head(t("market.model"), t("market.sites")),
        h(
          "tbody",
          {},
          models.map((m) =>
            row([
              h("td", {}, `${m.model} (${label("class", m.cls)})`),
              h("td", { class: "num" }, m.sites.size),
              ...stats(m.prices),
            ]),
          ),
        ),
      ),
    ),
  );
}

async function loadLeases(ctx) {
  try {
    local.leases.rows = await ctx.call("v1/leases?limit=8");
    local.leases.error = "";
  } catch (err) {
    local.leases.rows = null;
    local.leases.error =
      err instanceof ApiError && err.status === 403 ? t("market.leasesHidden") : errorText(err);
    if (err instanceof ApiError && err.status === 401) ctx.report(err);
  }
  renderLeases(ctx);
}

function renderLeases(ctx) {
  const box = $("market-leases");
  if (!box) return;
  if (local.leases.error) {
    put(box, h("p", { class: "muted" }, local.leases.error));
    return;
  }
  const rows = local.leases.rows;
  if (!rows) return;
  if (!rows.length) {
    put(box, h("p", { class: "muted" }, t("market.noLeases")));
    return;
  }
  put(
    box,
    h(
      "table",
      { class: "grid" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, t("market.task")),
          h("th", {}, t("market.site")),
          h("th", { class: "num" }, t("market.price")),
          h("th", {}, t("market.state")),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((l) =>
          h(
            "tr",
            { title: `${num(l.units_milli / 1000, 1)} ${t("market.units")}` },
            h(
              "td",
              {},
              h("a", { href: `#/task/${encodeURIComponent(l.task)}` }, l.task.slice(0, 10)),
            ),
            h("td", { class: "clip", title: ctx.siteName(l.site) }, ctx.siteName(l.site)),
            h("td", { class: "num" }, money(l.price_micros_per_unit_hour, l.currency)),
            h("td", { title: l.close_reason ?? "" }, l.state),
          ),
        ),
      ),
    ),
  );
}

export function setEnergySite(ctx, id) {
  local.energy.site = id || "";
  $("energy-site").value = local.energy.site;
  loadEnergy(ctx);
}

async function loadEnergy(ctx) {
  const e = local.energy;
  if (!e.site) {
    renderEnergy(ctx);
    return;
  }
  const hourKey = `${e.site}@${new Date().toISOString().slice(0, 13)}`;
  if (e.loadedFor === hourKey && e.data) {
    renderEnergy(ctx);
    return;
  }
  const site = encodeURIComponent(e.site);
  try {
    const [data, windows] = await Promise.all([
      ctx.call(`v1/energy/sites/${site}?hours=24`),
      ctx.call(`v1/energy/windows?site=${site}&hours=24&duration_h=4`),
    ]);
    if (`${e.site}@${new Date().toISOString().slice(0, 13)}` !== hourKey) return;
    e.data = data;
    e.windows = windows;
    e.error = "";
    e.loadedFor = hourKey;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) ctx.report(err);
    e.data = null;
    e.windows = null;
    e.error = errorText(err);
  }
  renderEnergy(ctx);
}

const BAND_COLOURS = {
  "critical-peak": "#7f0000",
  peak: "#d7301f",
  flat: "#fdbb84",
  valley: "#74add1",
  "deep-valley": "#313695",
};

function carbonColour(x) {
  // low (green) to high (brown), x in 0..1
  const a = [0x74, 0xc4, 0x76];
  const b = [0xa0, 0x52, 0x2d];
  return `rgb(${a.map((v, i) => Math.round(v + (b[i] - v) * x)).join(",")})`;
}

function renderEnergy(ctx) {
  const box = $("energy");
  if (!box) return;
  const e = local.energy;
  if (!e.site) {
    put(box, h("p", { class: "muted" }, t("energy.pick")));
    return;
  }
  if (e.error) {
    put(box, h("p", { class: "message error" }, e.error));
    return;
  }
  if (!e.data) return;
  const hours = e.data.hours;
  const W = 360;
  const H = 150;
  const L = 30;
  const R = 30;
  const T = 14;
  const B = 30;
  const plotW = W - L - R;
  const plotH = H - T - B;
  const bw = plotW / hours.length;
  const maxC = Math.max(...hours.map((x) => x.intensity_g_per_kwh), 1);
  const minC = Math.min(...hours.map((x) => x.intensity_g_per_kwh));
  const maxP = Math.max(...hours.map((x) => x.price_usd_per_mwh), 1);
  const t0 = new Date(hours[0].start).getTime();
  const xOf = (iso) => L + ((new Date(iso).getTime() - t0) / 3600e3) * bw;
  const svg = s("svg", {
    class: "energy-strip",
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": t("energy.title"),
    "data-testid": "energy-strip",
  });
  const ws = e.windows;
  for (const w of ws?.windows ?? []) {
    svg.append(
      s(
        "rect",
        {
          class: "window",
          x: xOf(w.start),
          y: T - 10,
          width: Math.max(1, xOf(w.end) - xOf(w.start)),
          height: plotH + 10,
          "data-testid": "green-window",
        },
        s("title", {
          text: `${t("energy.window")}: ${w.start.slice(11, 16)}–${w.end.slice(11, 16)} UTC`,
        }),
      ),
    );
  }
  hours.forEach((x, i) => {
    const hgt = (x.intensity_g_per_kwh / maxC) * plotH;
    const rel = maxC > minC ? (x.intensity_g_per_kwh - minC) / (maxC - minC) : 0.5;
    svg.append(
      s(
        "rect",
        {
          x: L + i * bw + 0.5,
          y: T + plotH - hgt,
          width: bw - 1,
          height: hgt,
          fill: carbonColour(rel),
        },
        s("title", {
          text: `${x.start.slice(11, 16)} UTC: ${num(x.intensity_g_per_kwh, 0)} g CO₂/kWh · $${num(x.price_usd_per_mwh, 2)}/MWh · ${label("band", x.band)}`,
        }),
      ),
      s("rect", {
        x: L + i * bw,
        y: T + plotH + 2,
        width: bw,
        height: 6,
        fill: BAND_COLOURS[x.band] ?? "#ced4da",
      }),
    );
    if (i % 3 === 0) {
      svg.append(s("text", { x: L + i * bw, y: H - 8 }, x.start.slice(11, 13)));
    }
  });
  const line = hours
    .map(
      (x, i) =>
        `${i ? "L" : "M"}${(L + (i + 0.5) * bw).toFixed(1)},${(T + plotH - (x.price_usd_per_mwh / maxP) * plotH).toFixed(1)}`,
    )
    .join("");
  svg.append(s("path", { class: "price-line", d: line }));
  for (const [block, cls] of [
    [ws?.greenest, "greenest"],
    [ws?.cheapest, "cheapest"],
  ]) {
    if (!block) continue;
    svg.append(
      s("rect", {
        class: cls,
        x: xOf(block.start),
        y: T - 2,
        width: Math.max(1, xOf(block.end) - xOf(block.start)),
        height: plotH + 4,
        "data-testid": `energy-${cls}`,
      }),
    );
  }
  svg.append(
    s("text", { x: 2, y: T + 4 }, num(maxC, 0)),
    s("text", { x: 2, y: T + plotH }, "0"),
    s("text", { x: W - R + 3, y: T + 4 }, `$${num(maxP, 0)}`),
    s("text", { x: W - R + 3, y: T + plotH }, "$0"),
    s("text", { x: L, y: H - 0.5 }, "UTC"),
  );
  const windows = ws?.windows ?? [];
  put(
    box,
    h("p", { class: "muted" }, t("energy.zone", { zone: e.data.zone, pue: num(e.data.pue, 2) })),
    svg,
    h(
      "div",
      { class: "key" },
      h("span", { class: "k-carbon" }, t("energy.carbon")),
      h("span", { class: "k-price" }, t("energy.price")),
      h("span", { class: "k-window" }, t("energy.window")),
      h("span", { class: "k-greenest" }, t("energy.greenest", { h: ws?.greenest?.hours ?? 4 })),
      h("span", { class: "k-cheapest" }, t("energy.cheapest", { h: ws?.cheapest?.hours ?? 4 })),
    ),
    h(
      "div",
      { class: "key" },
      Object.entries(BAND_COLOURS).map(([band, colour]) => {
        const el = h("span", {}, label("band", band));
        el.style.setProperty("--c", colour);
        el.classList.add("k-band");
        return el;
      }),
    ),
    h(
      "p",
      { "data-testid": "energy-windows" },
      windows.length
        ? t("energy.windows", {
            list: windows
              .map((w) => `${w.start.slice(11, 16)}–${w.end.slice(11, 16)} UTC`)
              .join(", "),
          })
        : t("energy.noWindow"),
      ws ? ` (${t("energy.threshold", { g: num(ws.threshold_g_per_kwh, 0) })})` : "",
    ),
  );
}

// --- what-if ------------------------------------------------------------------------------

function initWhatIf(ctx) {
  const cable = h("select", { id: "whatif-cable-select", "data-testid": "whatif-cable-select" });
  const corridor = h("select", {
    id: "whatif-corridor-select",
    "data-testid": "whatif-corridor-select",
  });
  put(
    $("panel-whatif"),
    h("h2", { "data-i18n": "whatif.title" }, t("whatif.title")),
    h("p", { class: "sub", "data-i18n": "whatif.help" }, t("whatif.help")),
    h(
      "div",
      { class: "form-row" },
      h("label", { for: "whatif-cable-select", "data-i18n": "whatif.cable" }, t("whatif.cable")),
      cable,
      h(
        "button",
        {
          type: "button",
          class: "danger",
          "data-testid": "whatif-cut-cable",
          "data-i18n": "whatif.cutCable",
          onclick: () => cable.value && cut(ctx, { cables: [cable.value] }),
        },
        t("whatif.cutCable"),
      ),
    ),
    h(
      "div",
      { class: "form-row" },
      h(
        "label",
        { for: "whatif-corridor-select", "data-i18n": "whatif.corridor" },
        t("whatif.corridor"),
      ),
      corridor,
      h(
        "button",
        {
          type: "button",
          class: "danger",
          "data-testid": "whatif-cut-corridor",
          "data-i18n": "whatif.cutCorridor",
          onclick: () => corridor.value && cut(ctx, { corridors: [corridor.value] }),
        },
        t("whatif.cutCorridor"),
      ),
    ),
    h("div", { id: "whatif-message", "data-testid": "whatif-message", role: "status" }),
    h("h3", { "data-i18n": "whatif.cuts" }, t("whatif.cuts")),
    h("div", { id: "whatif-cuts", "data-testid": "whatif-cuts" }),
    h("h3", { "data-i18n": "whatif.moved" }, t("whatif.moved")),
    h("div", { id: "whatif-moves", "data-testid": "whatif-moves" }),
  );
}

function fillOptions(select, items) {
  const key = items.map(([v]) => v).join(",");
  if (select.dataset.key === key && select.dataset.lang === lang()) return;
  const current = select.value;
  select.dataset.key = key;
  select.dataset.lang = lang();
  put(
    select,
    h("option", { value: "" }, t("whatif.choose")),
    items.map(([v, text]) => h("option", { value: v }, text)),
  );
  select.value = current;
}

async function cut(ctx, body) {
  const w = local.whatif;
  w.snapshot = new Map((ctx.tasks ?? []).map((x) => [x.id, { site: x.site, state: x.state }]));
  w.moves = new Map();
  try {
    const out = await ctx.call("v1/network/cuts", { method: "POST", body });
    w.message = { key: "whatif.requested", params: { key: out.key } };
    w.error = false;
    w.pending = { key: out.key, restore: false };
    const cables = new Set(body.cables ?? []);
    const corridors = new Set(body.corridors ?? []);
    const pts = ctx.net.links
      .filter((l) => (l.cable && cables.has(l.cable)) || l.corridors.some((x) => corridors.has(x)))
      .flatMap((l) => l.coords);
    ctx.map.fit(pts, 6);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) ctx.report(err);
    w.message = errorText(err);
    w.error = true;
  }
  renderWhatIf(ctx);
  ctx.fast();
}

async function restore(ctx, key) {
  const w = local.whatif;
  try {
    await ctx.call(`v1/network/cuts/${encodeURIComponent(key)}`, { method: "DELETE" });
    w.message = { key: "whatif.restoring", params: {} };
    w.error = false;
    w.pending = { key, restore: true };
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) ctx.report(err);
    w.message = errorText(err);
    w.error = true;
  }
  renderWhatIf(ctx);
  ctx.fast();
}

function linksOfCut(ctx, c) {
  const explicit = new Set(c.links);
  const cables = new Set(c.srlgs.filter((x) => x.startsWith("cable:")).map((x) => x.slice(6)));
  const corridors = new Set(
    c.srlgs.filter((x) => x.startsWith("corridor:")).map((x) => x.slice(9)),
  );
  return ctx.net.links.filter(
    (l) =>
      explicit.has(l.id) ||
      (l.cable && cables.has(l.cable)) ||
      l.corridors.some((x) => corridors.has(x)),
  );
}

function renderWhatIf(ctx) {
  const panel = $("panel-whatif");
  if (!panel || !ctx.net) return;
  if (!ctx.isStaff()) {
    put(panel, h("p", { class: "muted" }, t("whatif.forbidden")));
    return;
  }
  const cables = [...ctx.net.cables].sort((a, b) => a.name.localeCompare(b.name));
  fillOptions(
    $("whatif-cable-select"),
    cables.map((c) => [c.id, c.name]),
  );
  fillOptions(
    $("whatif-corridor-select"),
    ctx.net.corridors.map((c) => [c, prettyCorridor(c)]),
  );
  const w = local.whatif;
  const cuts = ctx.net.cuts;
  if (w.pending) {
    // the runtime took the request once the cut shows up in (or leaves) the network
    const found = cuts.find((c) => c.key === w.pending.key);
    if (w.pending.restore && !found) {
      w.message = { key: "whatif.restored", params: {} };
      w.pending = null;
    } else if (!w.pending.restore && found) {
      const n = linksOfCut(ctx, found).filter((l) => l.cut).length;
      w.message = { key: "whatif.applied", params: { n } };
      w.pending = null;
    }
  }
  const msg = $("whatif-message");
  const text = typeof w.message === "string" ? w.message : t(w.message.key, w.message.params);
  if (w.message) put(msg, h("p", { class: `message${w.error ? " error" : ""}` }, text));
  else clear(msg);
  put(
    $("whatif-cuts"),
    cuts.length
      ? h(
          "ul",
          {},
          cuts.map((c) => {
            const links = linksOfCut(ctx, c);
            const names = [...c.srlgs.map((x) => srlgName(ctx, x)), ...c.links];
            return h(
              "li",
              { "data-testid": "whatif-cut", "data-key": c.key },
              h("strong", {}, names.join(", ")),
              ` — ${t("whatif.linksCut", { n: links.filter((l) => l.cut).length })} `,
              h(
                "button",
                {
                  type: "button",
                  class: "primary",
                  "data-testid": "whatif-restore",
                  "data-key": c.key,
                  onclick: () => restore(ctx, c.key),
                },
                t("whatif.restore"),
              ),
              h(
                "div",
                { class: "muted" },
                links
                  .map((l) => l.id)
                  .slice(0, 12)
                  .join(", "),
              ),
            );
          }),
        )
      : h("p", { class: "muted", "data-testid": "whatif-none" }, t("whatif.none")),
  );
  renderMoves(ctx);
}

function trackMoves(ctx) {
  const w = local.whatif;
  if (!w.snapshot || !ctx.tasks) return;
  for (const x of ctx.tasks) {
    const before = w.snapshot.get(x.id);
    if (!before) continue;
    const moved = before.site && x.site && before.site !== x.site;
    const requeued = ACTIVE.has(before.state) && ["queued", "rescheduling"].includes(x.state);
    if (moved || requeued || x.state === "rescheduling") {
      w.moves.set(x.id, { name: x.name, from: before.site, to: x.site, state: x.state });
    }
  }
  if (ctx.isStaff()) renderMoves(ctx);
}

function renderMoves(ctx) {
  const box = $("whatif-moves");
  if (!box) return;
  const moves = [...local.whatif.moves.entries()];
  if (!moves.length) {
    put(box, h("p", { class: "muted" }, t("whatif.noMoves")));
    return;
  }
  put(
    box,
    h(
      "ul",
      {},
      moves
        .slice(0, 30)
        .map(([id, m]) =>
          h(
            "li",
            { "data-testid": "whatif-move" },
            h("a", { href: `#/task/${encodeURIComponent(id)}` }, m.name),
            `: ${ctx.siteName(m.from)} → ${m.to ? ctx.siteName(m.to) : "—"} `,
            h("span", { class: `badge state-${m.state}` }, label("state", m.state)),
          ),
        ),
    ),
  );
}

// The world map in SVG: an equirectangular projection (x = longitude, y = latitude), pan with
// the pointer, zoom with the wheel or the buttons. Countries (Natural Earth), network links
// (great-circle arcs, split at the antimeridian), cable landing points and sites (area by
// capacity on a log scale, colour by load). Latency circles are drawn as rounded hulls around
// the sites of each ring. Everything is keyed by id and updated in place on each refresh.

import { s } from "./dom.js";

const W = 1000;
const H = 500;
const HOME = { x: 0, y: 14, w: 1000, h: 400 }; // latitude 85 N to 59 S: no Antarctica
const MAX_ZOOM = 40;
const RAD = Math.PI / 180;
export const RINGS = [1, 5, 20];

export function project(lon, lat) {
  return [((lon + 180) / 360) * W, ((90 - lat) / 180) * H];
}

const fmt = (v) => (Math.round(v * 100) / 100).toString();

/** Points along the great circle from a to b ([lon, lat] degrees), longitudes unwrapped so
 * that consecutive points never jump by more than 180 degrees. */
export function greatCircle(a, b, stepDeg = 2) {
  const vec = ([lon, lat]) => [
    Math.cos(lat * RAD) * Math.cos(lon * RAD),
    Math.cos(lat * RAD) * Math.sin(lon * RAD),
    Math.sin(lat * RAD),
  ];
  const va = vec(a);
  const vb = vec(b);
  const dot = Math.min(1, Math.max(-1, va[0] * vb[0] + va[1] * vb[1] + va[2] * vb[2]));
  const angle = Math.acos(dot);
  const pts = [[a[0], a[1]]];
  const n = angle < 1e-9 ? 1 : Math.max(1, Math.ceil(angle / RAD / stepDeg));
  for (let i = 1; i <= n; i += 1) {
    let lon;
    let lat;
    if (i === n || angle < 1e-9) {
      [lon, lat] = b;
    } else {
      const t = i / n;
      const k1 = Math.sin((1 - t) * angle) / Math.sin(angle);
      const k2 = Math.sin(t * angle) / Math.sin(angle);
      const v = [0, 1, 2].map((j) => k1 * va[j] + k2 * vb[j]);
      lon = Math.atan2(v[1], v[0]) / RAD;
      lat = Math.asin(Math.max(-1, Math.min(1, v[2]))) / RAD;
    }
    const prev = pts[pts.length - 1][0];
    while (lon - prev > 180) lon -= 360;
    while (lon - prev < -180) lon += 360;
    pts.push([lon, lat]);
  }
  return pts;
}

function pathOf(points, shift = 0) {
  return points
    .map(([lon, lat], i) => {
      const [x, y] = project(lon + shift, lat);
      return `${i ? "L" : "M"}${fmt(x)},${fmt(y)}`;
    })
    .join("");
}

/** The path of a link and, when it crosses the antimeridian, the copy on the other side. */
function linkPaths(coords) {
  const pts = greatCircle(coords[0], coords[1]);
  const lons = pts.map((p) => p[0]);
  const out = [pathOf(pts)];
  if (Math.max(...lons) > 180) out.push(pathOf(pts, -360));
  if (Math.min(...lons) < -180) out.push(pathOf(pts, 360));
  return out;
}

function ringPath(ring) {
  let d = "";
  let prev = null;
  for (const [lon, lat] of ring) {
    const [x, y] = project(lon, lat);
    d += `${prev === null ? "M" : "L"}${fmt(x)},${fmt(y)}`;
    prev = x;
  }
  return `${d}Z`;
}

/** Convex hull (monotone chain) of [x, y] points. */
function hull(points) {
  const pts = [...points].sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  if (pts.length < 3) return pts;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) {
      lower.pop();
    }
    lower.push(p);
  }
  const upper = [];
  for (const p of pts.reverse()) {
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) {
      upper.pop();
    }
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

// --- colour scales ------------------------------------------------------------------------

function mix(c1, c2, t) {
  const a = [1, 3, 5].map((i) => parseInt(c1.slice(i, i + 2), 16));
  const b = [1, 3, 5].map((i) => parseInt(c2.slice(i, i + 2), 16));
  return `#${a
    .map((v, i) =>
      Math.round(v + (b[i] - v) * t)
        .toString(16)
        .padStart(2, "0"),
    )
    .join("")}`;
}

/** Load 0..1: green, yellow at a half, red when full. */
export function loadColour(load) {
  const x = Math.max(0, Math.min(1, Number(load) || 0));
  return x < 0.5 ? mix("#1a9850", "#fee08b", x / 0.5) : mix("#fee08b", "#d73027", (x - 0.5) / 0.5);
}

export const LATENCY_BINS = [
  { max: 2, colour: "#1a9850", label: "< 2" },
  { max: 5, colour: "#91cf60", label: "2–5" },
  { max: 10, colour: "#d9ef8b", label: "5–10" },
  { max: 20, colour: "#fee08b", label: "10–20" },
  { max: 40, colour: "#fc8d59", label: "20–40" },
  { max: Infinity, colour: "#d73027", label: "≥ 40" },
];

export const INTERNET_BINS = [
  { max: 20, colour: "#f0f9e8", label: "< 20" },
  { max: 40, colour: "#bae4bc", label: "20–40" },
  { max: 60, colour: "#7bccc4", label: "40–60" },
  { max: 80, colour: "#43a2ca", label: "60–80" },
  { max: Infinity, colour: "#0868ac", label: "≥ 80" },
];

export const NO_DATA = "#d9d9d9";
export const UNREACHABLE = "#7f2704";

export function binColour(bins, value) {
  if (value === null || value === undefined) return null;
  return bins.find((b) => value < b.max).colour;
}

// --- the map ------------------------------------------------------------------------------

export class WorldMap {
  /**
   * @param {SVGSVGElement} svg
   * @param {{onSelect: Function, onHover: Function}} handlers
   */
  constructor(svg, handlers) {
    this.svg = svg;
    this.handlers = handlers;
    this.view = { ...HOME };
    this.sites = new Map(); // id -> {el, data, r0}
    this.links = new Map(); // id -> {els: [path...], hits: [path...], data}
    this.countries = new Map(); // code -> path
    this.selected = null;
    this.capRange = [1, 1];
    this.layers = {};
    for (const name of [
      "ocean",
      "countries",
      "rings",
      "hits",
      "links",
      "cut",
      "landing",
      "sites",
    ]) {
      this.layers[name] = s("g", { class: `layer-${name}` });
      svg.append(this.layers[name]);
    }
    this.layers.ocean.append(
      s("rect", { class: "ocean", x: -W, y: -H, width: 3 * W, height: 3 * H }),
      s("path", { class: "graticule", d: this.graticule() }),
    );
    this.applyView();
    this.installPanZoom();
  }

  graticule() {
    let d = "";
    for (let lon = -180; lon <= 180; lon += 30) {
      const [x] = project(lon, 0);
      d += `M${fmt(x)},0V${H}`;
    }
    for (let lat = -60; lat <= 80; lat += 20) {
      const [, y] = project(0, lat);
      d += `M0,${fmt(y)}H${W}`;
    }
    return d;
  }

  // --- view ---

  get zoom() {
    return HOME.w / this.view.w;
  }

  applyView() {
    const v = this.view;
    this.svg.setAttribute("viewBox", `${fmt(v.x)} ${fmt(v.y)} ${fmt(v.w)} ${fmt(v.h)}`);
    const k = this.zoom;
    this.svg.dataset.zoom = k.toFixed(2);
    for (const site of this.sites.values()) site.el.setAttribute("r", fmt(site.r0 / k ** 0.75));
    for (const lp of this.layers.landing.children) lp.setAttribute("r", fmt(0.9 / k ** 0.75));
  }

  clampView() {
    const v = this.view;
    v.x = Math.max(-v.w * 0.5, Math.min(W - v.w * 0.5, v.x));
    v.y = Math.max(-v.h * 0.5, Math.min(H - v.h * 0.5, v.y));
  }

  zoomAt(factor, cx, cy) {
    const v = this.view;
    const k = Math.max(1, Math.min(MAX_ZOOM, this.zoom * factor));
    const w = HOME.w / k;
    const h = HOME.h / k;
    const px = cx ?? v.x + v.w / 2;
    const py = cy ?? v.y + v.h / 2;
    v.x = px - ((px - v.x) * w) / v.w;
    v.y = py - ((py - v.y) * h) / v.h;
    v.w = w;
    v.h = h;
    if (k === 1) Object.assign(v, HOME);
    this.clampView();
    this.applyView();
  }

  reset() {
    this.view = { ...HOME };
    this.applyView();
  }

  /** Centre the view on a point and zoom in at least to `k`. */
  focus(lon, lat, k = 3) {
    const [x, y] = project(lon, lat);
    const z = Math.max(this.zoom, k);
    const v = this.view;
    v.w = HOME.w / z;
    v.h = HOME.h / z;
    v.x = x - v.w / 2;
    v.y = y - v.h / 2;
    this.clampView();
    this.applyView();
  }

  /** Zoom to show every [lon, lat] point (with a margin), at most to `maxK`. */
  fit(points, maxK = 8) {
    if (!points.length) return;
    const xy = points.map(([lon, lat]) => project(lon, lat));
    let [x0, x1] = [Math.min(...xy.map((p) => p[0])), Math.max(...xy.map((p) => p[0]))];
    if (x1 - x0 > W / 2) {
      // across the antimeridian: shift the western points east
      const shifted = xy.map(([x, y]) => [x < W / 2 ? x + W : x, y]);
      x0 = Math.min(...shifted.map((p) => p[0]));
      x1 = Math.max(...shifted.map((p) => p[0]));
    }
    const y0 = Math.min(...xy.map((p) => p[1]));
    const y1 = Math.max(...xy.map((p) => p[1]));
    const pad = 0.25;
    const w = Math.max(
      (x1 - x0) * (1 + 2 * pad),
      (y1 - y0) * (1 + 2 * pad) * (HOME.w / HOME.h),
      HOME.w / maxK,
    );
    const k = Math.max(1, Math.min(MAX_ZOOM, HOME.w / w));
    const v = this.view;
    v.w = HOME.w / k;
    v.h = HOME.h / k;
    v.x = (x0 + x1) / 2 - v.w / 2;
    v.y = (y0 + y1) / 2 - v.h / 2;
    if (x1 > W) v.x = Math.min(v.x, W - v.w * 0.5);
    this.clampView();
    this.applyView();
  }

  toMap(clientX, clientY) {
    const pt = this.svg.createSVGPoint();
    pt.x = clientX;
    pt.y = clientY;
    const m = this.svg.getScreenCTM();
    if (!m) return [this.view.x, this.view.y];
    const p = pt.matrixTransform(m.inverse());
    return [p.x, p.y];
  }

  installPanZoom() {
    const svg = this.svg;
    let start = null;
    let dragged = false;
    svg.addEventListener(
      "wheel",
      (ev) => {
        ev.preventDefault();
        const [x, y] = this.toMap(ev.clientX, ev.clientY);
        this.zoomAt(Math.exp(-ev.deltaY * 0.0015), x, y);
      },
      { passive: false },
    );
    svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      start = { x: ev.clientX, y: ev.clientY, view: { ...this.view }, id: ev.pointerId };
      dragged = false;
    });
    svg.addEventListener("pointermove", (ev) => {
      if (!start || ev.pointerId !== start.id) return;
      const dx = ev.clientX - start.x;
      const dy = ev.clientY - start.y;
      if (!dragged && Math.hypot(dx, dy) < 5) return;
      if (!dragged) {
        dragged = true;
        svg.setPointerCapture(ev.pointerId);
        svg.classList.add("dragging");
      }
      const m = svg.getScreenCTM();
      const scale = m ? 1 / m.a : 1;
      this.view.x = start.view.x - dx * scale;
      this.view.y = start.view.y - dy * scale;
      this.clampView();
      this.applyView();
    });
    const end = (ev) => {
      if (start && ev.pointerId === start.id) {
        start = null;
        svg.classList.remove("dragging");
      }
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    // a drag is not a click
    svg.addEventListener(
      "click",
      (ev) => {
        if (dragged) {
          ev.stopPropagation();
          dragged = false;
        }
      },
      true,
    );
    svg.addEventListener("pointerleave", () => this.handlers.onHover(null));
  }

  // --- countries ---

  setShapes(countries, nameOf) {
    const layer = this.layers.countries;
    for (const c of countries) {
      if (c.code === "AQ") continue; // no one to serve, and below the map's southern edge
      const d = c.rings.map(ringPath).join("");
      const el = s("path", { d, class: "country", "data-code": c.code });
      el.addEventListener("pointerenter", (ev) => this.hover(ev, "country", c.code));
      el.addEventListener("pointermove", (ev) => this.hover(ev, "country", c.code));
      layer.append(el);
      this.countries.set(c.code, el);
    }
    this.countryName = nameOf;
  }

  /** Shade countries: fill(code) -> colour or null (plain land). */
  shadeCountries(fill) {
    for (const [code, el] of this.countries) {
      const colour = fill ? fill(code) : null;
      // a style, not the fill attribute: the stylesheet's land colour would win over that
      if (colour) el.style.fill = colour;
      else el.style.removeProperty("fill");
      el.dataset.fill = colour ?? "";
      el.classList.toggle("shaded", Boolean(colour));
    }
  }

  // --- network ---

  setNetwork(net) {
    const caps = net.sites.map((x) => Math.max(1, x.capacity_units));
    this.capRange = [Math.log10(Math.min(...caps)), Math.log10(Math.max(...caps))];
    this.updateLandingPoints(net.landing_points);
    this.updateLinks(net.links);
    this.updateSites(net.sites);
    this.applyView();
  }

  radius(capacity) {
    const [lo, hi] = this.capRange;
    const t = hi > lo ? (Math.log10(Math.max(1, capacity)) - lo) / (hi - lo) : 0.5;
    return 1.6 + 5.4 * Math.sqrt(Math.max(0, t));
  }

  updateSites(sites) {
    const layer = this.layers.sites;
    const seen = new Set();
    let reorder = false;
    for (const site of sites) {
      seen.add(site.id);
      let entry = this.sites.get(site.id);
      if (!entry) {
        reorder = true;
        const el = s("circle", { class: "site", "data-testid": `site-${site.id}`, tabindex: 0 });
        el.addEventListener("click", () => this.handlers.onSelect("site", site.id));
        el.addEventListener("keydown", (ev) => {
          if (ev.key === "Enter" || ev.key === " ") {
            ev.preventDefault();
            this.handlers.onSelect("site", site.id);
          }
        });
        el.addEventListener("pointerenter", (ev) => this.hover(ev, "site", site.id));
        el.addEventListener("pointermove", (ev) => this.hover(ev, "site", site.id));
        el.append(s("title"));
        entry = { el };
        this.sites.set(site.id, entry);
      }
      const [x, y] = project(site.lon, site.lat);
      entry.data = site;
      const r0 = this.radius(site.capacity_units);
      if (r0 !== entry.r0) reorder = true;
      entry.r0 = r0;
      const el = entry.el;
      el.setAttribute("cx", fmt(x));
      el.setAttribute("cy", fmt(y));
      el.setAttribute("fill", site.down ? "#444444" : loadColour(site.load));
      el.setAttribute("aria-label", site.name);
      el.dataset.load = String(site.load);
      el.dataset.kind = site.kind;
      el.classList.toggle("down", Boolean(site.down));
      el.firstChild.textContent = site.name;
    }
    for (const [id, entry] of this.sites) {
      if (!seen.has(id)) {
        entry.el.remove();
        this.sites.delete(id);
      }
    }
    if (reorder) {
      // the smallest on top, so that every site can be clicked
      const order = [...this.sites.values()].sort((a, b) => b.r0 - a.r0);
      for (const entry of order) layer.append(entry.el);
    }
    this.markSelected();
  }

  updateLinks(links) {
    const seen = new Set();
    for (const link of links) {
      seen.add(link.id);
      let entry = this.links.get(link.id);
      const key = link.coords.flat().join(",");
      if (!entry || entry.key !== key) {
        if (entry) for (const el of [...entry.els, ...entry.hits]) el.remove();
        const paths = linkPaths(link.coords);
        const width = 0.5 + 0.35 * Math.log10(Math.max(1, link.capacity_gbps));
        const els = paths.map((d, i) => {
          const el = s("path", {
            d,
            class: `link kind-${link.kind}`,
            "stroke-width": fmt(width),
          });
          if (i === 0) el.dataset.testid = `link-${link.id}`;
          else el.dataset.ghost = link.id;
          el.append(s("title", { text: link.name }));
          return el;
        });
        const hits = paths.map((d) => s("path", { d, class: `link-hit kind-${link.kind}` }));
        for (const el of [...els, ...hits]) {
          el.addEventListener("click", () => this.handlers.onSelect("link", link.id));
          el.addEventListener("pointerenter", (ev) => this.hover(ev, "link", link.id));
          el.addEventListener("pointermove", (ev) => this.hover(ev, "link", link.id));
        }
        for (const hit of hits) this.layers.hits.append(hit);
        entry = { els, hits, key, cut: null };
        this.links.set(link.id, entry);
      }
      entry.data = link;
      const cut = Boolean(link.cut);
      if (entry.cut !== cut) {
        entry.cut = cut;
        for (const el of entry.els) {
          el.classList.toggle("cut", cut);
          el.dataset.cut = String(cut);
          (cut ? this.layers.cut : this.layers.links).append(el);
        }
      }
      for (const el of entry.els) {
        el.classList.toggle("busy", link.utilisation >= 0.8);
        el.dataset.utilisation = String(link.utilisation);
      }
    }
    for (const [id, entry] of this.links) {
      if (!seen.has(id)) {
        for (const el of [...entry.els, ...entry.hits]) el.remove();
        this.links.delete(id);
      }
    }
    this.markSelected();
  }

  updateLandingPoints(points) {
    const layer = this.layers.landing;
    if (layer.childElementCount === points.length) return;
    while (layer.firstChild) layer.firstChild.remove();
    for (const lp of points) {
      const [x, y] = project(lp.lon, lp.lat);
      layer.append(
        s(
          "circle",
          { class: "landing", cx: fmt(x), cy: fmt(y), r: 0.9 },
          s("title", { text: lp.name }),
        ),
      );
    }
  }

  // --- selection, hover, rings ---

  select(kind, id) {
    this.selected = kind ? { kind, id } : null;
    this.markSelected();
  }

  markSelected() {
    for (const el of this.svg.querySelectorAll(".selected")) el.classList.remove("selected");
    if (!this.selected) return;
    const { kind, id } = this.selected;
    if (kind === "site") this.sites.get(id)?.el.classList.add("selected");
    if (kind === "link")
      for (const el of this.links.get(id)?.els ?? []) el.classList.add("selected");
  }

  hover(ev, kind, id) {
    const box = this.svg.getBoundingClientRect();
    this.handlers.onHover({ kind, id, x: ev.clientX - box.left, y: ev.clientY - box.top });
  }

  /** Latency circles: {site, rings: [{within_ms, sites: [{site}]}]} or null to clear. */
  setRings(circles) {
    const layer = this.layers.rings;
    while (layer.firstChild) layer.firstChild.remove();
    for (const entry of this.sites.values()) {
      entry.el.classList.remove("ring-center", ...RINGS.map((r) => `ring-${r}`));
    }
    if (!circles) return;
    const centre = this.sites.get(circles.site);
    if (!centre) return;
    const [cx, cy] = project(centre.data.lon, centre.data.lat);
    centre.el.classList.add("ring-center");
    const inner = new Set();
    const rings = [...circles.rings].sort((a, b) => a.within_ms - b.within_ms);
    rings.forEach((ring, index) => {
      const cls = `ring-${RINGS[index] ?? ring.within_ms}`;
      for (const member of ring.sites) {
        if (inner.has(member.site)) continue;
        inner.add(member.site);
        this.sites.get(member.site)?.el.classList.add(cls);
      }
    });
    // largest ring first, so the inner ones are drawn on top
    for (let index = rings.length - 1; index >= 0; index -= 1) {
      const ring = rings[index];
      const pts = [[cx, cy]];
      for (const member of ring.sites) {
        const site = this.sites.get(member.site);
        if (!site) continue;
        let [x, y] = project(site.data.lon, site.data.lat);
        if (x - cx > W / 2) x -= W;
        if (cx - x > W / 2) x += W;
        pts.push([x, y]);
      }
      const shape = hull(pts);
      const d = `${shape.map(([x, y], i) => `${i ? "L" : "M"}${fmt(x)},${fmt(y)}`).join("")}Z`;
      const cls = `ring-${RINGS[index] ?? ring.within_ms}`;
      layer.append(s("g", { class: `ring-blob ${cls}` }, s("path", { d })));
    }
  }
}

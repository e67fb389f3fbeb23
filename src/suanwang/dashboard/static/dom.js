// Tiny DOM helpers. Text always goes in as text nodes (never parsed as HTML): names come from the
// API, and a provider registers its own site names.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(el, attrs, children, svg) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      if (svg) el.setAttribute("class", value);
      else el.className = value;
    } else if (key === "text") {
      el.textContent = value;
    } else if (key === "dataset") {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = v;
    } else if (!svg && key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h("td", {class: "num"}, "12"). */
export function h(tag, attrs = {}, ...children) {
  return fill(document.createElement(tag), attrs, children, false);
}

/** An SVG element: s("circle", {cx: 1, cy: 2, r: 3}). */
export function s(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children, true);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Replace el's children with the given ones. */
export function put(el, ...children) {
  clear(el);
  return fill(el, {}, children, el instanceof SVGElement);
}

/** A definition list from [label, value] pairs (skipping null values). */
export function facts(pairs, testid) {
  const dl = h("dl", { class: "facts", "data-testid": testid });
  for (const [name, value] of pairs) {
    if (value === null || value === undefined) continue;
    dl.append(h("dt", {}, name), h("dd", {}, value));
  }
  return dl;
}

// Small DOM helpers. Text always goes in through textContent, never innerHTML, so names
// typed by users cannot inject markup.

/**
 * h("button", {class: "x", dataset: {action: "admit"}, onclick: fn}, "text", child)
 * Attributes starting with "on" become listeners; `dataset` fills data-*; `hidden`,
 * `disabled`, `value`, `checked` and friends are set as properties.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name in PROPS) el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

const PROPS = { hidden: 1, disabled: 1, value: 1, checked: 1, muted: 1, autoplay: 1,
  playsInline: 1, srcObject: 1, textContent: 1, selected: 1, type: 1 };

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Show exactly one of the elements in `screens` (by id). */
export function showScreen(id, screens) {
  for (const s of screens) {
    const el = document.getElementById(s);
    if (el) el.hidden = s !== id;
  }
}

/** A short message at the bottom of the screen that disappears by itself. */
export function toast(text, ms = 4000) {
  let box = document.getElementById("toasts");
  if (!box) {
    box = h("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = h("div", { class: "toast" }, text);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

/** An SVG document (a QR code from the API) as a data: URL for an <img> under the CSP. */
export function svgDataUrl(svg) {
  const bytes = new TextEncoder().encode(svg);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

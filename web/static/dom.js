// @ts-check
// Small DOM helpers for the meeting page: element builder, icons, avatars,
// times, links and the toast. Every piece of user data reaches the DOM
// through textContent or attribute setters (never innerHTML), and links are
// built as <a> elements only for http and https URLs.

/**
 * The element with this id, checked to be a cls (HTMLElement by default):
 * a missing element fails here, by name, rather than later as a null.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {new (...args: any[]) => T} [cls]
 * @returns {T}
 */
export function $(id, cls) {
  const el = document.getElementById(id);
  const want = cls || HTMLElement;
  if (!(el instanceof want)) throw new Error(`#${id} is missing or not a ${want.name}`);
  return /** @type {T} */ (el);
}

// ---- small DOM helpers ------------------------------------------------------

/**
 * @typedef {Node|string|number|null|undefined|false} Child
 * @typedef {Record<string, unknown>} Props class, text, dataset, style, on<event> or an attribute
 */

/**
 * h("div", {class: "x", text: "…", onclick}, child…) builds an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props|null} [props]
 * @param {...(Child|Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = String(v);
    else if (k === "text") el.textContent = String(v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** @type {Record<string, string[]>} name → the paths of a 24×24 stroke icon */
const ICONS = {
  mic: ["M12 2a3 3 0 0 0-3 3v7a3 3 0 0 0 6 0V5a3 3 0 0 0-3-3z", "M19 10v2a7 7 0 0 1-14 0v-2", "M12 19v3"],
  micOff: ["M2 2l20 20", "M18.89 13.23A7 7 0 0 0 19 12v-2", "M5 10v2a7 7 0 0 0 12 5", "M15 9.34V5a3 3 0 0 0-5.68-1.33", "M9 9v3a3 3 0 0 0 5.12 2.12", "M12 19v3"],
  cam: ["M23 7l-7 5 7 5V7z", "M3 5h11a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z"],
  camOff: ["M2 2l20 20", "M16 16v1a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2h2", "M9.5 5H14a2 2 0 0 1 2 2v3.34l1 1L23 7v10"],
  chat: ["M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"],
  people: ["M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2", "M9 3a4 4 0 1 0 0 8 4 4 0 0 0 0-8z", "M23 21v-2a4 4 0 0 0-3-3.87", "M16 3.13a4 4 0 0 1 0 7.75"],
  leave: ["M10.68 13.31a16 16 0 0 0 3.41 2.6l1.27-1.27a2 2 0 0 1 2.11-.45 12.84 12.84 0 0 0 2.81.7 2 2 0 0 1 1.72 2v3a2 2 0 0 1-2.18 2 19.79 19.79 0 0 1-8.63-3.07 19.42 19.42 0 0 1-3.33-2.67m-2.67-3.34a19.79 19.79 0 0 1-3.07-8.63A2 2 0 0 1 4.11 2h3a2 2 0 0 1 2 1.72 12.84 12.84 0 0 0 .7 2.81 2 2 0 0 1-.45 2.11L8.09 9.91", "M23 1L1 23"],
  more: ["M12 12h.01", "M19 12h.01", "M5 12h.01"],
  close: ["M18 6L6 18", "M6 6l12 12"],
  send: ["M22 2L11 13", "M22 2l-7 20-4-9-9-4 20-7z"],
  attach: ["M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48"],
  reply: ["M9 17l-5-5 5-5", "M20 18v-2a4 4 0 0 0-4-4H4"],
  smile: ["M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20z", "M8 14s1.5 2 4 2 4-2 4-2", "M9 9h.01", "M15 9h.01"],
  edit: ["M12 20h9", "M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4L16.5 3.5z"],
  trash: ["M3 6h18", "M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6", "M10 11v6", "M14 11v6", "M9 6V4a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2"],
  pin: ["M12 17v5", "M9 10.76a2 2 0 0 1-1.11 1.79l-1.78.9A2 2 0 0 0 5 15.24V16a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1v-.76a2 2 0 0 0-1.11-1.79l-1.78-.9A2 2 0 0 1 15 10.76V7a1 1 0 0 1 1-1 2 2 0 0 0 0-4H8a2 2 0 0 0 0 4 1 1 0 0 1 1 1z"],
  lock: ["M5 11h14a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2z", "M7 11V7a5 5 0 0 1 10 0v4"],
  download: ["M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4", "M7 10l5 5 5-5", "M12 15V3"],
  file: ["M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z", "M14 2v6h6"],
  chevron: ["M6 9l6 6 6-6"],
  down: ["M12 5v14", "M19 12l-7 7-7-7"],
  link: ["M10 13a5 5 0 0 0 7.54.54l3-3a5 5 0 0 0-7.07-7.07l-1.72 1.71", "M14 11a5 5 0 0 0-7.54-.54l-3 3a5 5 0 0 0 7.07 7.07l1.71-1.71"],
  check: ["M20 6L9 17l-5-5"],
  alert: ["M12 9v4", "M12 17h.01", "M10.29 3.86L1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86a2 2 0 0 0-3.42 0z"],
};

/**
 * An inline SVG icon.
 * @param {string} name a key of ICONS
 */
export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of ICONS[name] || []) {
    const p = document.createElementNS(ns, "path");
    p.setAttribute("d", d);
    svg.append(p);
  }
  return svg;
}

/**
 * Fills every static <span class="icon" data-icon="…">.
 * @param {ParentNode} [root]
 */
export function fillIcons(root = document) {
  for (const el of root.querySelectorAll(".icon[data-icon]")) {
    if (el instanceof HTMLElement) el.replaceChildren(icon(el.dataset.icon));
  }
}

/**
 * @param {HTMLElement} el a button holding a .icon span
 * @param {string} name
 */
export function setIcon(el, name) {
  const span = el.querySelector(".icon");
  if (span) span.replaceChildren(icon(name));
}

// Twelve hues far apart, each dark enough for white initials.
const PALETTE = ["#4f6cf7", "#16a34a", "#ea580c", "#9333ea", "#db2777", "#0891b2",
  "#b7791f", "#dc2626", "#0f766e", "#8d5524", "#475569", "#4d7c0f"];

/**
 * FNV-1a: a hash whose low bits vary with every character (a
 * multiply-by-31 hash modulo a small palette gives near names one colour).
 * @param {string} s
 */
function fnv(s) {
  let x = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  return x;
}

/**
 * A colour from the name alone (the join page's preview).
 * @param {string} s
 */
export function hashColor(s) {
  return PALETTE[fnv(s || "") % PALETTE.length];
}

/** @type {Map<string, string>} identity → colour, kept for the page's life */
const colours = new Map();

/**
 * The avatar colour of an identity: its hash's colour unless someone this
 * page has already seen has it, then the next free one, so that the first
 * twelve people on a screen never share a colour, and a person keeps theirs.
 * @param {string} identity
 */
export function colorOf(identity) {
  const known = colours.get(identity);
  if (known) return known;
  const used = new Set(colours.values());
  const start = fnv(identity || "");
  let c = PALETTE[start % PALETTE.length];
  for (let i = 0; i < PALETTE.length; i++) {
    const x = PALETTE[(start + i) % PALETTE.length];
    if (!used.has(x)) {
      c = x;
      break;
    }
  }
  colours.set(identity, c);
  return c;
}

/** @param {string} name */
export function initials(name) {
  const words = (name || "?").trim().split(/\s+/).filter(Boolean);
  const first = (/** @type {string} */ w) => Array.from(w)[0] || "";
  const s = words.length > 1 ? first(words[0]) + first(words[words.length - 1]) : Array.from(words[0] || "?").slice(0, 2).join("");
  return s.toUpperCase();
}

/**
 * @param {string} identity
 * @param {string} name
 * @param {string} [cls]
 */
export function avatar(identity, name, cls = "") {
  return h("span", { class: `avatar ${cls}`, style: { background: colorOf(identity) }, "aria-hidden": "true", text: initials(name) });
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
export const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** @param {string} iso */
export function timeOf(iso) {
  const d = new Date(iso);
  return isNaN(d.getTime()) ? "" : timeFmt.format(d);
}

/**
 * Appends text to el, with http(s) URLs as safe links.
 * @param {HTMLElement} el
 * @param {string} text
 */
export function appendLinkified(el, text) {
  const re = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  let last = 0;
  for (const m of text.matchAll(re)) {
    let url = m[0];
    // Trailing punctuation belongs to the sentence, not the URL.
    const trail = url.match(/[.,;:!?)\]}'"]+$/);
    if (trail) url = url.slice(0, -trail[0].length);
    const start = m.index;
    el.append(document.createTextNode(text.slice(last, start)));
    let ok = false;
    try {
      const u = new URL(url);
      ok = u.protocol === "http:" || u.protocol === "https:";
    } catch {
      ok = false;
    }
    if (ok) {
      el.append(h("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: url }));
    } else {
      el.append(document.createTextNode(url));
    }
    last = start + url.length;
  }
  el.append(document.createTextNode(text.slice(last)));
}

/** @param {string[]} names */
export function listNames(names) {
  if (names.length <= 1) return names.join("");
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]}`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} others`;
}

/**
 * @param {string[]} [a]
 * @param {string[]} [b]
 */
export function sameSet(a = [], b = []) {
  if ((a || []).length !== (b || []).length) return false;
  const s = new Set(a);
  return (b || []).every((x) => s.has(x));
}

let toastTimer = 0;
/** @param {string} text */
export function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 4000);
}

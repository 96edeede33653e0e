// @ts-check
// One row of the chat panel's message list: built once, then updated in
// place on every change (edit, reaction, pin, delete, regrouping), so that
// whatever the reader is using on it (the reaction picker, a menu, the edit
// box, focus, an expanded "Show more") survives other people's changes.
// Clicks on its buttons are handled by delegation: chat-list.js (reaction
// chips, quotes) and chat-compose.js (the action bar).

import { formatBytes } from "./util.js";
import { $, appendLinkified, avatar, dateFmt, h, icon, listNames, sameSet, timeOf, toast } from "./dom.js";
import { closeMenus, ui } from "./state.js";
import { isOwn, msgById, recipientsText, snippet } from "./chat-model.js";
import { e2eeBody, e2eeFileCard, e2eeMark } from "./e2ee-ui.js";

/** @typedef {import("./types.js").Message} Message */
/** @typedef {import("./types.js").Attachment} Attachment */

/** A message longer than this many lines is folded behind "Show more". */
const FOLD_LINES = 12;
/** Row classes that belong to what the reader is doing, not to the message. */
const TRANSIENT = ["menu-open", "editing", "flash"];

/**
 * Whether m continues prev's group (same sender, privacy, within 5 min).
 * @param {Message|null|undefined} prev
 * @param {Message} m
 */
export function continues(prev, m) {
  if (!prev || !m || prev.sender !== m.sender || !!prev.deleted !== !!m.deleted) return false;
  if (!sameSet(prev.to || [], m.to || [])) return false;
  return Date.parse(m.createdAt) - Date.parse(prev.createdAt) < 5 * 60000 && !m.replyTo;
}

/**
 * A new row for m.
 * @param {Message} m
 * @param {Message|null} prev the message shown above it
 */
export function renderRow(m, prev) {
  const el = h("div", { id: `msg-${m.id}`, dataset: { id: m.id, sender: m.sender }, tabindex: "-1" },
    h("span", { class: "msg-gutter" }),
    h("div", { class: "msg-main" }, h("div", { class: "bubble" }), h("div", { class: "reactions", hidden: true })));
  updateRow(el, m, prev);
  return el;
}

/** @type {WeakMap<HTMLElement, string>} row → what its bubble shows */
const shown = new WeakMap();

/**
 * Brings a row up to date with m, touching only what changed.
 * @param {HTMLElement} el
 * @param {Message} m
 * @param {Message|null} prev the message shown above it
 */
export function updateRow(el, m, prev) {
  const own = isOwn(m);
  const priv = (m.to || []).length > 0;
  const cont = continues(prev, m);
  const keep = TRANSIENT.filter((x) => el.classList.contains(x));
  el.className = ["msg", own && "own", priv && "private", m.deleted && "deleted", m.pinned && "pinned", cont && "cont", ...keep].filter(Boolean).join(" ");
  el.dataset.seq = String(m.seq);

  // Avatar or gutter.
  const slot = /** @type {HTMLElement} */ (el.firstElementChild);
  const wantAvatar = !own && !cont;
  if (wantAvatar) slot.replaceWith(avatar(m.sender, m.senderName, "msg-avatar"));
  else if (!slot.classList.contains("msg-gutter")) slot.replaceWith(h("span", { class: "msg-gutter" }));

  const main = /** @type {HTMLElement} */ (el.querySelector(".msg-main"));
  const head = main.querySelector(".msg-head");
  if (cont) {
    if (head) head.remove();
  } else {
    const fresh = h("div", { class: "msg-head" },
      h("span", { class: "msg-name", text: own ? "You" : m.senderName || m.sender, title: own ? null : m.senderName || m.sender }),
      senderIsHost(m.sender, own) ? h("span", { class: "badge-host", text: "Host" }) : null,
      h("time", { datetime: m.createdAt, title: dateFmt.format(new Date(m.createdAt)), text: timeOf(m.createdAt) }),
      m.pinned ? h("span", { class: "msg-pin", title: "Pinned" }, icon("pin")) : null);
    if (head) head.replaceWith(fresh);
    else main.prepend(fresh);
  }

  const bubble = /** @type {HTMLElement} */ (main.querySelector(".bubble"));
  const target = m.replyTo ? msgById(m.replyTo) : undefined;
  const key = JSON.stringify([m.deleted, m.kind, m.text, m.decrypt, m.editedAt, m.attachment && m.attachment.id, m.to, m.replyTo,
    m.replyTo && snippet(target), target && target.senderName, priv && recipientsText(m), ui.expanded.has(m.id)]);
  if (shown.get(el) !== key) {
    shown.set(el, key);
    fillBubble(bubble, m, target);
    if (el.isConnected) foldIfLong(el);
  }

  renderReactions(/** @type {HTMLElement} */ (main.querySelector(".reactions")), m);

  if (m.deleted) {
    // Nothing left to act on: the bar, a menu or an edit of it go.
    const bar = el.querySelector(".msg-actions");
    if (bar) bar.remove();
    if (ui.openMenu && el.contains(ui.openMenu.menu)) closeMenus();
    const box = el.querySelector(".edit-box");
    if (box) box.remove();
    bubble.hidden = false;
    el.classList.remove("editing");
    if (ui.editing === m.id) ui.editing = null;
  } else {
    renderActions(el, m);
  }
}

/**
 * @param {HTMLElement} bubble
 * @param {Message} m
 * @param {Message|undefined} target the message m replies to
 */
function fillBubble(bubble, m, target) {
  const parts = [];
  if ((m.to || []).length) parts.push(h("div", { class: "private-label" }, icon("lock"), h("span", { text: recipientsText(m) })));
  const mark = e2eeMark(m);
  if (mark) parts.push(mark);
  if (m.replyTo && !m.deleted) {
    parts.push(h("button", {
      type: "button", class: "quote", dataset: { jump: m.replyTo },
      "aria-label": `Reply to ${target ? target.senderName : "a message"}: ${snippet(target)}`,
    }, h("strong", { text: target ? (isOwn(target) ? "You" : target.senderName) : "Message" }), h("span", { class: "quote-text", text: snippet(target) })));
  }
  const edited = m.editedAt ? h("span", { class: "edited", title: `Edited ${dateFmt.format(new Date(m.editedAt))}`, text: "(edited)" }) : null;
  if (m.deleted) {
    parts.push(h("div", { class: "tombstone", text: "This message was deleted" }));
  } else {
    if (m.kind === "image" && m.attachment) parts.push(renderImage(m.attachment));
    if (m.kind === "file" && m.attachment) parts.push(m.e2ee ? e2eeFileCard(m) : renderFile(m.attachment));
    const sealed = e2eeBody(m);
    if (sealed) {
      parts.push(sealed);
    } else if (m.text) {
      const text = h("span", { class: "msg-text" });
      appendLinkified(text, m.text);
      // "(edited)" ends the text's last line rather than taking its own.
      const body = h("div", { class: "msg-body" }, text, edited ? " " : null, edited);
      parts.push(body);
      if (estimatedLines(m.text) > FOLD_LINES) {
        const open = ui.expanded.has(m.id);
        body.classList.add("long");
        body.classList.toggle("folded", !open);
        parts.push(h("button", { type: "button", class: "link-btn show-more", dataset: { fold: m.id }, "aria-expanded": String(open), text: open ? "Show less" : "Show more" }));
      }
    } else if (edited) {
      parts.push(edited);
    }
  }
  bubble.replaceChildren(...parts);
}

/**
 * Lines the text may take, counted generously (20 characters a line, as in
 * a narrow bubble): enough to decide that "Show more" may be needed;
 * foldIfLong measures and unfolds what fits.
 * @param {string} text
 */
function estimatedLines(text) {
  let n = 0;
  for (const line of text.split("\n")) n += Math.max(1, Math.ceil(line.length / 20));
  return n;
}

/**
 * Once the row is laid out (and shown: the list calls it again when the
 * panel opens), drops "Show more" from a folded text that turns out to fit.
 * @param {HTMLElement} el
 */
export function foldIfLong(el) {
  const body = el.querySelector(".msg-body.folded");
  if (!(body instanceof HTMLElement) || !body.offsetParent) return;
  if (body.scrollHeight <= body.clientHeight + 2) {
    body.classList.remove("long", "folded");
    const btn = el.querySelector(".show-more");
    if (btn) btn.remove();
  }
}

/**
 * The reaction chips, in the server's order (first use), each updated in
 * place.
 * @param {HTMLElement} row
 * @param {Message} m
 */
function renderReactions(row, m) {
  const c = ui.client;
  const list = m.deleted ? [] : m.reactions || [];
  /** @type {Map<string, HTMLElement>} */
  const have = new Map();
  for (const b of row.children) if (b instanceof HTMLElement) have.set(b.dataset.emoji, b);
  list.forEach((r, i) => {
    let b = have.get(r.emoji);
    have.delete(r.emoji);
    if (!b) {
      b = h("button", { type: "button", class: "reaction", dataset: { emoji: r.emoji } },
        h("span", { class: "reaction-emoji", text: r.emoji }), h("span", { class: "reaction-count" }));
    }
    const mine = r.identities.includes(c.self.identity);
    const who = listNames(r.identities.map((x) => (x === c.self.identity ? "you" : c.nameOf(x))));
    b.classList.toggle("mine", mine);
    b.title = `${who} reacted with ${r.emoji}`;
    b.setAttribute("aria-label", `${r.emoji} ${r.identities.length}, ${who}. ${mine ? "Remove your reaction" : "React too"}`);
    b.setAttribute("aria-pressed", String(mine));
    b.querySelector(".reaction-count").textContent = String(r.identities.length);
    if (row.children[i] !== b) row.insertBefore(b, row.children[i] || null);
  });
  for (const b of have.values()) b.remove();
  row.hidden = list.length === 0;
}

/**
 * The hover action bar; its buttons are kept (a picker's anchor stays)
 * unless the set of actions changes.
 * @param {HTMLElement} el
 * @param {Message} m
 */
function renderActions(el, m) {
  const c = ui.client;
  const own = isOwn(m);
  /** @type {[string, string, string][]} action, icon, label */
  const want = [];
  if (c.self.canChat && !c.self.muted) want.push(["react", "smile", "Add reaction"], ["reply", "reply", "Reply"]);
  if (own && m.kind === "text") want.push(["edit", "edit", "Edit"]);
  if (c.self.canPin) want.push(m.pinned ? ["unpin", "pin", "Unpin"] : ["pin", "pin", "Pin to the top"]);
  if (own || c.self.admin) want.push(["delete", "trash", "Delete"]);
  const bar = /** @type {HTMLElement|null} */ (el.querySelector(".msg-actions"));
  const kind = (/** @type {string} */ a) => (a === "unpin" ? "pin" : a);
  const btns = bar ? [...bar.querySelectorAll("button")] : [];
  const same = btns.length === want.length && btns.every((b, i) => kind(b.dataset.action) === kind(want[i][0]));
  if (bar && same) {
    btns.forEach((b, i) => {
      const [action, , label] = want[i];
      b.dataset.action = action;
      b.setAttribute("aria-label", label);
      b.title = label;
    });
    return;
  }
  const fresh = h("div", { class: "msg-actions", role: "toolbar", "aria-label": "Message actions" },
    ...want.map(([action, ic, label]) => h("button", { type: "button", class: "icon-btn small", dataset: { action }, "aria-label": label, title: label }, icon(ic))));
  if (bar) bar.replaceWith(fresh);
  else el.querySelector(".msg-main").after(fresh);
}

/** @param {Attachment} att */
function renderImage(att) {
  const maxW = 240;
  const maxH = 240;
  let w = att.width || maxW;
  let hgt = att.height || Math.round(maxW * 0.66);
  const scale = Math.min(1, maxW / w, maxH / hgt);
  w = Math.max(40, Math.round(w * scale));
  hgt = Math.max(40, Math.round(hgt * scale));
  const img = h("img", { class: "msg-image", alt: att.name || "Image", width: w, height: hgt, loading: "lazy", decoding: "async" });
  const btn = h("button", { type: "button", class: "image-btn", style: { width: `${w}px`, height: `${hgt}px` }, "aria-label": `Open image ${att.name || ""}` }, img);
  ui.client.attachmentURL(att.id).then((url) => {
    img.src = url;
  }).catch(() => {
    btn.classList.add("broken");
    btn.replaceChildren(h("span", { text: "Image unavailable" }));
  });
  btn.onclick = async () => {
    try {
      openLightbox(await ui.client.attachmentURL(att.id), att.name);
    } catch (err) {
      toast(`Could not open the image: ${err.message}`);
    }
  };
  return btn;
}

/** @param {Attachment} att */
function renderFile(att) {
  const a = h("a", { class: "file-card", target: "_blank", rel: "noopener noreferrer", href: "#", "aria-label": `Download ${att.name}, ${formatBytes(att.size)}` },
    h("span", { class: "file-icon" }, icon("file")),
    h("span", { class: "file-body" }, h("span", { class: "file-name", text: att.name }), h("span", { class: "file-size", text: formatBytes(att.size) })),
    h("span", { class: "file-dl" }, icon("download")));
  const refresh = () => ui.client.attachmentURL(att.id).then((url) => {
    a.href = url;
    return url;
  });
  refresh().catch(() => a.classList.add("broken"));
  a.addEventListener("click", async (e) => {
    // Signed URLs expire: make sure this one still works.
    e.preventDefault();
    try {
      window.open(await refresh(), "_blank", "noopener,noreferrer");
    } catch (err) {
      toast(`Could not download: ${err.message}`);
    }
  });
  return a;
}

/**
 * @param {string} url
 * @param {string} name
 */
function openLightbox(url, name) {
  const img = $("lightbox-img", HTMLImageElement);
  img.src = url;
  img.alt = name || "Image";
  $("lightbox-name").textContent = name || "";
  $("lightbox-open", HTMLAnchorElement).href = url;
  $("lightbox", HTMLDialogElement).showModal();
}

/**
 * Whether a message's sender is a host (roomAdmin), as presence says.
 * @param {string} sender
 * @param {boolean} own
 */
function senderIsHost(sender, own) {
  const c = ui.client;
  if (!c) return false;
  if (own) return !!c.self.admin;
  const p = c.participants.get(sender);
  return !!(p && p.host);
}

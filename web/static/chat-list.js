// @ts-check
// The chat panel's message list: the rows in seq order (each built and
// updated by chat-message.js), history paging, live messages, the outbox,
// pins, typing and unread state.

import { formatBytes } from "./util.js";
import { $, appendLinkified, h, icon, listNames, toast } from "./dom.js";
import { chatVisible, ui } from "./state.js";
import { isOwn, msgById, nearBottom, scrollToBottom, snippet } from "./chat-model.js";
import { foldIfLong, renderRow, updateRow } from "./chat-message.js";

/** @typedef {import("./types.js").Message} Message */

/**
 * The message shown above a row.
 * @param {Element} el
 */
function prevVisible(el) {
  let p = el.previousElementSibling;
  while (p && !(p instanceof HTMLElement && p.dataset.id)) p = p.previousElementSibling;
  return p instanceof HTMLElement ? msgById(p.dataset.id) || null : null;
}

/**
 * Brings the whole list up to date with the client's messages: rows that
 * exist are updated in place and kept, new ones inserted, gone ones
 * removed.
 * @param {string} reason why ("replay", "older", "gap", "all", "insert", "withdrawn")
 */
export function renderMessages(reason) {
  const c = ui.client;
  if (!c) return;
  const box = $("messages");
  const atBottom = nearBottom();
  const oldHeight = box.scrollHeight;
  const oldTop = box.scrollTop;
  const list = $("message-list");
  const want = new Set(c.order);
  for (const [id, el] of ui.els) {
    if (!want.has(id)) {
      el.remove();
      ui.els.delete(id);
    }
  }
  /** @type {Message|null} */
  let prev = null;
  /** @type {Element|null} */
  let at = list.firstElementChild;
  for (const id of c.order) {
    const m = c.messages.get(id);
    let el = ui.els.get(id);
    if (el) {
      updateRow(el, m, prev);
    } else {
      el = renderRow(m, prev);
      ui.els.set(id, el);
    }
    if (el !== at) list.insertBefore(el, at);
    else at = at.nextElementSibling;
    prev = m;
  }
  renderHistoryStatus();
  if (reason === "older") {
    box.scrollTop = box.scrollHeight - oldHeight + oldTop;
  } else if (atBottom || reason === "replay" || reason === "all") {
    scrollToBottom();
  }
  for (const el of ui.els.values()) foldIfLong(el);
  renderOutbox();
  renderUnread();
  maybeMarkRead();
  fillViewport();
}

function renderHistoryStatus() {
  const c = ui.client;
  const s = $("history-status");
  if (ui.loadingOlder) s.textContent = "Loading earlier messages…";
  else if (c.hasMore) s.textContent = "";
  else if (c.order.length) s.textContent = `This is the start of the chat in ${c.room}.`;
  else s.textContent = "No messages yet. Say hello 👋";
  s.classList.toggle("empty", !c.order.length && !c.hasMore && !ui.loadingOlder);
}

/** Loads older pages while the list does not fill the panel. */
function fillViewport() {
  const box = $("messages");
  const c = ui.client;
  if (!c || !c.hasMore || ui.loadingOlder || !c.chatOpen || $("chat-panel").hidden) return;
  if (box.scrollHeight <= box.clientHeight + 40) loadOlder();
}

async function loadOlder() {
  const c = ui.client;
  if (ui.loadingOlder || !c.hasMore) return;
  ui.loadingOlder = true;
  renderHistoryStatus();
  try {
    await c.loadOlder(50);
  } catch (err) {
    toast(`Could not load earlier messages: ${err.message}`);
  } finally {
    ui.loadingOlder = false;
    renderHistoryStatus();
  }
}

/** @param {Message} m a message that just arrived */
export function onLiveMessage(m) {
  const c = ui.client;
  const idx = c.order.indexOf(m.id);
  if (idx !== c.order.length - 1) {
    renderMessages("insert");
    return;
  }
  const atBottom = nearBottom();
  const prev = idx > 0 ? c.messages.get(c.order[idx - 1]) : null;
  const el = renderRow(m, prev);
  ui.els.set(m.id, el);
  $("message-list").append(el);
  foldIfLong(el);
  renderHistoryStatus();
  renderOutbox();
  if (atBottom || isOwn(m)) scrollToBottom();
  else $("jump-new").hidden = false;
  renderUnread();
  maybeMarkRead();
}

/**
 * A message changed (edit, reaction, pin, delete): its row, the rows
 * that quote it and the one below it (grouping) are updated in place.
 * @param {Message} m
 */
export function updateMessage(m) {
  const el = ui.els.get(m.id);
  if (el) {
    updateRow(el, m, prevVisible(el));
    const next = el.nextElementSibling;
    if (next instanceof HTMLElement && next.dataset.id) {
      const nm = msgById(next.dataset.id);
      if (nm) updateRow(next, nm, m);
    }
  }
  // Quotes of this message elsewhere show its new text.
  for (const [id, q] of ui.els) {
    const qm = msgById(id);
    if (qm && qm.replyTo === m.id) updateRow(q, qm, prevVisible(q));
  }
  if (ui.replyTo === m.id) {
    $("compose-context-text").textContent = snippet(m);
  }
  renderPins();
  renderUnread();
}

export function renderOutbox() {
  const c = ui.client;
  if (!c) return;
  const box = $("outbox-list");
  const atBottom = nearBottom();
  const items = [];
  for (const e of c.outbox.values()) {
    if (e.matchedId) continue;
    const priv = (e.to || []).length > 0;
    const bubble = h("div", { class: "bubble" });
    if (priv) bubble.append(h("div", { class: "private-label" }, icon("lock"), h("span", { text: `Private to ${listNames(e.to.map((x) => c.nameOf(x)))}` })));
    if (e.file) {
      if (e.kind === "image" && e.previewURL !== "") {
        if (!e.previewURL) e.previewURL = URL.createObjectURL(e.file);
        bubble.append(h("img", { class: "msg-image pending-image", src: e.previewURL, alt: e.file.name }));
      } else {
        bubble.append(h("div", { class: "file-card" }, h("span", { class: "file-icon" }, icon("file")),
          h("span", { class: "file-body" }, h("span", { class: "file-name", text: e.file.name }), h("span", { class: "file-size", text: formatBytes(e.file.size) }))));
      }
    }
    if (e.text) {
      const t = h("div", { class: "msg-text" });
      appendLinkified(t, e.text);
      bubble.append(t);
    }
    const status = e.uploading ? "Uploading…" : c.chatOpen ? (e.tries ? "Retrying…" : "Sending…") : "Waiting for connection…";
    items.push(h("div", { class: `msg own pending${priv ? " private" : ""}`, dataset: { clientId: e.clientId } },
      h("span", { class: "msg-gutter" }),
      h("div", { class: "msg-main" }, bubble, h("div", { class: "msg-status" }, h("span", { class: "spinner", "aria-hidden": "true" }), h("span", { text: status }),
        h("button", { type: "button", class: "link-btn", text: "Cancel", onclick: () => c.discard(e.clientId) })))));
  }
  box.replaceChildren(...items);
  if (atBottom) scrollToBottom();
}

export function renderPins() {
  const c = ui.client;
  const box = $("pins");
  const pins = [...c.pins.values()].filter((m) => !m.deleted).sort((a, b) => a.seq - b.seq);
  box.hidden = pins.length === 0;
  if (!pins.length) {
    box.replaceChildren();
    return;
  }
  const latest = pins[pins.length - 1];
  const expanded = box.classList.contains("expanded");
  const item = (/** @type {Message} */ m) => h("li", { class: "pin-item" },
    h("button", { type: "button", class: "pin-jump", onclick: () => jumpTo(m.id), "aria-label": `Pinned message from ${m.senderName}: ${snippet(m)}` },
      h("strong", { text: m.senderName }), h("span", { class: "pin-text", text: snippet(m) })),
    c.self.canPin ? h("button", { type: "button", class: "icon-btn small", "aria-label": "Unpin", title: "Unpin", onclick: () => c.unpin(m.id) }, icon("close")) : null);
  box.replaceChildren(
    h("div", { class: "pins-head" },
      h("span", { class: "pins-icon" }, icon("pin")),
      h("span", { class: "pins-title", text: pins.length === 1 ? "Pinned" : `${pins.length} pinned` }),
      pins.length > 1 ? h("button", { type: "button", class: "link-btn", "aria-expanded": String(expanded), text: expanded ? "Show less" : "Show all", onclick: () => { box.classList.toggle("expanded"); renderPins(); } }) : null),
    h("ul", { class: "pin-list" }, ...(expanded ? pins : [latest]).map(item)),
  );
}

/**
 * Scrolls to a message, paging back until it is loaded (bounded).
 * @param {string} id
 */
async function jumpTo(id) {
  const c = ui.client;
  let el = ui.els.get(id);
  const target = msgById(id);
  for (let i = 0; !el && target && c.hasMore && i < 20; i++) {
    await loadOlder();
    el = ui.els.get(id);
  }
  if (!el) {
    toast("That message is not available");
    return;
  }
  el.scrollIntoView({ block: "center", behavior: "smooth" });
  el.classList.add("flash");
  setTimeout(() => el.classList.remove("flash"), 1600);
  el.focus({ preventScroll: true });
}

/** Measures folded texts again, now that the list is shown. */
export function refold() {
  for (const el of ui.els.values()) foldIfLong(el);
}

export function renderTyping() {
  const c = ui.client;
  const names = [...c.typing.values()].map((t) => t.name);
  const box = $("typing");
  box.replaceChildren();
  if (!names.length) return;
  box.append(h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
    h("span", { text: `${listNames(names)} ${names.length === 1 ? "is" : "are"} typing…` }));
}

export function renderUnread() {
  const c = ui.client;
  if (!c) return;
  const n = chatVisible() ? 0 : c.unreadCount();
  const b = $("unread");
  b.hidden = n === 0;
  b.textContent = n > 99 ? "99+" : String(n);
  $("btn-chat").setAttribute("aria-label", n ? `Chat, ${n} unread` : "Chat");
  document.title = `${n ? `(${n}) ` : ""}${c.room || "Meeting"} · Backchannel`;
}

export function maybeMarkRead() {
  const c = ui.client;
  if (c && chatVisible() && nearBottom(200)) {
    c.markRead();
    $("jump-new").hidden = true;
  }
  renderUnread();
}

export function wireMessageList() {
  const box = $("messages");
  box.addEventListener("scroll", () => {
    if (box.scrollTop < 120 && ui.client && ui.client.hasMore) loadOlder();
    if (nearBottom()) {
      $("jump-new").hidden = true;
      maybeMarkRead();
    }
  }, { passive: true });
  $("jump-new").onclick = () => {
    scrollToBottom();
    maybeMarkRead();
  };
  // Reaction chips, quotes and "Show more" of every row (chat-message.js).
  $("message-list").addEventListener("click", (e) => {
    const t = e.target instanceof Element ? e.target : null;
    const row = t && t.closest(".msg");
    if (!(row instanceof HTMLElement) || !row.dataset.id) return;
    const chip = t.closest(".reaction");
    if (chip instanceof HTMLElement) {
      ui.client.toggleReaction(row.dataset.id, chip.dataset.emoji);
      return;
    }
    const quote = t.closest(".quote");
    if (quote instanceof HTMLElement) {
      jumpTo(quote.dataset.jump);
      return;
    }
    const fold = t.closest(".show-more");
    if (fold instanceof HTMLElement) {
      const id = row.dataset.id;
      if (ui.expanded.has(id)) ui.expanded.delete(id);
      else ui.expanded.add(id);
      const m = msgById(id);
      if (m) updateRow(row, m, prevVisible(row));
    }
  });
}

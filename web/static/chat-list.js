// The chat panel's message list: rendering messages, images and files,
// history paging, live updates, the outbox, pins, typing and unread state.

import { formatBytes } from "./backchannel.js";
import { $, appendLinkified, avatar, dateFmt, h, icon, listNames, sameSet, timeOf, toast } from "./dom.js";
import { chatVisible, ui } from "./state.js";
import { confirmDelete, openReactionPicker, renderComposeContext, startEdit, startReply } from "./chat-compose.js";

// ---- chat: messages -----------------------------------------------------------

export function msgById(id) {
  return ui.client && (ui.client.messages.get(id) || ui.client.pins.get(id));
}

export function isOwn(m) {
  return m.sender === ui.client.self.identity;
}

function recipientsText(m) {
  const c = ui.client;
  const others = (m.to || []).filter((x) => x !== c.self.identity);
  if (isOwn(m)) return `Private to ${listNames((m.to || []).map((x) => c.nameOf(x)))}`;
  if (others.length === 0) return "Private to you";
  return `Private to you and ${listNames(others.map((x) => c.nameOf(x)))}`;
}

export function snippet(m) {
  if (!m) return "Original message not loaded";
  if (m.deleted) return "Message deleted";
  if (m.kind === "image") return m.text ? `Photo: ${m.text}` : "Photo";
  if (m.kind === "file") return m.attachment ? `File: ${m.attachment.name}` : "File";
  return m.text.length > 140 ? m.text.slice(0, 140) + "…" : m.text;
}

/** Whether m continues prev's group (same sender, privacy, within 5 min). */
function continues(prev, m) {
  if (!prev || !m || prev.sender !== m.sender || prev.deleted !== m.deleted) return false;
  if (!sameSet(prev.to || [], m.to || [])) return false;
  return Date.parse(m.createdAt) - Date.parse(prev.createdAt) < 5 * 60000 && !m.replyTo;
}

function renderMessage(m, prev) {
  const c = ui.client;
  const own = isOwn(m);
  const priv = (m.to || []).length > 0;
  const cont = continues(prev, m);
  const el = h("div", {
    class: ["msg", own && "own", priv && "private", m.deleted && "deleted", m.pinned && "pinned", cont && "cont"].filter(Boolean).join(" "),
    id: `msg-${m.id}`, dataset: { id: m.id, seq: String(m.seq), sender: m.sender }, tabindex: "-1",
  });
  el.append(own ? h("span", { class: "msg-gutter" }) : cont ? h("span", { class: "msg-gutter" }) : avatar(m.sender, m.senderName, "msg-avatar"));
  const main = h("div", { class: "msg-main" });
  if (!cont) {
    main.append(h("div", { class: "msg-head" },
      h("span", { class: "msg-name", text: own ? "You" : m.senderName || m.sender }),
      h("time", { datetime: m.createdAt, title: dateFmt.format(new Date(m.createdAt)), text: timeOf(m.createdAt) }),
      m.pinned ? h("span", { class: "msg-pin", title: "Pinned" }, icon("pin")) : null));
  }
  const bubble = h("div", { class: "bubble" });
  if (priv) bubble.append(h("div", { class: "private-label" }, icon("lock"), h("span", { text: recipientsText(m) })));
  if (m.replyTo && !m.deleted) {
    const target = msgById(m.replyTo);
    bubble.append(h("button", {
      type: "button", class: "quote", "aria-label": `Reply to ${target ? target.senderName : "a message"}: ${snippet(target)}`,
      onclick: () => jumpTo(m.replyTo),
    }, h("strong", { text: target ? (isOwn(target) ? "You" : target.senderName) : "Message" }), h("span", { class: "quote-text", text: snippet(target) })));
  }
  if (m.deleted) {
    bubble.append(h("div", { class: "tombstone", text: "This message was deleted" }));
  } else {
    if (m.kind === "image" && m.attachment) bubble.append(renderImage(m.attachment));
    if (m.kind === "file" && m.attachment) bubble.append(renderFile(m.attachment));
    if (m.text) {
      const body = h("div", { class: "msg-text" });
      appendLinkified(body, m.text);
      bubble.append(body);
    }
    if (m.editedAt) bubble.append(h("span", { class: "edited", title: `Edited ${dateFmt.format(new Date(m.editedAt))}`, text: "(edited)" }));
  }
  main.append(bubble);
  if (!m.deleted && (m.reactions || []).length) {
    const row = h("div", { class: "reactions" });
    for (const r of m.reactions) {
      const mine = r.identities.includes(c.self.identity);
      const who = listNames(r.identities.map((x) => (x === c.self.identity ? "you" : c.nameOf(x))));
      row.append(h("button", {
        type: "button", class: `reaction${mine ? " mine" : ""}`, title: `${who} reacted with ${r.emoji}`,
        "aria-label": `${r.emoji} ${r.identities.length}, ${who}. ${mine ? "Remove your reaction" : "React too"}`,
        "aria-pressed": String(mine), dataset: { emoji: r.emoji },
        onclick: () => c.toggleReaction(m.id, r.emoji),
      }, h("span", { class: "reaction-emoji", text: r.emoji }), h("span", { class: "reaction-count", text: String(r.identities.length) })));
    }
    main.append(row);
  }
  el.append(main);
  if (!m.deleted) el.append(renderActions(m));
  return el;
}

function renderActions(m) {
  const c = ui.client;
  const own = isOwn(m);
  const bar = h("div", { class: "msg-actions", role: "toolbar", "aria-label": "Message actions" });
  const btn = (action, ic, label, fn) => h("button", { type: "button", class: "icon-btn small", dataset: { action }, "aria-label": label, title: label, onclick: fn }, icon(ic));
  if (c.self.canChat && !c.self.muted) {
    bar.append(btn("react", "smile", "Add reaction", (e) => openReactionPicker(m, e.currentTarget)));
    bar.append(btn("reply", "reply", "Reply", () => startReply(m)));
  }
  if (own && m.kind === "text") bar.append(btn("edit", "edit", "Edit", () => startEdit(m)));
  if (c.self.canPin) bar.append(btn(m.pinned ? "unpin" : "pin", "pin", m.pinned ? "Unpin" : "Pin to the top", () => (m.pinned ? c.unpin(m.id) : c.pin(m.id))));
  if (own || c.self.admin) bar.append(btn("delete", "trash", "Delete", (e) => confirmDelete(m, e.currentTarget)));
  return bar;
}

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

function openLightbox(url, name) {
  const d = $("lightbox");
  $("lightbox-img").src = url;
  $("lightbox-img").alt = name || "Image";
  $("lightbox-name").textContent = name || "";
  $("lightbox-open").href = url;
  d.showModal();
}

function prevVisible(el) {
  let p = el.previousElementSibling;
  while (p && !p.dataset.id) p = p.previousElementSibling;
  return p ? msgById(p.dataset.id) : null;
}

export function renderMessages(reason) {
  const c = ui.client;
  if (!c) return;
  const box = $("messages");
  const atBottom = nearBottom();
  const oldHeight = box.scrollHeight;
  const oldTop = box.scrollTop;
  const list = $("message-list");
  const frag = document.createDocumentFragment();
  ui.els.clear();
  let prev = null;
  for (const id of c.order) {
    const m = c.messages.get(id);
    const el = renderMessage(m, prev);
    ui.els.set(id, el);
    frag.append(el);
    prev = m;
  }
  list.replaceChildren(frag);
  renderHistoryStatus();
  if (reason === "older") {
    box.scrollTop = box.scrollHeight - oldHeight + oldTop;
  } else if (atBottom || reason === "replay" || reason === "all") {
    scrollToBottom();
  }
  renderOutbox();
  renderUnread();
  maybeMarkRead();
  if (ui.editing && ui.els.get(ui.editing)) startEdit(msgById(ui.editing), true);
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

export function onLiveMessage(m) {
  const c = ui.client;
  const idx = c.order.indexOf(m.id);
  if (idx !== c.order.length - 1) {
    renderMessages("insert");
    return;
  }
  const atBottom = nearBottom();
  const prev = idx > 0 ? c.messages.get(c.order[idx - 1]) : null;
  const el = renderMessage(m, prev);
  ui.els.set(m.id, el);
  $("message-list").append(el);
  renderHistoryStatus();
  renderOutbox();
  if (atBottom || isOwn(m)) scrollToBottom();
  else $("jump-new").hidden = false;
  renderUnread();
  maybeMarkRead();
}

export function updateMessage(m) {
  const old = ui.els.get(m.id);
  if (old) {
    const el = renderMessage(m, prevVisible(old));
    ui.els.set(m.id, el);
    old.replaceWith(el);
    if (ui.editing === m.id) startEdit(m, true);
  }
  // Quotes of this message elsewhere show its new text.
  for (const q of document.querySelectorAll("#message-list .msg")) {
    const qm = msgById(q.dataset.id);
    if (qm && qm.replyTo === m.id) {
      const el = renderMessage(qm, prevVisible(q));
      ui.els.set(qm.id, el);
      q.replaceWith(el);
    }
  }
  if (ui.replyTo === m.id) renderComposeContext();
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
  const item = (m) => h("li", { class: "pin-item" },
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

async function jumpTo(id) {
  const c = ui.client;
  let el = ui.els.get(id);
  const target = msgById(id);
  // Page back until the message is loaded (bounded).
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

function nearBottom(px = 80) {
  const b = $("messages");
  return b.scrollHeight - b.scrollTop - b.clientHeight < px;
}

export function scrollToBottom() {
  const b = $("messages");
  b.scrollTop = b.scrollHeight;
  $("jump-new").hidden = true;
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
}

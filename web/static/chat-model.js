// @ts-check
// What the chat panel's list (chat-list.js, chat-message.js) and composer
// (chat-compose.js) share: the messages as the page sees them, and the
// scroll position of the list. Neither imports the other.

import { $, listNames } from "./dom.js";
import { ui } from "./state.js";

/** @typedef {import("./types.js").Message} Message */

/**
 * A loaded or pinned message.
 * @param {string} id
 * @returns {Message|undefined}
 */
export function msgById(id) {
  return ui.client ? ui.client.messages.get(id) || ui.client.pins.get(id) : undefined;
}

/** @param {Message} m */
export function isOwn(m) {
  return m.sender === ui.client.self.identity;
}

/**
 * One line about a message, for quotes, pins and the reply bar.
 * @param {Message|undefined} m
 */
export function snippet(m) {
  if (!m) return "Original message not loaded";
  if (m.deleted) return "Message deleted";
  if (m.kind === "image") return m.text ? `Photo: ${m.text}` : "Photo";
  if (m.kind === "file") return m.attachment ? `File: ${m.attachment.name}` : "File";
  return m.text.length > 140 ? m.text.slice(0, 140) + "…" : m.text;
}

/**
 * Who a private message is for, from the reader's side.
 * @param {Message} m
 */
export function recipientsText(m) {
  const c = ui.client;
  const others = (m.to || []).filter((x) => x !== c.self.identity);
  if (isOwn(m)) return `Private to ${listNames((m.to || []).map((x) => c.nameOf(x)))}`;
  if (others.length === 0) return "Private to you";
  return `Private to you and ${listNames(others.map((x) => c.nameOf(x)))}`;
}

/** Whether the message list is scrolled to (within px of) its end. */
export function nearBottom(px = 80) {
  const b = $("messages");
  return b.scrollHeight - b.scrollTop - b.clientHeight < px;
}

export function scrollToBottom() {
  const b = $("messages");
  b.scrollTop = b.scrollHeight;
  $("jump-new").hidden = true;
}

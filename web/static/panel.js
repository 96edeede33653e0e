// @ts-check
// The side panel (chat or people), open or closed: on wide screens beside
// the stage, on narrow ones a full-screen sheet; both close with its ✕.

import { $ } from "./dom.js";
import { ui, wide } from "./state.js";
import { maybeMarkRead, refold, renderUnread } from "./chat-list.js";
import { scrollToBottom } from "./chat-model.js";
import { renderGridLayout } from "./grid.js";

/** @param {"chat"|"people"|null} p */
export function setPanel(p) {
  ui.panel = p;
  $("side").hidden = !p;
  document.body.classList.toggle("panel-open", !!p);
  $("chat-panel").hidden = p !== "chat";
  $("people-panel").hidden = p !== "people";
  $("tab-chat").setAttribute("aria-selected", String(p === "chat"));
  $("tab-people").setAttribute("aria-selected", String(p === "people"));
  $("btn-chat").setAttribute("aria-pressed", String(p === "chat"));
  $("btn-people").setAttribute("aria-pressed", String(p === "people"));
  if (p === "chat") {
    refold();
    scrollToBottom();
    maybeMarkRead();
    if (wide()) $("chat-input").focus({ preventScroll: true });
  }
  renderUnread();
  renderGridLayout();
}

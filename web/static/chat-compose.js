// @ts-check
// The chat panel's menus and composer: the message action bar (reactions,
// reply, edit, pin, delete), recipients of a private message, files,
// typing and error display.

import { formatBytes, REACTIONS } from "./util.js";
import { $, avatar, h, icon, listNames, sameSet } from "./dom.js";
import { closeMenus, ui } from "./state.js";
import { isOwn, msgById, scrollToBottom, snippet } from "./chat-model.js";

/** @typedef {import("./types.js").Message} Message */

export { closeMenus };

const chatInput = () => $("chat-input", HTMLTextAreaElement);

// ---- chat: menus ------------------------------------------------------------------

/**
 * @param {HTMLElement} menu
 * @param {HTMLElement} trigger
 */
export function toggleMenu(menu, trigger) {
  if (ui.openMenu && ui.openMenu.menu === menu) {
    closeMenus();
    return;
  }
  closeMenus();
  menu.hidden = false;
  trigger.setAttribute("aria-expanded", "true");
  ui.openMenu = { menu, trigger, temp: false };
  const first = menu.querySelector("button:not([hidden])");
  if (first instanceof HTMLElement) first.focus();
}

/**
 * A popover attached to a message's action bar. It lives in the message's
 * row, which is updated in place (chat-message.js), so other people's
 * changes to the message leave it open.
 * @param {HTMLElement} anchor
 * @param {HTMLElement} content
 * @param {string} label
 */
function popover(anchor, content, label) {
  closeMenus();
  const msg = /** @type {HTMLElement} */ (anchor.closest(".msg"));
  const pop = h("div", { class: "popover", role: "menu", "aria-label": label }, content);
  msg.append(pop);
  msg.classList.add("menu-open");
  ui.openMenu = { menu: pop, trigger: anchor, temp: true };
  anchor.setAttribute("aria-expanded", "true");
  const obs = new MutationObserver(() => {
    if (!pop.isConnected) {
      msg.classList.remove("menu-open");
      obs.disconnect();
    }
  });
  obs.observe(msg, { childList: true });
  const first = pop.querySelector("button");
  if (first) first.focus();
  pop.addEventListener("keydown", (e) => {
    const btns = [...pop.querySelectorAll("button")];
    const i = btns.findIndex((b) => b === document.activeElement);
    if (e.key === "ArrowRight" || e.key === "ArrowDown") {
      btns[(i + 1) % btns.length].focus();
      e.preventDefault();
    } else if (e.key === "ArrowLeft" || e.key === "ArrowUp") {
      btns[(i - 1 + btns.length) % btns.length].focus();
      e.preventDefault();
    }
  });
  return pop;
}

/**
 * @param {Message} m
 * @param {HTMLElement} anchor
 */
function openReactionPicker(m, anchor) {
  const c = ui.client;
  const row = h("div", { class: "emoji-row" }, ...REACTIONS.map((emoji) => {
    const r = (m.reactions || []).find((x) => x.emoji === emoji);
    const mine = !!(r && r.identities.includes(c.self.identity));
    return h("button", {
      type: "button", role: "menuitemcheckbox", "aria-checked": String(mine), class: `emoji${mine ? " mine" : ""}`, "aria-label": `React with ${emoji}`,
      dataset: { emoji }, text: emoji,
      onclick: () => {
        // The state now, not when the picker opened: others may have reacted since.
        c.toggleReaction(m.id, emoji);
        closeMenus();
      },
    });
  }));
  popover(anchor, row, "Reactions");
}

/**
 * @param {Message} m
 * @param {HTMLElement} anchor
 */
function confirmDelete(m, anchor) {
  const c = ui.client;
  popover(anchor, h("div", { class: "confirm" },
    h("p", { text: isOwn(m) ? "Delete this message for everyone?" : `Delete ${m.senderName}'s message for everyone?` }),
    h("div", { class: "confirm-actions" },
      h("button", { type: "button", class: "btn btn-small", text: "Cancel", onclick: closeMenus }),
      h("button", { type: "button", class: "btn btn-small btn-danger", dataset: { action: "confirm-delete" }, text: "Delete", onclick: () => { c.delete(m.id); closeMenus(); } }))), "Delete message");
}

// ---- chat: composing -----------------------------------------------------------

/** @param {Message} m */
function startReply(m) {
  const c = ui.client;
  ui.replyTo = m.id;
  if ((m.to || []).length) {
    // A reply to a private message stays among its participants.
    ui.recipients = [...new Set([m.sender, ...m.to])].filter((x) => x !== c.self.identity);
    renderRecipients();
  }
  renderComposeContext();
  chatInput().focus();
}

export function renderComposeContext() {
  const box = $("compose-context");
  const m = ui.replyTo && msgById(ui.replyTo);
  box.hidden = !m;
  if (!m) return;
  $("compose-context-title").textContent = `Replying to ${isOwn(m) ? "yourself" : m.senderName}`;
  $("compose-context-text").textContent = snippet(m);
}

/**
 * Opens the edit box in the message's row, over its bubble (kept hidden,
 * and kept up to date, underneath).
 * @param {Message} m
 */
export function startEdit(m) {
  const el = ui.els.get(m.id);
  if (!el || m.deleted) return;
  if (ui.editing && ui.editing !== m.id) cancelEdit();
  if (el.querySelector(".edit-box")) return;
  ui.editing = m.id;
  const bubble = /** @type {HTMLElement} */ (el.querySelector(".bubble"));
  const ta = h("textarea", { class: "edit-input", rows: "2", "aria-label": "Edit message" });
  ta.value = m.text;
  const save = () => {
    const t = ta.value.trim();
    if (!t) return;
    const now = msgById(m.id);
    if (now && t !== now.text) ui.client.edit(m.id, t);
    closeEdit();
  };
  ta.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      save();
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      cancelEdit();
    }
  });
  const box = h("div", { class: "edit-box" }, ta,
    h("div", { class: "edit-actions" },
      h("span", { class: "muted small", text: "Enter to save · Esc to cancel" }),
      h("button", { type: "button", class: "btn btn-small", text: "Cancel", onclick: cancelEdit }),
      h("button", { type: "button", class: "btn btn-small btn-primary", dataset: { action: "save-edit" }, text: "Save", onclick: save })));
  bubble.hidden = true;
  bubble.after(box);
  el.classList.add("editing");
  ta.focus();
  ta.setSelectionRange(ta.value.length, ta.value.length);
}

/** Removes the edit box; the bubble under it is already current. */
function closeEdit() {
  const id = ui.editing;
  ui.editing = null;
  const el = id && ui.els.get(id);
  if (!el) return;
  const box = el.querySelector(".edit-box");
  if (box) box.remove();
  /** @type {HTMLElement} */ (el.querySelector(".bubble")).hidden = false;
  el.classList.remove("editing");
}

export function cancelEdit() {
  closeEdit();
  chatInput().focus();
}

/**
 * The action bars of every row (chat-message.js), by delegation.
 */
export function wireMessageActions() {
  $("message-list").addEventListener("click", (e) => {
    const t = e.target instanceof Element ? e.target : null;
    const btn = t && t.closest(".msg-actions [data-action]");
    const row = btn && btn.closest(".msg");
    if (!(btn instanceof HTMLElement) || !(row instanceof HTMLElement)) return;
    const m = msgById(row.dataset.id);
    if (!m) return;
    const c = ui.client;
    switch (btn.dataset.action) {
      case "react":
        openReactionPicker(m, btn);
        break;
      case "reply":
        startReply(m);
        break;
      case "edit":
        startEdit(m);
        break;
      case "pin":
        c.pin(m.id);
        break;
      case "unpin":
        c.unpin(m.id);
        break;
      case "delete":
        confirmDelete(m, btn);
        break;
    }
  });
}

export function renderRecipients() {
  const c = ui.client;
  const label = $("to-label");
  const composer = $("composer");
  const input = chatInput();
  if (!c) return;
  const names = ui.recipients.map((x) => c.nameOf(x));
  const priv = ui.recipients.length > 0;
  label.textContent = priv ? listNames(names) : "Everyone";
  composer.classList.toggle("private", priv);
  input.placeholder = priv ? `Private message to ${listNames(names)}` : "Send a message to everyone";
  const menu = $("to-menu");
  const people = [...c.participants.values()].filter((p) => p.online || p.chat).sort((a, b) => a.name.localeCompare(b.name));
  // Recipients who left stay selectable until removed.
  for (const id of ui.recipients) if (!people.some((p) => p.identity === id)) people.push({ identity: id, name: c.nameOf(id), tracks: [], muted: false, read: 0, online: false, chat: false });
  /**
   * @param {boolean} checked
   * @param {string} text
   * @param {string|null} sub
   * @param {() => void} onclick
   * @param {string} [identity] absent for "Everyone"
   */
  const item = (checked, text, sub, onclick, identity) => h("button", {
    type: "button", role: "menuitemcheckbox", "aria-checked": String(checked), class: `menu-item${checked ? " checked" : ""}`,
    dataset: identity ? { identity } : { everyone: "1" }, onclick,
  }, h("span", { class: "check" }, checked ? icon("check") : null), identity ? avatar(identity, text, "avatar-sm") : h("span", { class: "avatar avatar-sm everyone" }, icon("people")),
  h("span", { class: "menu-text" }, h("span", { text }), sub ? h("small", { class: "muted", text: sub }) : null));
  menu.replaceChildren(
    item(!priv, "Everyone", "Group message", () => {
      ui.recipients = [];
      renderRecipients();
      closeMenus();
      input.focus();
    }),
    h("div", { class: "menu-sep", role: "separator" }),
    h("div", { class: "menu-label", text: people.length ? "Private to…" : "Nobody else is here yet" }),
    ...people.map((p) => item(ui.recipients.includes(p.identity), p.name, null, () => {
      const i = ui.recipients.indexOf(p.identity);
      if (i >= 0) ui.recipients.splice(i, 1);
      else ui.recipients.push(p.identity);
      renderRecipients();
      const again = menu.querySelector(`[data-identity="${CSS.escape(p.identity)}"]`);
      if (again instanceof HTMLElement) again.focus();
    }, p.identity)),
  );
}

/** @param {File|null|undefined} file */
function pickFile(file) {
  clearFile();
  if (!file) return;
  ui.file = file;
  const isImage = file.type.startsWith("image/");
  $("compose-file").hidden = false;
  $("compose-file-name").textContent = file.name;
  $("compose-file-size").textContent = formatBytes(file.size);
  const thumb = $("compose-file-thumb", HTMLImageElement);
  thumb.hidden = !isImage;
  $("compose-file-icon").hidden = isImage;
  if (isImage) {
    ui.fileURL = URL.createObjectURL(file);
    thumb.src = ui.fileURL;
  }
  chatInput().placeholder = "Add a caption (optional)";
  chatInput().focus();
}

export function clearFile() {
  ui.file = null;
  if (ui.fileURL) URL.revokeObjectURL(ui.fileURL);
  ui.fileURL = "";
  $("compose-file").hidden = true;
  $("compose-file-thumb", HTMLImageElement).removeAttribute("src");
  $("file-input", HTMLInputElement).value = "";
  if (ui.client) renderRecipients();
}

function autoGrow() {
  const ta = chatInput();
  ta.style.height = "auto";
  ta.style.height = `${Math.min(ta.scrollHeight, 160)}px`;
}

/** @param {string} text what the composer holds, trimmed */
function sendTyping(text) {
  const c = ui.client;
  clearTimeout(ui.typingTimer);
  if (!text) {
    if (ui.typingOn) c.typingState(false);
    ui.typingOn = false;
    return;
  }
  const now = Date.now();
  if (!ui.typingOn || now - ui.typingSent > 3000 || !sameSet(ui.typingTo, ui.recipients)) {
    c.typingState(true, ui.recipients);
    ui.typingOn = true;
    ui.typingSent = now;
    ui.typingTo = [...ui.recipients];
  }
  ui.typingTimer = setTimeout(() => {
    if (ui.typingOn) c.typingState(false);
    ui.typingOn = false;
  }, 4000);
}

export function wireComposer() {
  const form = $("composer", HTMLFormElement);
  const input = chatInput();
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    } else if (e.key === "ArrowUp" && !input.value) {
      // Edit your last message, as most chat apps do.
      const c = ui.client;
      for (let i = c.order.length - 1; i >= 0; i--) {
        const m = c.messages.get(c.order[i]);
        if (isOwn(m) && !m.deleted && m.kind === "text") {
          e.preventDefault();
          startEdit(m);
          break;
        }
      }
    }
  });
  input.addEventListener("input", () => {
    autoGrow();
    sendTyping(input.value.trim());
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const c = ui.client;
    const text = input.value;
    const to = [...ui.recipients];
    const replyTo = ui.replyTo || undefined;
    if (ui.file) {
      const file = ui.file;
      ui.file = null;
      c.sendFile(file, { text: text.trim(), to, replyTo }).catch(() => {});
      clearFile();
    } else {
      if (!text.trim()) return;
      c.sendMessage(text, { to, replyTo });
    }
    if (ui.typingOn && !sameSet(ui.typingTo, to)) c.typingState(false);
    ui.typingOn = false;
    clearTimeout(ui.typingTimer);
    input.value = "";
    autoGrow();
    ui.replyTo = null;
    renderComposeContext();
    hideChatError();
    scrollToBottom();
  });
  $("to-button").onclick = (e) => {
    renderRecipients();
    toggleMenu($("to-menu"), $("to-button"));
  };
  $("compose-context-cancel").onclick = () => {
    ui.replyTo = null;
    renderComposeContext();
    input.focus();
  };
  $("file-input", HTMLInputElement).addEventListener("change", (e) => pickFile(/** @type {HTMLInputElement} */ (e.currentTarget).files[0]));
  document.querySelector("label.attach").addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      $("file-input", HTMLInputElement).click();
    }
  });
  $("compose-file-cancel").onclick = () => {
    clearFile();
    input.focus();
  };
  $("chat-error-close").onclick = hideChatError;
  // Pasting an image attaches it.
  input.addEventListener("paste", (e) => {
    const f = [...(e.clipboardData?.files || [])][0];
    if (f) {
      e.preventDefault();
      pickFile(f);
    }
  });
}

let errTimer = 0;
/** @param {string} text */
function showChatError(text) {
  $("chat-error-text").textContent = text;
  $("chat-error").hidden = false;
  clearTimeout(errTimer);
  errTimer = setTimeout(hideChatError, 8000);
}

function hideChatError() {
  $("chat-error").hidden = true;
}

/** @type {Record<string, string>} */
const ERROR_TEXT = {
  too_long: "That message is too long to send.",
  empty: "Type a message first.",
  rate_limited: "You are sending messages too quickly.",
  muted: "A moderator has turned off chat for you.",
  forbidden: "You are not allowed to do that.",
  not_found: "That message is no longer available.",
  too_many: "That is over a limit of this room.",
  unavailable: "Chat is having trouble saving messages.",
  packet_too_large: "That message is too large to send.",
};

/** @param {import("./types.js").ChatError} d */
export function onChatError(d) {
  const input = chatInput();
  let text = ERROR_TEXT[d.code] || "Something went wrong.";
  if (d.message && d.code !== "rate_limited") text += ` (${d.message})`;
  if (d.retrying) {
    const s = Math.ceil((d.retryAfterMs || 1000) / 1000);
    text += ` Sending again in ${s} s…`;
  } else if (d.draft) {
    // Give the draft back, so nothing typed is lost.
    const cur = input.value;
    input.value = cur.trim() ? `${d.draft.text}\n${cur}` : d.draft.text || "";
    if (d.draft.to) ui.recipients = [...d.draft.to];
    if (d.draft.replyTo) ui.replyTo = d.draft.replyTo;
    if (d.draft.file && !ui.file) pickFile(d.draft.file);
    renderRecipients();
    renderComposeContext();
    autoGrow();
    input.focus();
    if (d.draft.text) text += " Your message is back in the box.";
  }
  showChatError(text);
}

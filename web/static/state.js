// @ts-check
// The meeting page's state, shared by app.js and the chat modules.

/** @typedef {import("./backchannel.js").Client} Client */

// ---- page state -------------------------------------------------------------

export const ui = {
  /** @type {Client|null} */
  client: null,
  token: "",
  dev: false,
  /** @type {"chat"|"people"|null} */
  panel: null,
  /** @type {string[]} identities of a private message; [] = everyone */
  recipients: [],
  /** @type {string|null} */
  replyTo: null,
  /** @type {string|null} the message being edited */
  editing: null,
  /** @type {File|null} */
  file: null,
  fileURL: "",
  typingOn: false,
  /** @type {string[]} */
  typingTo: [],
  typingSent: 0,
  typingTimer: 0,
  loadingOlder: false,
  /** @type {{menu: HTMLElement, trigger: HTMLElement|null, temp: boolean}|null} */
  openMenu: null,
  /** @type {Map<string, HTMLElement>} message id → its row */
  els: new Map(),
  /** @type {Set<string>} long messages the user expanded ("Show more") */
  expanded: new Set(),
  /** the join's history was marked read (so that the badge counts only what came after) */
  historyRead: false,
  joinedAt: 0,
  /** @type {MediaStream|null} the join page's preview */
  preview: null,
  previewCam: true,
  previewMic: true,
  /** @type {string} why a moderator removed us, when one did */
  kicked: "",
};

export const wide = () => window.matchMedia("(min-width: 900px)").matches;

// chatVisible: the chat panel is open and the page is in front.
export function chatVisible() {
  return ui.panel === "chat" && document.visibilityState === "visible";
}

/** Closes the open menu or popover, if any. */
export function closeMenus() {
  if (!ui.openMenu) return;
  const { menu, trigger, temp } = ui.openMenu;
  if (temp) menu.remove();
  else menu.hidden = true;
  if (trigger) trigger.setAttribute("aria-expanded", "false");
  ui.openMenu = null;
}

// The meeting page's state, shared by app.js and the chat modules.

// ---- page state -------------------------------------------------------------

export const ui = {
  client: null,
  token: "",
  dev: false,
  panel: null, // "chat" | "people" | null
  recipients: [], // identities of a private message; [] = everyone
  replyTo: null,
  editing: null,
  file: null,
  fileURL: "",
  stick: true,
  typingOn: false,
  typingTo: [],
  typingSent: 0,
  typingTimer: 0,
  loadingOlder: false,
  openMenu: null,
  els: new Map(), // message id → element
  joinedAt: 0,
  preview: null, // MediaStream of the join page preview
  previewCam: true,
  previewMic: true,
};

export const wide = () => window.matchMedia("(min-width: 900px)").matches;

// chatVisible: the chat panel is open and the page is in front.
export function chatVisible() {
  return ui.panel === "chat" && document.visibilityState === "visible";
}

// @ts-check
// The Backchannel meeting page: boot, the meeting's life (join, connection
// state, end), and the wiring of its parts: join.js (join page), grid.js
// (video), people.js (People panel), panel.js (side panel), chat-list.js,
// chat-message.js and chat-compose.js (chat). Every piece of user data
// reaches the DOM through textContent or attribute setters (never
// innerHTML), and links are built as <a> elements only for http and https
// URLs.

import { Client, decodeToken, serverConfig } from "./backchannel.js";
import { $, fillIcons, toast } from "./dom.js";
import { warnKeyChanged } from "./e2ee-ui.js";
import { closeMenus, ui, wide } from "./state.js";
import { forget, remember, showJoin } from "./join.js";
import { attachStream, renderGrid, renderGridLayout } from "./grid.js";
import { renderPeople, renderSelf } from "./people.js";
import { setPanel } from "./panel.js";
import { maybeMarkRead, onLiveMessage, renderMessages, renderOutbox, renderPins, renderTyping, renderUnread, updateMessage, wireMessageList } from "./chat-list.js";
import { cancelEdit, clearFile, onChatError, renderComposeContext, renderRecipients, toggleMenu, wireComposer, wireMessageActions } from "./chat-compose.js";

/** @typedef {import("./join.js").JoinMedia} JoinMedia */

function parseFragment() {
  const p = new URLSearchParams(location.hash.slice(1));
  return { token: p.get("token") || "", camera: p.get("camera") !== "off", microphone: p.get("mic") !== "off" };
}

async function boot() {
  fillIcons();
  // Whether the server mints tokens (--dev): asked once, answered 200 either way.
  const config = serverConfig().catch(() => ({ dev: false }));
  const frag = parseFragment();
  if (frag.token) {
    // Keep the token out of the address bar (and out of links people copy);
    // this tab keeps it for reloads.
    remember(frag.token, { camera: frag.camera, microphone: frag.microphone });
    const claims = decodeToken(frag.token);
    history.replaceState(null, "", claims && claims.room ? `/?room=${encodeURIComponent(claims.room)}` : "/");
    config.then((c) => {
      ui.dev = c.dev;
      renderSelf();
    });
    startMeeting(frag.token, { camera: frag.camera, microphone: frag.microphone });
    return;
  }
  ui.dev = (await config).dev;
  const saved = sessionStorage.getItem("bc.token");
  const params = new URLSearchParams(location.search);
  if (saved) {
    const claims = decodeToken(saved);
    if (claims && claims.room === (params.get("room") || claims.room) && claims.exp * 1000 > Date.now() + 60000) {
      const o = JSON.parse(sessionStorage.getItem("bc.media") || "{}");
      startMeeting(saved, { camera: o.camera !== false, microphone: o.microphone !== false });
      return;
    }
    forget();
  }
  showJoin(params, startMeeting);
}

// ---- meeting ------------------------------------------------------------------

/**
 * @param {string} token
 * @param {JoinMedia} opts
 */
async function startMeeting(token, opts) {
  ui.token = token;
  remember(token, { camera: opts.camera !== false, microphone: opts.microphone !== false });
  const claims = decodeToken(token);
  const room = (claims && claims.room) || "Meeting";
  $("join-view").hidden = true;
  $("ended-view").hidden = true;
  $("meeting-view").hidden = false;
  $("room-title").textContent = room;
  document.title = `${room} · Backchannel`;
  if (ui.preview) {
    for (const t of ui.preview.getTracks()) t.stop();
    ui.preview = null;
  }
  resetChatUI();
  setPanel(wide() ? "chat" : null);

  const c = new Client(token, { camera: opts.camera, microphone: opts.microphone, stream: opts.stream });
  ui.client = c;
  /** @type {Window & {bc?: Client}} */ (window).bc = c; // for the browser console and the tests
  wireClient(c);
  wireMeetingControls();
  renderGrid();
  renderPeople();
  renderSelf();
  ui.joinedAt = Date.now();
  tickClock();
  try {
    await c.connect();
  } catch (err) {
    showEnded("Could not join the meeting", err.message);
  }
}

function resetChatUI() {
  ui.els.clear();
  ui.expanded.clear();
  ui.historyRead = false;
  ui.recipients = [];
  ui.replyTo = null;
  ui.editing = null;
  clearFile();
  $("message-list").replaceChildren();
  $("outbox-list").replaceChildren();
  $("grid").replaceChildren();
  renderComposeContext();
  renderRecipients();
}

let clockTimer = 0;
function tickClock() {
  clearInterval(clockTimer);
  const upd = () => {
    const s = Math.floor((Date.now() - ui.joinedAt) / 1000);
    const hh = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(hh ? 2 : 1, "0");
    const ss = String(s % 60).padStart(2, "0");
    $("clock").textContent = hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
  };
  upd();
  clockTimer = setInterval(upd, 1000);
}

/** @typedef {import("./types.js").ClientEvents} ClientEvents */

/**
 * Listens to one of Client's events, with its detail.
 * @template {keyof ClientEvents} K
 * @param {Client} c
 * @param {K} type
 * @param {(detail: ClientEvents[K]) => void} fn
 */
function on(c, type, fn) {
  c.addEventListener(type, (e) => fn(/** @type {CustomEvent<ClientEvents[K]>} */ (e).detail));
}

/** @param {Client} c */
function wireClient(c) {
  on(c, "state", ({ state, reason }) => {
    renderGrid();
    const b = $("conn-banner");
    if (state === "reconnecting") {
      b.hidden = false;
      b.className = "conn-banner warn";
      b.textContent = "Connection lost. Reconnecting…";
    } else if (state === "connecting") {
      b.hidden = false;
      b.className = "conn-banner";
      b.textContent = "Connecting…";
    } else {
      b.hidden = true;
    }
    document.body.dataset.state = state;
    if (state === "connected") {
      renderGrid();
      renderAll();
    }
    if (state === "closed" && ui.client === c) {
      const system = ["replaced by a newer connection", "server shutting down", "connection failed", "left", "protocol violation"];
      if (reason === "left" && !c.endedByServer) showEnded("You left the meeting", "");
      else if (reason === "replaced by a newer connection") showEnded("You joined from another tab", "This tab left the meeting because you joined again elsewhere.");
      else if (reason === "server shutting down") showEnded("The meeting server is restarting", "Rejoin in a moment.");
      else if (ui.kicked || (c.endedByServer && !system.includes(reason))) showEnded("You were removed from the meeting", ui.kicked || (reason ? `Reason: ${reason}` : ""));
      else showEnded("You were disconnected", reason);
    }
  });
  c.addEventListener("participants", () => {
    renderGrid();
    renderPeople();
    renderRecipients();
  });
  c.addEventListener("self", () => {
    renderSelf();
    renderAll();
  });
  c.addEventListener("localtrack", () => {
    renderSelf();
    renderGrid();
  });
  on(c, "track", (d) => attachStream(d.identity, d.stream));
  c.addEventListener("trackended", () => renderGrid());
  on(c, "message", (d) => onLiveMessage(d.message));
  on(c, "update", (d) => updateMessage(d.message));
  on(c, "messages", ({ reason }) => {
    // What was said before we came is history, not unread news: the badge
    // counts what arrives after joining.
    if (reason === "replay" && !ui.historyRead) {
      ui.historyRead = true;
      c.markRead();
    }
    renderMessages(reason);
  });
  c.addEventListener("outbox", renderOutbox);
  c.addEventListener("pins", renderPins);
  c.addEventListener("typing", renderTyping);
  c.addEventListener("read", renderUnread);
  on(c, "chaterror", onChatError);
  on(c, "kicked", ({ reason }) => {
    ui.kicked = reason ? `Reason: ${reason}` : "A moderator removed you.";
  });
  c.addEventListener("mediaerror", () => toast("Camera or microphone is not available"));
  on(c, "keychanged", (d) => {
    warnKeyChanged(d);
    renderPeople();
  });
}

function renderAll() {
  renderMessages("all");
  renderPins();
  renderOutbox();
  renderTyping();
  renderUnread();
}

/**
 * @param {string} title
 * @param {string} reason
 */
function showEnded(title, reason) {
  forget(); // a reload now shows the start page, not the meeting again
  $("meeting-view").hidden = true;
  $("join-view").hidden = true;
  $("ended-view").hidden = false;
  $("ended-title").textContent = title;
  $("ended-reason").textContent = reason || "";
  $("ended-reason").hidden = !reason;
  clearInterval(clockTimer);
  $("ended-rejoin").onclick = () => {
    const c = ui.client;
    if (c && c.state !== "closed") c.leave();
    startMeeting(ui.token, { camera: c ? c.cameraOn : true, microphone: c ? c.microphoneOn : true });
  };
  $("ended-home").onclick = forget;
  document.title = "Backchannel";
}

let controlsWired = false;
function wireMeetingControls() {
  if (controlsWired) return;
  controlsWired = true;
  $("btn-mic").onclick = async () => {
    const c = ui.client;
    await c.setMicrophone(!c.microphoneOn);
  };
  $("btn-cam").onclick = async () => {
    const c = ui.client;
    await c.setCamera(!c.cameraOn);
  };
  $("btn-chat").onclick = () => setPanel(ui.panel === "chat" ? null : "chat");
  $("btn-people").onclick = () => setPanel(ui.panel === "people" ? null : "people");
  $("people-count").onclick = () => setPanel(ui.panel === "people" ? null : "people");
  $("tab-chat").onclick = () => setPanel("chat");
  $("tab-people").onclick = () => setPanel("people");
  $("side-close").onclick = () => setPanel(null);
  $("btn-leave").onclick = () => {
    forget();
    ui.client.leave();
  };
  $("btn-more").onclick = () => toggleMenu($("more-menu"), $("btn-more"));
  $("menu-copy-link").onclick = async () => {
    closeMenus();
    const link = `${location.origin}/?room=${encodeURIComponent(ui.client.room)}`;
    try {
      await navigator.clipboard.writeText(link);
      toast("Room link copied");
    } catch {
      toast(link);
    }
  };
  $("menu-download").onclick = downloadChat;
  $("audio-unlock").onclick = () => {
    for (const a of document.querySelectorAll("#grid audio")) if (a instanceof HTMLMediaElement) a.play().catch(() => {});
    $("audio-unlock").hidden = true;
  };
  wireComposer();
  wireMessageList();
  wireMessageActions();
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    if (ui.openMenu) {
      const back = ui.openMenu.trigger;
      closeMenus();
      if (back) back.focus();
      e.preventDefault();
    } else if (ui.editing) {
      cancelEdit();
    } else if (ui.replyTo) {
      ui.replyTo = null;
      renderComposeContext();
    } else if (ui.panel && !wide()) {
      setPanel(null);
    }
  });
  document.addEventListener("click", (e) => {
    const t = e.target instanceof Node ? e.target : null;
    if (ui.openMenu && !ui.openMenu.menu.contains(t) && !(ui.openMenu.trigger && ui.openMenu.trigger.contains(t))) closeMenus();
  });
  document.addEventListener("visibilitychange", () => maybeMarkRead());
  if (window.ResizeObserver) new ResizeObserver(() => renderGridLayout()).observe($("grid"));
  else window.addEventListener("resize", () => renderGridLayout());
}

// ---- admin ------------------------------------------------------------------------

async function downloadChat() {
  closeMenus();
  try {
    const url = await ui.client.chatDownloadURL();
    const u = new URL(url, location.href);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("unexpected download address");
    // The CSV is served as an attachment: the page stays.
    location.assign(u.toString());
    toast("Downloading the chat…");
  } catch (err) {
    toast(`Could not export the chat: ${err.message}`);
  }
}

// A link with a token opened in a tab already on this page changes only
// the fragment: join with it.
window.addEventListener("hashchange", () => {
  const c = ui.client;
  if (parseFragment().token && (!c || c.state === "closed")) {
    $("join-view").hidden = true;
    boot();
  }
});

boot();

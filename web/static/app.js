// The Backchannel meeting page: join form, video grid, participants and chat.
// Every piece of user data reaches the DOM through textContent or attribute
// setters (never innerHTML), and links are built as <a> elements only for
// http and https URLs.

import { Client, devToken, decodeToken, formatBytes, REACTIONS } from "./backchannel.js";

const $ = (id) => document.getElementById(id);

// ---- small DOM helpers ------------------------------------------------------

/** h("div", {class: "x", text: "…", onclick}, child…) builds an element. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
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

function icon(name) {
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

function iconSpan(name) {
  const s = h("span", { class: "icon" });
  s.append(icon(name));
  return s;
}

/** Fills every static <span class="icon" data-icon="…">. */
function fillIcons(root = document) {
  for (const el of root.querySelectorAll(".icon[data-icon]")) {
    el.replaceChildren(icon(el.dataset.icon));
  }
}

function setIcon(el, name) {
  const span = el.querySelector(".icon");
  if (span) span.replaceChildren(icon(name));
}

const PALETTE = ["#4f6cf7", "#0ea5a4", "#e05d44", "#9b5de5", "#f59e0b", "#10b981", "#ec4899", "#6366f1", "#14b8a6", "#f97316"];

function colorOf(id) {
  let x = 0;
  for (const c of id || "") x = (x * 31 + c.codePointAt(0)) >>> 0;
  return PALETTE[x % PALETTE.length];
}

function initials(name) {
  const words = (name || "?").trim().split(/\s+/).filter(Boolean);
  const first = (w) => Array.from(w)[0] || "";
  const s = words.length > 1 ? first(words[0]) + first(words[words.length - 1]) : Array.from(words[0] || "?").slice(0, 2).join("");
  return s.toUpperCase();
}

function avatar(identity, name, cls = "") {
  return h("span", { class: `avatar ${cls}`, style: { background: colorOf(identity) }, "aria-hidden": "true", text: initials(name) });
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function timeOf(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : timeFmt.format(d);
}

/** Appends text to el, with http(s) URLs as safe links. */
function appendLinkified(el, text) {
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

function listNames(names) {
  if (names.length <= 1) return names.join("");
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]}`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} others`;
}

function sameSet(a = [], b = []) {
  if ((a || []).length !== (b || []).length) return false;
  const s = new Set(a);
  return (b || []).every((x) => s.has(x));
}

let toastTimer = 0;
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 4000);
}

// ---- page state -------------------------------------------------------------

const ui = {
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

const wide = () => window.matchMedia("(min-width: 900px)").matches;

// ---- join -------------------------------------------------------------------

function parseFragment() {
  const p = new URLSearchParams(location.hash.slice(1));
  return { token: p.get("token") || "", camera: p.get("camera") !== "off", microphone: p.get("mic") !== "off" };
}

function remember(token, media) {
  sessionStorage.setItem("bc.token", token);
  sessionStorage.setItem("bc.media", JSON.stringify(media));
}

function forget() {
  sessionStorage.removeItem("bc.token");
  sessionStorage.removeItem("bc.media");
}

function deviceId() {
  let d = localStorage.getItem("bc.device");
  if (!d) {
    d = Math.random().toString(36).slice(2, 8);
    localStorage.setItem("bc.device", d);
  }
  return d;
}

function slug(s) {
  return (s || "").toLowerCase().normalize("NFKD").replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "guest";
}

async function boot() {
  fillIcons();
  // In --dev the server mints tokens; elsewhere it answers 404.
  const probe = fetch("/v1/dev/token", { cache: "no-store" }).then((r) => r.status, () => 0);
  const frag = parseFragment();
  if (frag.token) {
    // Keep the token out of the address bar (and out of links people copy);
    // this tab keeps it for reloads.
    remember(frag.token, { camera: frag.camera, microphone: frag.microphone });
    const claims = decodeToken(frag.token);
    history.replaceState(null, "", claims && claims.room ? `/?room=${encodeURIComponent(claims.room)}` : "/");
    probe.then((st) => (ui.dev = st !== 404 && st !== 0));
    startMeeting(frag.token, { camera: frag.camera, microphone: frag.microphone });
    return;
  }
  const status = await probe;
  ui.dev = status !== 404 && status !== 0;
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
  showJoin(params);
}

function showJoin(params) {
  $("join-view").hidden = false;
  $("meeting-view").hidden = true;
  $("ended-view").hidden = true;
  if (!ui.dev) {
    $("join-form").hidden = true;
    $("join-invite").hidden = false;
    $("preview-mic").closest(".preview").hidden = true;
    return;
  }
  $("join-room").value = params.get("room") || "";
  $("join-name").value = localStorage.getItem("bc.name") || "";
  (($("join-room").value && $("join-name")) || $("join-room")).focus();
  updatePreviewAvatar();
  $("join-name").addEventListener("input", updatePreviewAvatar);
  $("preview-cam").onclick = () => togglePreview("cam");
  $("preview-mic").onclick = () => togglePreview("mic");
  renderPreviewButtons();
  startPreview();
  $("join-form").onsubmit = async (e) => {
    e.preventDefault();
    const room = $("join-room").value.trim();
    const name = $("join-name").value.trim();
    if (!room || !name) return;
    const btn = $("join-submit");
    btn.disabled = true;
    btn.textContent = "Joining…";
    $("join-error").hidden = true;
    try {
      localStorage.setItem("bc.name", name);
      const t = await devToken({ room, name, identity: `${slug(name)}-${deviceId()}`, admin: $("join-admin").checked });
      remember(t.token, { camera: ui.previewCam, microphone: ui.previewMic });
      history.replaceState(null, "", `/?room=${encodeURIComponent(room)}`);
      const stream = ui.preview;
      ui.preview = null;
      startMeeting(t.token, { camera: ui.previewCam, microphone: ui.previewMic, stream });
    } catch (err) {
      $("join-error").textContent = `Could not join: ${err.message}`;
      $("join-error").hidden = false;
      btn.disabled = false;
      btn.textContent = "Join now";
    }
  };
}

function updatePreviewAvatar() {
  const name = $("join-name").value.trim();
  const a = $("preview-avatar");
  a.textContent = initials(name || "?");
  a.style.background = colorOf(name || "?");
}

async function startPreview() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  try {
    ui.preview = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } },
      audio: { echoCancellation: true, noiseSuppression: true },
    });
    $("preview-video").srcObject = ui.preview;
    applyPreview();
  } catch (err) {
    $("preview-note").textContent = "Camera and microphone are not available";
    ui.previewCam = ui.previewMic = false;
    renderPreviewButtons();
  }
}

function togglePreview(kind) {
  if (kind === "cam") ui.previewCam = !ui.previewCam;
  else ui.previewMic = !ui.previewMic;
  applyPreview();
}

function applyPreview() {
  if (ui.preview) {
    for (const t of ui.preview.getVideoTracks()) t.enabled = ui.previewCam;
    for (const t of ui.preview.getAudioTracks()) t.enabled = ui.previewMic;
  }
  renderPreviewButtons();
}

function renderPreviewButtons() {
  const cam = $("preview-cam");
  const mic = $("preview-mic");
  cam.replaceChildren(icon(ui.previewCam ? "cam" : "camOff"));
  mic.replaceChildren(icon(ui.previewMic ? "mic" : "micOff"));
  cam.setAttribute("aria-pressed", String(ui.previewCam));
  mic.setAttribute("aria-pressed", String(ui.previewMic));
  cam.setAttribute("aria-label", ui.previewCam ? "Turn camera off" : "Turn camera on");
  mic.setAttribute("aria-label", ui.previewMic ? "Turn microphone off" : "Turn microphone on");
  cam.classList.toggle("off", !ui.previewCam);
  mic.classList.toggle("off", !ui.previewMic);
  const showVideo = ui.previewCam && ui.preview && ui.preview.getVideoTracks().length > 0;
  $("preview-video").hidden = !showVideo;
  $("preview-empty").hidden = !!showVideo;
}

// ---- meeting ------------------------------------------------------------------

async function startMeeting(token, opts) {
  ui.token = token;
  remember(token, { camera: opts.camera !== false, microphone: opts.microphone !== false });
  const claims = decodeToken(token) || {};
  $("join-view").hidden = true;
  $("ended-view").hidden = true;
  $("meeting-view").hidden = false;
  $("room-title").textContent = claims.room || "Meeting";
  document.title = `${claims.room || "Meeting"} · Backchannel`;
  if (ui.preview) {
    for (const t of ui.preview.getTracks()) t.stop();
    ui.preview = null;
  }
  resetChatUI();
  setPanel(wide() ? "chat" : null);

  const c = new Client(token, { camera: opts.camera, microphone: opts.microphone, stream: opts.stream });
  ui.client = c;
  window.bc = c; // for the browser console and the tests
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

function wireClient(c) {
  c.addEventListener("state", (e) => {
    const { state, reason } = e.detail;
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
  c.addEventListener("track", (e) => attachStream(e.detail.identity, e.detail.stream));
  c.addEventListener("trackended", () => renderGrid());
  c.addEventListener("message", (e) => onLiveMessage(e.detail.message));
  c.addEventListener("update", (e) => updateMessage(e.detail.message));
  c.addEventListener("messages", (e) => renderMessages(e.detail.reason));
  c.addEventListener("outbox", renderOutbox);
  c.addEventListener("pins", renderPins);
  c.addEventListener("typing", renderTyping);
  c.addEventListener("read", renderUnread);
  c.addEventListener("chaterror", (e) => onChatError(e.detail));
  c.addEventListener("kicked", (e) => {
    ui.kicked = e.detail.reason ? `Reason: ${e.detail.reason}` : "A moderator removed you.";
  });
  c.addEventListener("mediaerror", () => toast("Camera or microphone is not available"));
}

function renderAll() {
  renderMessages("all");
  renderPins();
  renderOutbox();
  renderTyping();
  renderUnread();
}

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
  $("btn-more").onclick = (e) => toggleMenu($("more-menu"), e.currentTarget);
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
    for (const a of document.querySelectorAll("#grid audio")) a.play().catch(() => {});
    $("audio-unlock").hidden = true;
  };
  wireComposer();
  wireMessageList();
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
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
    }
  });
  document.addEventListener("click", (e) => {
    if (ui.openMenu && !ui.openMenu.menu.contains(e.target) && !(ui.openMenu.trigger && ui.openMenu.trigger.contains(e.target))) closeMenus();
  });
  document.addEventListener("visibilitychange", () => maybeMarkRead());
  if (window.ResizeObserver) new ResizeObserver(() => renderGridLayout()).observe($("grid"));
  else window.addEventListener("resize", () => renderGridLayout());
}

function setPanel(p) {
  ui.panel = p;
  const side = $("side");
  side.hidden = !p;
  document.body.classList.toggle("panel-open", !!p);
  $("chat-panel").hidden = p !== "chat";
  $("people-panel").hidden = p !== "people";
  $("tab-chat").setAttribute("aria-selected", String(p === "chat"));
  $("tab-people").setAttribute("aria-selected", String(p === "people"));
  $("btn-chat").setAttribute("aria-pressed", String(p === "chat"));
  $("btn-people").setAttribute("aria-pressed", String(p === "people"));
  if (p === "chat") {
    scrollToBottom();
    maybeMarkRead();
    if (wide()) $("chat-input").focus({ preventScroll: true });
  }
  renderUnread();
  renderGridLayout();
}

function chatVisible() {
  return ui.panel === "chat" && document.visibilityState === "visible";
}

// ---- video grid ---------------------------------------------------------------

function tileFor(identity, name, self) {
  let tile = document.querySelector(`#grid .tile[data-identity="${CSS.escape(identity)}"]`);
  if (tile) return tile;
  const video = h("video", { autoplay: true, playsinline: true, muted: true });
  video.muted = true;
  const label = h("span", { class: "tile-name" });
  tile = h("div", { class: `tile${self ? " self" : ""}`, dataset: { identity } },
    h("div", { class: "tile-avatar" }, avatar(identity, name, "avatar-xl")),
    video,
    h("div", { class: "tile-label" }, h("span", { class: "tile-mic" }, icon("micOff")), label),
  );
  if (!self) {
    const audio = h("audio", { autoplay: true });
    tile.append(audio);
  }
  video.addEventListener("resize", () => tile.classList.toggle("has-video", video.videoWidth > 0));
  video.addEventListener("playing", () => tile.classList.toggle("has-video", video.videoWidth > 0));
  $("grid").append(tile);
  return tile;
}

function renderGrid() {
  const c = ui.client;
  if (!c) return;
  const grid = $("grid");
  const want = new Set([c.self.identity || "_self"]);
  const me = tileFor(c.self.identity || "_self", c.self.name, true);
  me.querySelector(".tile-name").textContent = `${c.self.name || "You"} (you)`;
  const v = me.querySelector("video");
  // A media element with a track-less stream never loads (and holds up the
  // page's load event): attach only when there is video to show.
  const hasVideo = !!c.localStream && c.localStream.getVideoTracks().length > 0;
  if (hasVideo && v.srcObject !== c.localStream) v.srcObject = c.localStream;
  if (!hasVideo && v.srcObject) v.srcObject = null;
  me.classList.toggle("cam-off", !c.cameraOn);
  me.classList.toggle("has-video", c.cameraOn && v.videoWidth > 0);
  me.classList.toggle("mic-off", !c.microphoneOn);
  for (const p of c.participants.values()) {
    if (!p.online) continue;
    want.add(p.identity);
    const t = tileFor(p.identity, p.name, false);
    t.querySelector(".tile-name").textContent = p.name;
    const hasAudio = (p.tracks || []).some((x) => x.kind === "audio");
    const hasVideo = (p.tracks || []).some((x) => x.kind === "video");
    t.classList.toggle("mic-off", !hasAudio);
    t.classList.toggle("cam-off", !hasVideo);
    const stream = c.remoteStreams.get(p.identity);
    if (stream) attachStream(p.identity, stream);
  }
  for (const t of [...grid.children]) if (!want.has(t.dataset.identity)) t.remove();
  renderGridLayout();
}

function attachStream(identity, stream) {
  const c = ui.client;
  const p = c.participants.get(identity);
  const t = tileFor(identity, p ? p.name : identity, false);
  const v = t.querySelector("video");
  const a = t.querySelector("audio");
  if (v.srcObject !== stream && stream.getVideoTracks().length) {
    v.srcObject = stream;
    v.play().catch(() => {});
  }
  if (a && a.srcObject !== stream && stream.getAudioTracks().length) {
    a.srcObject = stream;
    a.play().catch(() => ($("audio-unlock").hidden = false));
  }
  t.classList.toggle("has-video", v.videoWidth > 0);
  renderGridLayout();
}

function renderGridLayout() {
  const grid = $("grid");
  const n = grid.children.length;
  grid.dataset.count = String(Math.min(n, 9));
  // Pick the column count that makes tiles largest for this stage size.
  const gap = parseFloat(getComputedStyle(grid).columnGap) || 12;
  const W = grid.clientWidth - 2;
  const H = grid.clientHeight - 2;
  if (!n || W <= 0 || H <= 0) return;
  let best = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const w = Math.min((W - (cols - 1) * gap) / cols, ((H - (rows - 1) * gap) / rows) * (16 / 9));
    best = Math.max(best, w);
  }
  grid.style.setProperty("--tile-w", `${Math.floor(best)}px`);
}

// ---- participants -------------------------------------------------------------

function renderSelf() {
  const c = ui.client;
  if (!c) return;
  $("self-name").textContent = c.self.name ? `${c.self.name}${c.self.admin ? " · Host" : ""}` : "";
  const mic = $("btn-mic");
  const cam = $("btn-cam");
  setIcon(mic, c.microphoneOn ? "mic" : "micOff");
  setIcon(cam, c.cameraOn ? "cam" : "camOff");
  mic.setAttribute("aria-pressed", String(c.microphoneOn));
  cam.setAttribute("aria-pressed", String(c.cameraOn));
  mic.setAttribute("aria-label", c.microphoneOn ? "Turn microphone off" : "Turn microphone on");
  cam.setAttribute("aria-label", c.cameraOn ? "Turn camera off" : "Turn camera on");
  mic.classList.toggle("off", !c.microphoneOn);
  cam.classList.toggle("off", !c.cameraOn);
  $("menu-download").hidden = !c.self.admin;
  $("menu-copy-link").hidden = !ui.dev;
  $("btn-more").closest(".more-wrap").hidden = !c.self.admin && !ui.dev;
  const muted = c.self.muted || !c.self.canChat;
  $("muted-note").hidden = !muted;
  $("muted-note").textContent = c.self.muted ? "A moderator has turned off chat for you." : "Your invitation does not allow sending chat messages.";
  $("chat-input").disabled = muted;
  $("send-button").disabled = muted;
  $("composer").classList.toggle("disabled", muted);
}

function renderPeople() {
  const c = ui.client;
  if (!c) return;
  const list = $("people-list");
  const people = [...c.participants.values()].filter((p) => p.online || p.chat);
  people.sort((a, b) => a.name.localeCompare(b.name));
  const n = people.length + 1;
  $("people-count-n").textContent = String(n);
  $("tab-people-n").textContent = String(n);
  $("people-count").setAttribute("aria-label", `${n} participant${n === 1 ? "" : "s"}`);
  const row = (p, self) => {
    const hasAudio = self ? c.microphoneOn : (p.tracks || []).some((x) => x.kind === "audio");
    const hasVideo = self ? c.cameraOn : (p.tracks || []).some((x) => x.kind === "video");
    const sub = [];
    if (self && c.self.admin) sub.push("Host");
    if (p.muted) sub.push("Chat off");
    const actions = h("div", { class: "person-actions" });
    if (!self) {
      actions.append(h("button", {
        type: "button", class: "btn btn-small", "aria-label": `Message ${p.name} privately`, text: "Message",
        onclick: () => {
          ui.recipients = [p.identity];
          renderRecipients();
          setPanel("chat");
          $("chat-input").focus();
        },
      }));
      if (c.self.admin) {
        actions.append(
          h("button", { type: "button", class: "btn btn-small", text: p.muted ? "Allow chat" : "Mute chat", "aria-label": `${p.muted ? "Allow chat for" : "Mute chat for"} ${p.name}`, onclick: () => c.mute(p.identity, !p.muted) }),
          h("button", { type: "button", class: "btn btn-small btn-danger", text: "Remove", "aria-label": `Remove ${p.name} from the meeting`, onclick: () => c.kick(p.identity, "removed by the host") }),
        );
      }
    }
    return h("li", { class: "person", dataset: { identity: p.identity } },
      h("span", { class: "person-avatar" }, avatar(p.identity, p.name), h("span", { class: "presence-dot", title: "In the meeting" })),
      h("div", { class: "person-body" },
        h("span", { class: "person-name" }, p.name, self ? h("span", { class: "muted", text: " (you)" }) : null),
        sub.length ? h("span", { class: "person-sub", text: sub.join(" · ") }) : null),
      h("span", { class: "person-media" },
        h("span", { class: `media-ico${hasAudio ? "" : " off"}`, title: hasAudio ? "Microphone on" : "Microphone off" }, icon(hasAudio ? "mic" : "micOff")),
        h("span", { class: `media-ico${hasVideo ? "" : " off"}`, title: hasVideo ? "Camera on" : "Camera off" }, icon(hasVideo ? "cam" : "camOff"))),
      actions,
    );
  };
  list.replaceChildren(
    row({ identity: c.self.identity, name: c.self.name || "You", muted: c.self.muted }, true),
    ...people.map((p) => row(p, false)),
  );
}

// ---- chat: messages -----------------------------------------------------------

function msgById(id) {
  return ui.client && (ui.client.messages.get(id) || ui.client.pins.get(id));
}

function isOwn(m) {
  return m.sender === ui.client.self.identity;
}

function recipientsText(m) {
  const c = ui.client;
  const others = (m.to || []).filter((x) => x !== c.self.identity);
  if (isOwn(m)) return `Private to ${listNames((m.to || []).map((x) => c.nameOf(x)))}`;
  if (others.length === 0) return "Private to you";
  return `Private to you and ${listNames(others.map((x) => c.nameOf(x)))}`;
}

function snippet(m) {
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

function renderMessages(reason) {
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

function onLiveMessage(m) {
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

function updateMessage(m) {
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

function renderOutbox() {
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

function renderPins() {
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

function renderTyping() {
  const c = ui.client;
  const names = [...c.typing.values()].map((t) => t.name);
  const box = $("typing");
  box.replaceChildren();
  if (!names.length) return;
  box.append(h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
    h("span", { text: `${listNames(names)} ${names.length === 1 ? "is" : "are"} typing…` }));
}

function renderUnread() {
  const c = ui.client;
  if (!c) return;
  const n = chatVisible() ? 0 : c.unreadCount();
  const b = $("unread");
  b.hidden = n === 0;
  b.textContent = n > 99 ? "99+" : String(n);
  $("btn-chat").setAttribute("aria-label", n ? `Chat, ${n} unread` : "Chat");
  document.title = `${n ? `(${n}) ` : ""}${c.room || "Meeting"} · Backchannel`;
}

function maybeMarkRead() {
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

function scrollToBottom() {
  const b = $("messages");
  b.scrollTop = b.scrollHeight;
  $("jump-new").hidden = true;
}

function wireMessageList() {
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

// ---- chat: menus ------------------------------------------------------------------

function closeMenus() {
  if (!ui.openMenu) return;
  const { menu, trigger, temp } = ui.openMenu;
  if (temp) menu.remove();
  else menu.hidden = true;
  if (trigger) trigger.setAttribute("aria-expanded", "false");
  ui.openMenu = null;
}

function toggleMenu(menu, trigger) {
  if (ui.openMenu && ui.openMenu.menu === menu) {
    closeMenus();
    return;
  }
  closeMenus();
  menu.hidden = false;
  trigger.setAttribute("aria-expanded", "true");
  ui.openMenu = { menu, trigger, temp: false };
  const first = menu.querySelector("button:not([hidden])");
  if (first) first.focus();
}

/** A popover attached to a message's action bar. */
function popover(anchor, content, label) {
  closeMenus();
  const msg = anchor.closest(".msg");
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
    const i = btns.indexOf(document.activeElement);
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

function openReactionPicker(m, anchor) {
  const c = ui.client;
  const row = h("div", { class: "emoji-row" }, ...REACTIONS.map((emoji) => {
    const r = (m.reactions || []).find((x) => x.emoji === emoji);
    const mine = !!(r && r.identities.includes(c.self.identity));
    return h("button", {
      type: "button", role: "menuitemcheckbox", "aria-checked": String(mine), class: `emoji${mine ? " mine" : ""}`, "aria-label": `React with ${emoji}`,
      dataset: { emoji }, text: emoji,
      onclick: () => {
        c.toggleReaction(m.id, emoji);
        closeMenus();
      },
    });
  }));
  popover(anchor, row, "Reactions");
}

function confirmDelete(m, anchor) {
  const c = ui.client;
  popover(anchor, h("div", { class: "confirm" },
    h("p", { text: isOwn(m) ? "Delete this message for everyone?" : `Delete ${m.senderName}'s message for everyone?` }),
    h("div", { class: "confirm-actions" },
      h("button", { type: "button", class: "btn btn-small", text: "Cancel", onclick: closeMenus }),
      h("button", { type: "button", class: "btn btn-small btn-danger", dataset: { action: "confirm-delete" }, text: "Delete", onclick: () => { c.delete(m.id); closeMenus(); } }))), "Delete message");
}

// ---- chat: composing -----------------------------------------------------------

function startReply(m) {
  const c = ui.client;
  ui.replyTo = m.id;
  if ((m.to || []).length) {
    // A reply to a private message stays among its participants.
    ui.recipients = [...new Set([m.sender, ...m.to])].filter((x) => x !== c.self.identity);
    renderRecipients();
  }
  renderComposeContext();
  $("chat-input").focus();
}

function renderComposeContext() {
  const box = $("compose-context");
  const m = ui.replyTo && msgById(ui.replyTo);
  box.hidden = !m;
  if (!m) return;
  $("compose-context-title").textContent = `Replying to ${isOwn(m) ? "yourself" : m.senderName}`;
  $("compose-context-text").textContent = snippet(m);
}

function startEdit(m, keep) {
  const el = ui.els.get(m.id);
  if (!el || m.deleted) return;
  const prevDraft = keep && el.querySelector(".edit-box textarea") ? el.querySelector(".edit-box textarea").value : null;
  if (ui.editing && ui.editing !== m.id) cancelEdit();
  ui.editing = m.id;
  const bubble = el.querySelector(".bubble");
  const ta = h("textarea", { class: "edit-input", rows: "2", "aria-label": "Edit message" });
  ta.value = prevDraft ?? m.text;
  const save = () => {
    const t = ta.value.trim();
    if (!t) return;
    if (t !== m.text) ui.client.edit(m.id, t);
    ui.editing = null;
    updateMessage(msgById(m.id));
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
  bubble.replaceWith(box);
  el.classList.add("editing");
  if (!keep) {
    ta.focus();
    ta.setSelectionRange(ta.value.length, ta.value.length);
  }
}

function cancelEdit() {
  const id = ui.editing;
  ui.editing = null;
  const m = id && msgById(id);
  if (m) updateMessage(m);
  $("chat-input").focus();
}

function renderRecipients() {
  const c = ui.client;
  const label = $("to-label");
  const composer = $("composer");
  const input = $("chat-input");
  if (!c) return;
  const names = ui.recipients.map((x) => c.nameOf(x));
  const priv = ui.recipients.length > 0;
  label.textContent = priv ? listNames(names) : "Everyone";
  composer.classList.toggle("private", priv);
  input.placeholder = priv ? `Private message to ${listNames(names)}` : "Send a message to everyone";
  const menu = $("to-menu");
  const people = [...c.participants.values()].filter((p) => p.online || p.chat).sort((a, b) => a.name.localeCompare(b.name));
  // Recipients who left stay selectable until removed.
  for (const id of ui.recipients) if (!people.some((p) => p.identity === id)) people.push({ identity: id, name: c.nameOf(id) });
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
      if (again) again.focus();
    }, p.identity)),
  );
}

function pickFile(file) {
  clearFile();
  if (!file) return;
  ui.file = file;
  const isImage = file.type.startsWith("image/");
  $("compose-file").hidden = false;
  $("compose-file-name").textContent = file.name;
  $("compose-file-size").textContent = formatBytes(file.size);
  const thumb = $("compose-file-thumb");
  thumb.hidden = !isImage;
  $("compose-file-icon").hidden = isImage;
  if (isImage) {
    ui.fileURL = URL.createObjectURL(file);
    thumb.src = ui.fileURL;
  }
  $("chat-input").placeholder = "Add a caption (optional)";
  $("chat-input").focus();
}

function clearFile() {
  ui.file = null;
  if (ui.fileURL) URL.revokeObjectURL(ui.fileURL);
  ui.fileURL = "";
  $("compose-file").hidden = true;
  $("compose-file-thumb").removeAttribute("src");
  $("file-input").value = "";
  if (ui.client) renderRecipients();
}

function autoGrow() {
  const ta = $("chat-input");
  ta.style.height = "auto";
  ta.style.height = `${Math.min(ta.scrollHeight, 160)}px`;
}

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

function wireComposer() {
  const form = $("composer");
  const input = $("chat-input");
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
    toggleMenu($("to-menu"), e.currentTarget);
  };
  $("compose-context-cancel").onclick = () => {
    ui.replyTo = null;
    renderComposeContext();
    input.focus();
  };
  $("file-input").addEventListener("change", (e) => pickFile(e.target.files[0]));
  document.querySelector("label.attach").addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      $("file-input").click();
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
function showChatError(text) {
  $("chat-error-text").textContent = text;
  $("chat-error").hidden = false;
  clearTimeout(errTimer);
  errTimer = setTimeout(hideChatError, 8000);
}

function hideChatError() {
  $("chat-error").hidden = true;
}

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

function onChatError(d) {
  const input = $("chat-input");
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

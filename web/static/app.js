// The Backchannel meeting page: join form, video grid, participants and chat.
// Every piece of user data reaches the DOM through textContent or attribute
// setters (never innerHTML), and links are built as <a> elements only for
// http and https URLs.

import { Client, devToken, decodeToken } from "./backchannel.js";
import { $, avatar, colorOf, fillIcons, h, icon, initials, setIcon, toast } from "./dom.js";
import { ui, wide } from "./state.js";
import { maybeMarkRead, onLiveMessage, renderMessages, renderOutbox, renderPins, renderTyping, renderUnread, scrollToBottom, updateMessage, wireMessageList } from "./chat-list.js";
import { cancelEdit, clearFile, closeMenus, onChatError, renderComposeContext, renderRecipients, toggleMenu, wireComposer } from "./chat-compose.js";

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

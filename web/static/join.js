// @ts-check
// The join page: with --dev, a room and a name (the server mints the token)
// and a camera and microphone preview; otherwise a request for an
// invitation link.

import { devToken } from "./util.js";
import { $, hashColor, icon, initials } from "./dom.js";
import { ui } from "./state.js";

/**
 * @typedef {object} JoinMedia
 * @property {boolean} camera
 * @property {boolean} microphone
 * @property {MediaStream} [stream] the preview's stream, handed over
 */

/**
 * Keeps the token (and the media choice) in the tab for reloads.
 * @param {string} token
 * @param {{camera: boolean, microphone: boolean}} media
 */
export function remember(token, media) {
  sessionStorage.setItem("bc.token", token);
  sessionStorage.setItem("bc.media", JSON.stringify(media));
}

export function forget() {
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

/** @param {string} s */
function slug(s) {
  return (s || "").toLowerCase().normalize("NFKD").replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "guest";
}

/**
 * Shows the join page.
 * @param {URLSearchParams} params the address's query (room=)
 * @param {(token: string, media: JoinMedia) => void} join called with a token
 */
export function showJoin(params, join) {
  $("join-view").hidden = false;
  $("meeting-view").hidden = true;
  $("ended-view").hidden = true;
  if (!ui.dev) {
    $("join-form").hidden = true;
    $("join-invite").hidden = false;
    /** @type {HTMLElement} */ ($("preview-mic").closest(".preview")).hidden = true;
    return;
  }
  const roomInput = $("join-room", HTMLInputElement);
  const nameInput = $("join-name", HTMLInputElement);
  roomInput.value = params.get("room") || "";
  nameInput.value = localStorage.getItem("bc.name") || "";
  ((roomInput.value && nameInput) || roomInput).focus();
  updatePreviewAvatar();
  nameInput.addEventListener("input", updatePreviewAvatar);
  $("preview-cam").onclick = () => togglePreview("cam");
  $("preview-mic").onclick = () => togglePreview("mic");
  renderPreviewButtons();
  startPreview();
  $("join-form").onsubmit = async (e) => {
    e.preventDefault();
    const room = roomInput.value.trim();
    const name = nameInput.value.trim();
    if (!room || !name) return;
    const btn = $("join-submit", HTMLButtonElement);
    btn.disabled = true;
    btn.textContent = "Joining…";
    $("join-error").hidden = true;
    try {
      localStorage.setItem("bc.name", name);
      const t = await devToken({ room, name, identity: `${slug(name)}-${deviceId()}`, admin: $("join-admin", HTMLInputElement).checked });
      remember(t.token, { camera: ui.previewCam, microphone: ui.previewMic });
      history.replaceState(null, "", `/?room=${encodeURIComponent(room)}`);
      const stream = ui.preview;
      ui.preview = null;
      join(t.token, { camera: ui.previewCam, microphone: ui.previewMic, stream });
    } catch (err) {
      $("join-error").textContent = `Could not join: ${err.message}`;
      $("join-error").hidden = false;
      btn.disabled = false;
      btn.textContent = "Join now";
    }
  };
}

function updatePreviewAvatar() {
  const name = $("join-name", HTMLInputElement).value.trim();
  const a = $("preview-avatar");
  a.textContent = initials(name || "?");
  a.style.background = hashColor(name || "?");
}

async function startPreview() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  try {
    ui.preview = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } },
      audio: { echoCancellation: true, noiseSuppression: true },
    });
    $("preview-video", HTMLVideoElement).srcObject = ui.preview;
    applyPreview();
  } catch {
    $("preview-note").textContent = "Camera and microphone are not available";
    ui.previewCam = ui.previewMic = false;
    renderPreviewButtons();
  }
}

/** @param {"cam"|"mic"} kind */
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

// @ts-check
// The meeting's video grid: one tile per person (own tile first), with
// their video, audio, name and microphone state, laid out for the largest
// tiles the stage allows.

import { $, avatar, h, icon } from "./dom.js";
import { ui } from "./state.js";

/**
 * The tile of an identity, made on first use.
 * @param {string} identity
 * @param {string} name
 * @param {boolean} self
 */
function tileFor(identity, name, self) {
  let tile = /** @type {HTMLElement|null} */ (document.querySelector(`#grid .tile[data-identity="${CSS.escape(identity)}"]`));
  if (tile) return tile;
  const video = h("video", { autoplay: true, playsinline: true, muted: true });
  video.muted = true;
  const label = h("span", { class: "tile-name" });
  tile = h("div", { class: `tile${self ? " self" : ""}`, dataset: { identity } },
    h("div", { class: "tile-avatar" }, avatar(identity, name, "avatar-xl"), h("span", { class: "tile-state cam-off-mark", text: "camera off" }), h("span", { class: "tile-state reconnecting-mark", text: "reconnecting…" })),
    video,
    h("div", { class: "tile-label" }, h("span", { class: "tile-mic" }, icon("micOff")), label),
  );
  if (!self) tile.append(h("audio", { autoplay: true }));
  const t = tile;
  video.addEventListener("resize", () => t.classList.toggle("has-video", video.videoWidth > 0));
  video.addEventListener("playing", () => t.classList.toggle("has-video", video.videoWidth > 0));
  $("grid").append(tile);
  return tile;
}

export function renderGrid() {
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
  me.classList.toggle("speaking", !!c.speakers && c.speakers.has(c.self.identity));
  for (const p of c.participants.values()) {
    if (!p.online) continue;
    want.add(p.identity);
    const t = tileFor(p.identity, p.name, false);
    t.querySelector(".tile-name").textContent = p.name;
    const hasAudio = (p.tracks || []).some((x) => x.kind === "audio" && !x.muted);
    const hasVideo = (p.tracks || []).some((x) => x.kind === "video" && !x.muted);
    t.classList.toggle("mic-off", !hasAudio);
    t.classList.toggle("cam-off", !hasVideo);
    t.classList.toggle("speaking", !!c.speakers && c.speakers.has(p.identity));
    const stream = c.remoteStreams.get(p.identity);
    // Their media stopped arriving (stalls.js), or our own connection is
    // lost: "reconnecting…" over their avatar, never a frozen or black frame.
    t.classList.toggle("reconnecting", c.stalled.has(p.identity) || c.state === "reconnecting");
    if (stream) attachStream(p.identity, stream);
  }
  for (const t of [...grid.children]) if (t instanceof HTMLElement && !want.has(t.dataset.identity)) t.remove();
  renderGridLayout();
}

/**
 * @param {string} identity
 * @param {MediaStream} stream
 */
export function attachStream(identity, stream) {
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

export function renderGridLayout() {
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

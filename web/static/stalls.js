// @ts-check
// Whose media stopped arriving. A participant whose connection is lost
// stops sending, but Chromium neither ends nor mutes the remote tracks when
// packets stop (the video element keeps its last frame and its clock runs
// on), so the page watches the subscriber's packet counters instead: a
// person whose every unmuted track has received nothing for STALL_MS is
// shown "reconnecting…" until their packets come back (on the same
// connection or after they rejoin) or the server says they left.

/** @typedef {import("./connection.js").Connection} Connection */

/** How long without packets counts as lost: audio sends 50 packets a second and video at its frame rate, so a second and a half of nothing is not a hiccup. */
export const STALL_MS = 1500;
const POLL_MS = 500;
/** How long someone shown reconnecting stays so while they have no media yet (a rejoin publishes anew); after that, their tile shows what it would without the loss. */
const HOLD_MS = 10000;

/**
 * Polls c's subscriber connection of generation gen until the next
 * (re)connect, keeping c.stalled current and emitting "participants" when it
 * changes.
 * @param {Connection} c
 * @param {number} gen
 */
export function watchStalls(c, gen) {
  /** @type {Map<string, {packets: number, at: number}>} remote track id → last packet count and when it last grew */
  const seen = new Map();
  /** @type {Map<string, number>} identity → when it was first shown reconnecting */
  const since = new Map();
  const timer = setInterval(async () => {
    const pc = c._sub;
    if (gen !== c._gen || !pc) {
      clearInterval(timer);
      return;
    }
    let report;
    try {
      report = await pc.getStats();
    } catch {
      return; // closed meanwhile
    }
    if (gen !== c._gen) return;
    const now = Date.now();
    report.forEach((s) => {
      if (s.type !== "inbound-rtp" || !s.trackIdentifier) return;
      const last = seen.get(s.trackIdentifier);
      if (!last || s.packetsReceived > last.packets) seen.set(s.trackIdentifier, { packets: s.packetsReceived || 0, at: now });
    });
    const stalled = new Set();
    for (const identity of new Set([...c.remoteStreams.keys(), ...c.stalled])) {
      const p = c.participants.get(identity);
      if (!p || !p.online) {
        since.delete(identity);
        continue; // gone: their tile goes too
      }
      // Only tracks the publisher did not mute: a muted one is quiet on purpose.
      const stream = c.remoteStreams.get(identity);
      const live = (stream ? stream.getTracks() : []).filter((x) => (p.tracks || []).some((i) => i.kind === x.kind && !i.muted));
      const packets = (/** @type {MediaStreamTrack} */ x) => seen.get(x.id)?.packets || 0;
      if (live.some((x) => packets(x) > 0 && now - (seen.get(x.id)?.at || 0) <= STALL_MS)) {
        since.delete(identity); // media is arriving
        continue;
      }
      // Media that flowed and stopped; or, for someone already shown
      // reconnecting, media not back yet: after a rejoin their new tracks
      // take a moment, and "camera off" meanwhile would be untrue.
      const lost = live.some((x) => packets(x) > 0);
      const waiting = c.stalled.has(identity) && now - (since.get(identity) || now) < HOLD_MS;
      if (lost || waiting) {
        if (!since.has(identity)) since.set(identity, now);
        stalled.add(identity);
      } else {
        since.delete(identity);
      }
    }
    if (stalled.size !== c.stalled.size || [...stalled].some((i) => !c.stalled.has(i))) {
      c.stalled = stalled;
      c._emit("participants", {});
    }
  }, POLL_MS);
}

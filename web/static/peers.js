// @ts-check
// The two RTCPeerConnections of a Connection (connection.js): the publisher
// (own camera, microphone and the "chat" data channel) and the subscriber
// (everyone else's tracks, offered by the server).

import { watchStalls } from "./stalls.js";
import { REQUEST_TIMEOUT } from "./util.js";

/** @typedef {import("./connection.js").Connection} Connection */

/**
 * Whether pc was closed (also while an await was pending).
 * @param {RTCPeerConnection} pc
 */
const closed = (pc) => pc.signalingState === "closed";

/**
 * @param {Connection} c
 * @param {RTCIceServer[]} iceServers
 * @param {number} gen
 * @param {() => void} opened
 * @param {(err: Error) => void} fail
 */
export function setupPeers(c, iceServers, gen, opened, fail) {
  /** @type {RTCConfiguration} */
  const config = { iceServers, bundlePolicy: "max-bundle" };
  const pub = new RTCPeerConnection(config);
  const sub = new RTCPeerConnection(config);
  c._pub = pub;
  c._sub = sub;
  pub.onicecandidate = (e) => {
    if (e.candidate && gen === c._gen) c._sendSignal({ type: "candidate", target: "publisher", candidate: e.candidate.toJSON() });
  };
  sub.onicecandidate = (e) => {
    if (e.candidate && gen === c._gen) c._sendSignal({ type: "candidate", target: "subscriber", candidate: e.candidate.toJSON() });
  };
  /** @param {RTCPeerConnection} pc @param {string} name */
  const watch = (pc, name) => {
    let timer = 0;
    pc.onconnectionstatechange = () => {
      if (gen !== c._gen) return;
      clearTimeout(timer);
      if (pc.connectionState === "failed") c._lost(`${name} connection failed`);
      if (pc.connectionState === "disconnected") {
        timer = setTimeout(() => {
          if (gen === c._gen && pc.connectionState === "disconnected") c._lost(`${name} connection lost`);
        }, 5000);
      }
    };
  };
  watch(pub, "media");
  watch(sub, "media");
  // Whose media stopped: the grid shows them "reconnecting…".
  watchStalls(c, gen);
  sub.ontrack = (e) => {
    const stream = e.streams[0];
    if (!stream) return;
    const identity = stream.id;
    c.remoteStreams.set(identity, stream);
    stream.onremovetrack = (ev) => {
      if (gen === c._gen) c._emit("trackended", { identity, stream, track: ev.track });
    };
    c._emit("track", { identity, stream, track: e.track });
  };

  const dc = pub.createDataChannel("chat", { ordered: true });
  c._dc = dc;
  dc.onopen = () => {
    if (gen !== c._gen) return;
    c._attempt = 0;
    c._setState("connected");
    c._startPing(gen);
    opened();
    c._onOpen();
  };
  dc.onclose = () => {
    if (gen === c._gen && c.state === "connected") c._lost("chat channel closed");
  };
  // The server writes binary messages of UTF-8 JSON.
  dc.binaryType = "arraybuffer";
  const utf8 = new TextDecoder();
  dc.onmessage = (e) => {
    if (gen !== c._gen) return;
    let p;
    try {
      p = JSON.parse(typeof e.data === "string" ? e.data : utf8.decode(e.data));
    } catch {
      return;
    }
    c._onChat(p);
  };

  for (const t of c.localStream ? c.localStream.getTracks() : []) pub.addTrack(t, c.localStream);
  c._offer().catch((err) => fail && fail(err));
}

/**
 * Offers the publisher connection (first time and after track changes).
 * @param {Connection} c
 * @returns {Promise<void>}
 */
export function offerPublisher(c) {
  const pc = c._pub;
  c._pubChain = c._pubChain.then(async () => {
    if (!pc || pc !== c._pub || closed(pc)) return;
    let timer = 0;
    /** @type {Promise<string>} */
    const answered = new Promise((resolve, reject) => {
      c._answered = resolve;
      timer = setTimeout(() => reject(new Error("the server did not answer the offer")), REQUEST_TIMEOUT);
    });
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      c._sendSignal({ type: "offer", target: "publisher", sdp: pc.localDescription.sdp });
      const sdp = await answered;
      if (pc === c._pub && !closed(pc)) await pc.setRemoteDescription({ type: "answer", sdp });
    } finally {
      clearTimeout(timer);
      c._answered = null;
    }
  });
  const done = c._pubChain;
  // Keep the chain usable after a failure; the caller sees the error.
  c._pubChain = done.catch(() => {});
  return done;
}

/**
 * @param {Connection} c
 * @param {string} sdp
 */
export function answerSubscriber(c, sdp) {
  const pc = c._sub;
  c._subChain = c._subChain
    .then(async () => {
      if (pc !== c._sub || closed(pc)) return;
      await pc.setRemoteDescription({ type: "offer", sdp });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      c._sendSignal({ type: "answer", target: "subscriber", sdp: pc.localDescription.sdp });
    })
    .catch((err) => console.warn("backchannel: subscriber offer", err));
}


// Backchannel browser client.
//
// A plain ES module (no build step, no dependencies) that joins a Backchannel
// room the way the bundled meeting page does, so that other web apps can
// import it:
//
//   import { connect } from "/backchannel.js";
//   const room = await connect(token, { camera: true, microphone: true });
//   room.addEventListener("message", (e) => console.log(e.detail.message));
//   await room.sendMessage("hello", { to: ["bob"] });
//
// What it does: the signaling WebSocket (/v1/rtc), the two RTCPeerConnections
// (publisher: camera, microphone and the "chat" data channel; subscriber:
// everyone else's tracks), every chat packet of docs/protocol.md, attachment
// upload and signed URLs, history paging, and reconnection after a network
// drop without gaps or duplicates (seq numbers, history and clientId retries
// of unacked messages).
//
// State lives on the client object (participants, messages, pins, typing,
// outbox); every change is announced with a CustomEvent whose detail says what
// changed. See the README comment above Client for the list.

import { BackchannelError, REQUEST_TIMEOUT, decodeToken, newClientId } from "./util.js";
import { receiving } from "./receive.js";
import { sending } from "./send.js";
import { devices } from "./devices.js";
import { api } from "./api.js";

export { REACTIONS, BackchannelError, decodeToken, devToken, formatBytes, newClientId } from "./util.js";

const RECONNECT_DELAYS = [300, 1000, 2000, 4000, 8000];
const RECONNECT_MAX = 10000;
const CONNECT_TIMEOUT = 20000;
const PING_EVERY = 10000;
const PONG_DEADLINE = 30000;

/**
 * Connects and resolves once the chat channel is open.
 * @param {string} token participant access token
 * @param {object} [options] see Client
 */
export async function connect(token, options = {}) {
  const c = new Client(token, options);
  await c.connect();
  return c;
}

/**
 * A connection to one room.
 *
 * Options: url (server base, default location.origin), camera, microphone
 * (booleans: publish on connect, default true), stream (a MediaStream to
 * publish instead of asking for devices), videoConstraints, reconnect
 * (default true).
 *
 * Events (CustomEvent, details in brackets):
 *   state        {state: "connecting"|"connected"|"reconnecting"|"closed", reason}
 *   participants {}                      the participants map changed
 *   self         {}                      own grants or chat mute changed
 *   localtrack   {track}                 own stream changed (camera/mic on, off)
 *   track        {identity, stream, track}
 *   trackended   {identity, stream, track}
 *   message      {message}               a new message (live)
 *   update       {message, change}       edit, delete, reaction, pin, unpin
 *   messages     {reason}                several messages merged (history, replay, reset)
 *   outbox       {}                      own unacked messages changed
 *   pins         {}                      the pinned set changed
 *   typing       {}                      who is typing changed
 *   read         {identity, seq}         a read horizon moved
 *   chaterror    {code, message, clientId, draft, retrying, op}
 *   kicked       {by, reason}
 *   resync       {dropped, lastSeq}
 *   packet       {packet}                every chat packet received (debugging)
 */
export class Client extends EventTarget {
  constructor(token, options = {}) {
    super();
    this.token = token;
    this.options = { camera: true, microphone: true, reconnect: true, ...options };
    this.baseURL = (options.url || location.origin).replace(/\/$/, "");
    const claims = decodeToken(token) || {};
    /** Own identity and grants; chat presence fills canChat, canPin, muted. */
    this.self = {
      identity: claims.identity || "",
      name: claims.name || "",
      admin: !!claims.admin,
      canChat: true,
      canPin: !!claims.admin,
      muted: false,
      read: 0,
    };
    this.room = claims.room || "";
    this.state = "idle";
    this.closeReason = "";
    /** true when the server ended the session (its leave reason is closeReason) */
    this.endedByServer = false;
    /** identity → {identity, name, tracks: [], muted, read, online} */
    this.participants = new Map();
    /** identity → MediaStream of that publisher */
    this.remoteStreams = new Map();
    this.localStream = null;
    this.cameraOn = false;
    this.microphoneOn = false;

    /** id → message (as sent by the server, current state applied) */
    this.messages = new Map();
    /** ids in seq order */
    this.order = [];
    /** true while older history may exist before the oldest loaded message */
    this.hasMore = false;
    /** id → pinned message */
    this.pins = new Map();
    /** identity → {identity, name, to, until} */
    this.typing = new Map();
    /** clientId → own message not acknowledged yet */
    this.outbox = new Map();
    /** the last chat packets received, parsed, oldest first (debugging, tests) */
    this.received = [];

    this._ws = null;
    this._pub = null;
    this._sub = null;
    this._dc = null;
    this._gen = 0; // bumps on every (re)connect so stale callbacks do nothing
    this._waiters = new Map(); // clientId → {resolve, reject, timer}
    this._ops = new Map(); // clientId → op packet awaiting send or error
    this._attempt = 0;
    this._reconnectTimer = 0;
    this._pingTimer = 0;
    this._lastPong = 0;
    this._pubChain = Promise.resolve();
    this._subChain = Promise.resolve();
    this._readSent = 0;
    this._readTimer = 0;
    this._typingTimers = new Map();
    this._urlCache = new Map();
    this._blockUntil = 0;
  }

  // ---- connection ------------------------------------------------------

  /** Gets media (if asked), joins, and resolves once chat is open. */
  async connect() {
    if (this.options.stream) {
      this.localStream = this.options.stream;
    } else if (this.options.camera || this.options.microphone) {
      await this._getMedia(!!this.options.camera, !!this.options.microphone);
    }
    if (!this.localStream) this.localStream = new MediaStream();
    this.cameraOn = this.localStream.getVideoTracks().some((t) => t.enabled);
    this.microphoneOn = this.localStream.getAudioTracks().some((t) => t.enabled);
    this._emit("localtrack", {});
    this._setState("connecting");
    try {
      await this._connectOnce();
    } catch (err) {
      if (this.state === "closed") throw err;
      if (err.fatal || !this.options.reconnect) {
        this._teardown();
        this._setState("closed", err.message);
        throw err;
      }
      this._scheduleReconnect(err.message);
    }
    return this;
  }

  _wsURL() {
    const u = new URL(this.baseURL + "/v1/rtc");
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    u.searchParams.set("access_token", this.token);
    return u.toString();
  }

  /** One attempt: socket, join, both peer connections, chat open. */
  _connectOnce() {
    const gen = ++this._gen;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (gen === this._gen) this._teardown();
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error("timed out connecting")), CONNECT_TIMEOUT);
      let ws;
      try {
        ws = new WebSocket(this._wsURL());
      } catch (err) {
        fail(err);
        return;
      }
      this._ws = ws;
      ws.onopen = () => this._sendSignal({ type: "join" });
      ws.onerror = () => {};
      let opened = false;
      ws.addEventListener("open", () => (opened = true));
      ws.onclose = async (ev) => {
        if (gen !== this._gen) return;
        if (!settled) {
          // A refused socket tells the page nothing; ask again over plain
          // HTTP, where the server says why (expired token, wrong room…).
          const refused = opened ? null : await this._refusal();
          const e = new Error(refused || this._leaveReason || "could not connect to the server");
          e.fatal = !!refused || (!!this._leaveReason && this._leaveReason !== "connection failed");
          fail(e);
          return;
        }
        this._lost(this._leaveReason || `signaling closed (${ev.code})`);
      };
      ws.onmessage = (ev) => {
        if (gen !== this._gen) return;
        let m;
        try {
          m = JSON.parse(ev.data);
        } catch {
          return;
        }
        this._onSignal(m, gen, () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve();
        }, fail);
      };
    });
  }

  /** Why the server refuses this token (401/403 reason), or null. */
  async _refusal() {
    try {
      const res = await fetch(this._wsURL().replace(/^ws/, "http"), { cache: "no-store" });
      if (res.status !== 401 && res.status !== 403) return null;
      const body = await res.json().catch(() => ({}));
      return body.reason || `refused (HTTP ${res.status})`;
    } catch {
      return null;
    }
  }

  _sendSignal(m) {
    if (this._ws && this._ws.readyState === WebSocket.OPEN) this._ws.send(JSON.stringify(m));
  }

  _onSignal(m, gen, opened, fail) {
    switch (m.type) {
      case "joined":
        this.room = m.room || this.room;
        if (m.participant) {
          this.self.identity = m.participant.identity;
          this.self.name = m.participant.name || this.self.name;
        }
        this._leaveReason = "";
        // The signaling list is authoritative for who is in the meeting.
        for (const p of this.participants.values()) p.online = false;
        for (const p of m.participants || []) this._upsertParticipant(p.identity, { name: p.name, tracks: p.tracks || [], online: true });
        for (const [id, p] of this.participants) if (!p.online && !p.chat) this.participants.delete(id);
        this._emit("participants", {});
        this._setupPeers(m.iceServers || [], gen, opened, fail);
        break;
      case "answer":
        if (m.target === "publisher" && this._answered) this._answered(m.sdp);
        break;
      case "offer":
        if (m.target === "subscriber" && this._sub) this._answerSubscriber(m.sdp);
        break;
      case "participantJoined": {
        const p = m.participant;
        this._upsertParticipant(p.identity, { name: p.name, tracks: p.tracks || [], online: true });
        this._emit("participants", {});
        break;
      }
      case "participantLeft":
        this._removeParticipantMedia(m.identity);
        this.participants.delete(m.identity);
        this._emit("participants", {});
        break;
      case "trackPublished": {
        const t = m.track;
        const p = this._upsertParticipant(t.publisher, { online: true });
        p.tracks = (p.tracks || []).filter((x) => x.id !== t.id).concat([t]);
        this._emit("participants", {});
        break;
      }
      case "trackUnpublished": {
        const t = m.track;
        const p = this.participants.get(t.publisher);
        if (p) p.tracks = (p.tracks || []).filter((x) => x.id !== t.id);
        this._emit("participants", {});
        break;
      }
      case "pong":
        this._lastPong = Date.now();
        break;
      case "leave":
        this._leaveReason = m.reason || "left";
        break;
      case "error":
        console.warn("backchannel: signaling error", m.code, m.message);
        if (m.code === "join_failed" || m.code === "forbidden") {
          const e = new BackchannelError(m.code, m.message);
          e.fatal = true;
          if (fail) fail(e);
        }
        break;
    }
  }

  _setupPeers(iceServers, gen, opened, fail) {
    const config = { iceServers, bundlePolicy: "max-bundle" };
    const pub = new RTCPeerConnection(config);
    const sub = new RTCPeerConnection(config);
    this._pub = pub;
    this._sub = sub;
    pub.onicecandidate = (e) => {
      if (e.candidate && gen === this._gen) this._sendSignal({ type: "candidate", target: "publisher", candidate: e.candidate.toJSON() });
    };
    sub.onicecandidate = (e) => {
      if (e.candidate && gen === this._gen) this._sendSignal({ type: "candidate", target: "subscriber", candidate: e.candidate.toJSON() });
    };
    const watch = (pc, name) => {
      let timer = 0;
      pc.onconnectionstatechange = () => {
        if (gen !== this._gen) return;
        clearTimeout(timer);
        if (pc.connectionState === "failed") this._lost(`${name} connection failed`);
        if (pc.connectionState === "disconnected") {
          timer = setTimeout(() => {
            if (gen === this._gen && pc.connectionState === "disconnected") this._lost(`${name} connection lost`);
          }, 5000);
        }
      };
    };
    watch(pub, "media");
    watch(sub, "media");
    sub.ontrack = (e) => {
      const stream = e.streams[0];
      if (!stream) return;
      const identity = stream.id;
      this.remoteStreams.set(identity, stream);
      stream.onremovetrack = (ev) => {
        if (gen === this._gen) this._emit("trackended", { identity, stream, track: ev.track });
      };
      this._emit("track", { identity, stream, track: e.track });
    };

    const dc = pub.createDataChannel("chat", { ordered: true });
    this._dc = dc;
    dc.onopen = () => {
      if (gen !== this._gen) return;
      this._attempt = 0;
      this._setState("connected");
      this._startPing(gen);
      opened();
      this._flush();
    };
    dc.onclose = () => {
      if (gen === this._gen && this.state === "connected") this._lost("chat channel closed");
    };
    // The server writes binary messages of UTF-8 JSON.
    dc.binaryType = "arraybuffer";
    const utf8 = new TextDecoder();
    dc.onmessage = (e) => {
      if (gen !== this._gen) return;
      let p;
      try {
        p = JSON.parse(typeof e.data === "string" ? e.data : utf8.decode(e.data));
      } catch {
        return;
      }
      this._onChat(p);
    };

    for (const t of this.localStream ? this.localStream.getTracks() : []) pub.addTrack(t, this.localStream);
    this._offer().catch((err) => fail && fail(err));
  }

  /** Offers the publisher connection (first time and after track changes). */
  _offer() {
    const pc = this._pub;
    this._pubChain = this._pubChain.then(async () => {
      if (!pc || pc !== this._pub || pc.signalingState === "closed") return;
      let timer = 0;
      const answered = new Promise((resolve, reject) => {
        this._answered = resolve;
        timer = setTimeout(() => reject(new Error("the server did not answer the offer")), REQUEST_TIMEOUT);
      });
      try {
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        this._sendSignal({ type: "offer", target: "publisher", sdp: pc.localDescription.sdp });
        const sdp = await answered;
        if (pc === this._pub && pc.signalingState !== "closed") await pc.setRemoteDescription({ type: "answer", sdp });
      } finally {
        clearTimeout(timer);
        this._answered = null;
      }
    });
    const done = this._pubChain;
    // Keep the chain usable after a failure; the caller sees the error.
    this._pubChain = done.catch(() => {});
    return done;
  }

  _answerSubscriber(sdp) {
    const pc = this._sub;
    this._subChain = this._subChain
      .then(async () => {
        if (pc !== this._sub || pc.signalingState === "closed") return;
        await pc.setRemoteDescription({ type: "offer", sdp });
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        this._sendSignal({ type: "answer", target: "subscriber", sdp: pc.localDescription.sdp });
      })
      .catch((err) => console.warn("backchannel: subscriber offer", err));
  }

  _startPing(gen) {
    clearInterval(this._pingTimer);
    this._lastPong = Date.now();
    this._pingTimer = setInterval(() => {
      if (gen !== this._gen) return;
      if (Date.now() - this._lastPong > PONG_DEADLINE) {
        this._lost("server stopped answering");
        return;
      }
      this._sendSignal({ type: "ping", timestamp: Date.now() });
    }, PING_EVERY);
  }

  /** The connection broke: reconnect unless the server ended the session. */
  _lost(reason) {
    if (this.state === "closed" || this.state === "reconnecting") return;
    const leave = this._leaveReason;
    this._teardown();
    if ((leave && leave !== "connection failed") || !this.options.reconnect) {
      this.endedByServer = !!leave;
      this._setState("closed", leave || reason);
      return;
    }
    this._scheduleReconnect(reason);
  }

  _scheduleReconnect(reason) {
    this._setState("reconnecting", reason);
    clearTimeout(this._reconnectTimer);
    const base = RECONNECT_DELAYS[this._attempt] ?? RECONNECT_MAX;
    this._attempt++;
    const delay = Math.max(base * (0.8 + Math.random() * 0.4), this._blockUntil - Date.now());
    this._reconnectTimer = setTimeout(async () => {
      if (this.state !== "reconnecting") return;
      if (Date.now() < this._blockUntil) {
        this._scheduleReconnect(reason);
        return;
      }
      try {
        await this._connectOnce();
      } catch (err) {
        if (this.state !== "reconnecting") return;
        if (err.fatal) {
          this._setState("closed", err.message);
          return;
        }
        this._scheduleReconnect(err.message);
      }
    }, delay);
  }

  /** Closes sockets and peers without telling the server (it notices). */
  _teardown() {
    this._gen++;
    clearInterval(this._pingTimer);
    if (this._ws) {
      this._ws.onclose = this._ws.onmessage = this._ws.onopen = null;
      try {
        this._ws.close();
      } catch {
        /* already closed */
      }
    }
    for (const pc of [this._pub, this._sub]) {
      if (!pc) continue;
      pc.onconnectionstatechange = pc.onicecandidate = pc.ontrack = null;
      try {
        pc.close();
      } catch {
        /* already closed */
      }
    }
    if (this._dc) this._dc.onclose = this._dc.onmessage = this._dc.onopen = null;
    this._ws = this._pub = this._sub = this._dc = null;
    this._pubChain = Promise.resolve();
    this._subChain = Promise.resolve();
    this._answered = null;
    for (const [identity, stream] of this.remoteStreams) {
      for (const track of stream.getTracks()) this._emit("trackended", { identity, stream, track });
    }
    this.remoteStreams.clear();
    for (const [, w] of this._waiters) {
      clearTimeout(w.timer);
      w.reject(new BackchannelError("unavailable", "connection lost"));
    }
    this._waiters.clear();
    clearTimeout(this._ackTimer);
    // Unacked messages go again with the same clientId once reconnected.
    // Other operations already sent may or may not have been applied; they
    // are not repeated (the replay shows their outcome).
    for (const e of this.outbox.values()) e.sent = false;
    for (const [cid, op] of this._ops) if (op.sent) this._ops.delete(cid);
    this._clearTyping();
  }

  _setState(state, reason = "") {
    if (this.state === state && this.closeReason === reason) return;
    this.state = state;
    this.closeReason = reason;
    this._emit("state", { state, reason });
  }

  /** Leaves the meeting for good; media devices are released. */
  leave() {
    clearTimeout(this._reconnectTimer);
    this._sendSignal({ type: "leave" });
    const ws = this._ws;
    this._ws = null; // let the leave go out before the socket closes
    if (ws) setTimeout(() => ws.close(), 200);
    this._teardown();
    if (this.localStream) for (const t of this.localStream.getTracks()) t.stop();
    this._setState("closed", "left");
  }

  /**
   * Test and diagnostics hook: drops the connection as a network failure
   * would (no leave sent) and keeps it down for ms milliseconds.
   */
  simulateNetworkDrop(ms = 1000) {
    this._blockUntil = Date.now() + ms;
    this._lost("network dropped (simulated)");
  }

  _upsertParticipant(identity, fields) {
    let p = this.participants.get(identity);
    if (!p) {
      p = { identity, name: identity, tracks: [], muted: false, read: 0, online: false, chat: false };
      this.participants.set(identity, p);
    }
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== "") p[k] = v;
    return p;
  }

  _removeParticipantMedia(identity) {
    const s = this.remoteStreams.get(identity);
    if (!s) return;
    this.remoteStreams.delete(identity);
    for (const track of s.getTracks()) this._emit("trackended", { identity, stream: s, track });
  }

  /** The display name of an identity, as best known. */
  nameOf(identity) {
    if (identity === this.self.identity) return this.self.name || identity;
    const p = this.participants.get(identity);
    if (p && p.name) return p.name;
    for (let i = this.order.length - 1; i >= 0; i--) {
      const m = this.messages.get(this.order[i]);
      if (m.sender === identity && m.senderName) return m.senderName;
    }
    return identity;
  }

  // ---- chat: sending -----------------------------------------------------

  get chatOpen() {
    return !!this._dc && this._dc.readyState === "open";
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

// The chat protocol's receiving and sending halves live in receive.js and
// send.js; the devices and the HTTP API in devices.js and api.js.
Object.assign(Client.prototype, receiving, sending, devices, api);

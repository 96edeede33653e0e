// @ts-check
// The transport under Client (backchannel.js): the signaling WebSocket
// (/v1/rtc), the publisher and subscriber RTCPeerConnections, the "chat"
// data channel, keepalive and reconnection. The chat layers above it
// (send.js, receive.js) override the three hooks at the end of the class.

import { BackchannelError, decodeToken } from "./util.js";
import { answerSubscriber, offerPublisher, setupPeers } from "./peers.js";

/** @typedef {import("./types.js").Participant} Participant */
/** @typedef {import("./types.js").Self} Self */
/** @typedef {import("./types.js").Signal} Signal */
/** @typedef {import("./types.js").ServerPacket} ServerPacket */

/**
 * @typedef {object} ClientOptions
 * @property {string} [url] server base, default location.origin
 * @property {boolean} [camera] publish the camera on connect (default true)
 * @property {boolean} [microphone] publish the microphone on connect (default true)
 * @property {MediaStream} [stream] publish this stream instead of asking for devices
 * @property {MediaTrackConstraints} [videoConstraints]
 * @property {boolean} [reconnect] reconnect after a network drop (default true)
 */

const RECONNECT_DELAYS = [300, 1000, 2000, 4000, 8000];
/** Leave reasons after which the client reconnects rather than ends. */
const RECONNECT_REASONS = ["connection failed", "room moved to another node, reconnect"];
/** Redirects followed in a row (a cluster settles in one). */
const MAX_REDIRECTS = 3;
const RECONNECT_MAX = 10000;
const CONNECT_TIMEOUT = 20000;
const PING_EVERY = 10000;
const PONG_DEADLINE = 30000;

/**
 * A connection failure; fatal ones (a refused token, a server's leave)
 * end the session instead of reconnecting.
 * @param {string} message
 * @param {boolean} fatal
 */
function connectError(message, fatal) {
  return new BackchannelError("connect_failed", message, { fatal });
}

export class Connection extends EventTarget {
  /**
   * @param {string} token participant access token
   * @param {ClientOptions} [options]
   */
  constructor(token, options = {}) {
    super();
    this.token = token;
    /** @type {ClientOptions} */
    this.options = { camera: true, microphone: true, reconnect: true, ...options };
    this.baseURL = (options.url || location.origin).replace(/\/$/, "");
    const claims = decodeToken(token);
    /** @type {Self} Own identity and grants; chat presence fills canChat, canPin, muted. */
    this.self = {
      identity: claims ? claims.identity : "",
      name: claims ? claims.name : "",
      admin: !!(claims && claims.admin),
      canChat: true,
      canPin: !!(claims && claims.admin),
      muted: false,
      read: 0,
    };
    this.room = claims ? claims.room : "";
    /** @type {"idle"|"connecting"|"connected"|"reconnecting"|"closed"} */
    this.state = "idle";
    this.closeReason = "";
    /** true when the server ended the session (its leave reason is closeReason) */
    this.endedByServer = false;
    /** @type {Map<string, Participant>} identity → participant */
    this.participants = new Map();
    /** @type {Map<string, MediaStream>} identity → MediaStream of that publisher */
    this.remoteStreams = new Map();
    /** @type {MediaStream|null} */
    this.localStream = null;
    this.cameraOn = false;
    this.microphoneOn = false;
    /** @type {Set<string>} identities the server says are speaking (activeSpeakers) */
    this.speakers = new Set();
    /** @type {Set<string>} identities whose media stopped arriving (stalls.js) */
    this.stalled = new Set();

    /** @type {WebSocket|null} */
    this._ws = null;
    /** @type {RTCPeerConnection|null} */
    this._pub = null;
    /** @type {RTCPeerConnection|null} */
    this._sub = null;
    /** @type {RTCDataChannel|null} */
    this._dc = null;
    this._gen = 0; // bumps on every (re)connect so stale callbacks do nothing
    this._attempt = 0;
    this._reconnectTimer = 0;
    this._pingTimer = 0;
    this._lastPong = 0;
    /** @type {Promise<void>} */
    this._pubChain = Promise.resolve();
    /** @type {Promise<void>} */
    this._subChain = Promise.resolve();
    /** @type {((sdp: string) => void)|null} */
    this._answered = null;
    this._leaveReason = "";
    /** The node a cluster redirected this attempt to ("" : the entry URL). */
    this._redirect = "";
    /** The cluster node hosting the room (`joined`'s node; "" on a single node). */
    this.node = "";
    this._blockUntil = 0;
  }

  /** Joins and resolves once chat is open (Media.connect gets devices first). */
  async connect() {
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
    // A cluster node may have redirected us to the room's host; every new
    // attempt starts again from the entry URL (that host may be gone).
    const u = new URL((this._redirect || this.baseURL).replace(/\/$/, "") + "/v1/rtc");
    u.protocol = u.protocol === "https:" || u.protocol === "wss:" ? "wss:" : "ws:";
    u.searchParams.set("access_token", this.token);
    return u.toString();
  }

  /**
   * One attempt: socket, join, both peer connections, chat open.
   * @returns {Promise<void>}
   */
  _connectOnce(hops = 0) {
    if (hops === 0) this._redirect = "";
    const gen = ++this._gen;
    return new Promise((resolve, reject) => {
      let settled = false;
      /** @param {Error} err */
      const fail = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (gen === this._gen) this._teardown();
        reject(err);
      };
      const timer = setTimeout(() => fail(connectError("timed out connecting", false)), CONNECT_TIMEOUT);
      let ws;
      try {
        ws = new WebSocket(this._wsURL());
      } catch (err) {
        fail(err);
        return;
      }
      this._ws = ws;
      ws.onopen = () => this._sendSignal(this._joinSignal());
      ws.onerror = () => {};
      let opened = false;
      ws.addEventListener("open", () => (opened = true));
      ws.onclose = async (ev) => {
        if (gen !== this._gen) return;
        if (!settled) {
          // A refused socket tells the page nothing; ask again over plain
          // HTTP, where the server says why (expired token, wrong room…).
          const refused = opened ? null : await this._refusal();
          const fatal = !!refused || (!!this._leaveReason && !RECONNECT_REASONS.includes(this._leaveReason));
          fail(connectError(refused || this._leaveReason || "could not connect to the server", fatal));
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
        if (m.type === "redirect" && !settled) {
          // Another node of the cluster hosts the room: go there.
          settled = true;
          clearTimeout(timer);
          this._teardown();
          if (hops >= MAX_REDIRECTS) {
            reject(connectError("too many redirects between the servers", false));
            return;
          }
          this._redirect = m.url;
          this._connectOnce(hops + 1).then(resolve, reject);
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

  /**
   * Why the server refuses this token (401/403 reason), or null.
   * @returns {Promise<string|null>}
   */
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

  /** The join message (e2ee-chat.js adds the device's key). @returns {Signal} */
  _joinSignal() {
    return { type: "join" };
  }

  /** @param {object} m */
  _sendSignal(m) {
    if (this._ws && this._ws.readyState === WebSocket.OPEN) this._ws.send(JSON.stringify(m));
  }

  /**
   * @param {Signal} m
   * @param {number} gen
   * @param {() => void} opened
   * @param {(err: Error) => void} fail
   */
  _onSignal(m, gen, opened, fail) {
    switch (m.type) {
      case "joined":
        this.room = m.room || this.room;
        this.node = m.node || "";
        if (m.participant) {
          this.self.identity = m.participant.identity;
          this.self.name = m.participant.name || this.self.name;
        }
        this._leaveReason = "";
        // The signaling list is authoritative for who is in the meeting.
        for (const p of this.participants.values()) p.online = false;
        for (const p of m.participants || []) this._upsertParticipant(p.identity, { name: p.name, tracks: p.tracks || [], online: true, host: !!p.host });
        for (const [id, p] of this.participants) if (!p.online && !p.chat) this.participants.delete(id);
        this._emit("participants", {});
        setupPeers(this, m.iceServers || [], gen, opened, fail);
        break;
      case "answer":
        if (m.target === "publisher" && this._answered) this._answered(m.sdp);
        break;
      case "offer":
        if (m.target === "subscriber" && this._sub) answerSubscriber(this, m.sdp);
        break;
      case "participantJoined": {
        const p = m.participant;
        this._upsertParticipant(p.identity, { name: p.name, tracks: p.tracks || [], online: true, host: !!p.host });
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
      case "trackMuted": {
        const p = this.participants.get(m.identity || "");
        for (const t of (p && p.tracks) || []) if (t.id === m.trackId) t.muted = !!m.muted;
        this._emit("participants", {});
        break;
      }
      case "activeSpeakers":
        // Replaced wholesale: someone the list no longer names stopped speaking.
        this.speakers = new Set((m.speakers || []).map((x) => x.identity));
        this._emit("participants", {});
        break;
      case "pong":
        this._lastPong = Date.now();
        break;
      case "leave":
        this._leaveReason = m.reason || "left";
        break;
      case "error":
        console.warn("backchannel: signaling error", m.code, m.message);
        if (m.code === "join_failed" || m.code === "forbidden") {
          if (fail) fail(new BackchannelError(m.code, m.message, { fatal: true }));
        }
        break;
    }
  }

  /**
   * Offers the publisher connection (first time and after track changes).
   * @returns {Promise<void>}
   */
  _offer() {
    return offerPublisher(this);
  }

  /** @param {number} gen */
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

  /**
   * The connection broke: reconnect unless the server ended the session.
   * @param {string} reason
   */
  _lost(reason) {
    if (this.state === "closed" || this.state === "reconnecting") return;
    const leave = this._leaveReason;
    this._teardown();
    if ((leave && !RECONNECT_REASONS.includes(leave)) || !this.options.reconnect) {
      this.endedByServer = !!leave;
      this._setState("closed", leave || reason);
      return;
    }
    this._scheduleReconnect(reason);
  }

  /** @param {string} reason */
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
    this.stalled = new Set();
    this._onDrop();
  }

  /**
   * @param {"idle"|"connecting"|"connected"|"reconnecting"|"closed"} state
   * @param {string} [reason]
   */
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

  /**
   * @param {string} identity
   * @param {Partial<Participant>} fields
   * @returns {Participant}
   */
  _upsertParticipant(identity, fields) {
    let p = this.participants.get(identity);
    if (!p) {
      p = { identity, name: identity, tracks: [], muted: false, read: 0, online: false, chat: false };
      this.participants.set(identity, p);
    }
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== "") /** @type {Record<string, unknown>} */ (p)[k] = v;
    return p;
  }

  /** @param {string} identity */
  _removeParticipantMedia(identity) {
    const s = this.remoteStreams.get(identity);
    if (!s) return;
    this.remoteStreams.delete(identity);
    for (const track of s.getTracks()) this._emit("trackended", { identity, stream: s, track });
  }

  /** Whether the chat channel is open. */
  get chatOpen() {
    return !!this._dc && this._dc.readyState === "open";
  }

  /**
   * @param {string} type
   * @param {object} detail
   */
  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ---- hooks for the chat layers -------------------------------------------

  /**
   * A chat packet arrived (receive.js handles it).
   * @param {ServerPacket} _p
   */
  _onChat(_p) {}

  /** The chat channel opened: send what waited (send.js). */
  _onOpen() {}

  /** The connection is gone: forget per-connection chat state (send.js, receive.js). */
  _onDrop() {}
}

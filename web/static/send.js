// @ts-check
// The sending half of the chat protocol for Client (backchannel.js): the
// outbox of unacknowledged messages with clientId retries, every packet a
// client may send, and history requests.

import { ACK_TIMEOUT, BackchannelError, REQUEST_TIMEOUT, newClientId } from "./util.js";
import { Timeline } from "./timeline.js";

/** @typedef {import("./types.js").OutboxEntry} OutboxEntry */
/** @typedef {import("./types.js").ClientPacket} ClientPacket */
/** @typedef {import("./types.js").ServerPacket} ServerPacket */
/** @typedef {{clientId: string, id: string, seq: number, createdAt: string}} Ack */
/** @typedef {{packet: ClientPacket, sent?: boolean, retried?: boolean}} Op */

export class Sending extends Timeline {
  /**
   * @param {string} token
   * @param {import("./connection.js").ClientOptions} [options]
   */
  constructor(token, options) {
    super(token, options);
    /** @type {Map<string, OutboxEntry>} clientId → own message not acknowledged yet */
    this.outbox = new Map();
    /** @type {Map<string, Op>} clientId → op packet awaiting send or error */
    this._ops = new Map();
    /** @type {Map<string, {resolve: (p: ServerPacket) => void, reject: (err: Error) => void, timer: number}>} clientId → request awaiting its answer */
    this._waiters = new Map();
    this._ackTimer = 0;
    /** one message at a time, each after the previous ack (after a retryable refusal) */
    this._serial = false;
    this._readSent = 0;
    this._readTimer = 0;
    /** @type {Promise<number>|null} */
    this._loadingOlder = null;
  }

  /** @param {ClientPacket} p */
  _sendRaw(p) {
    if (!this.chatOpen) return false;
    this._dc.send(JSON.stringify(p));
    return true;
  }

  /** Sends what waited for the channel: unacked messages, then queued ops. */
  _flush() {
    if (!this.chatOpen) return;
    // Normally messages are pipelined. After a retryable refusal they go
    // one at a time, each after the previous one's ack, until the outbox
    // drains, so that a retried message never lands after a later one.
    let inflight = false;
    const now = Date.now();
    for (const e of this.outbox.values()) {
      if (e.uploading || !e.packet) continue;
      if (e.sent) {
        inflight = true;
        continue;
      }
      if (this._serial && (inflight || e.retryAt > now)) break;
      e.sent = this._sendRaw(e.packet);
      e.sentAt = now;
      inflight = true;
    }
    // An ack that never comes (lost with a dropped packet) is asked for
    // again with the same clientId, which cannot create a duplicate.
    clearTimeout(this._ackTimer);
    if ([...this.outbox.values()].some((e) => e.sent)) {
      this._ackTimer = setTimeout(() => {
        let again = false;
        for (const e of this.outbox.values()) {
          if (e.sent && Date.now() - e.sentAt >= ACK_TIMEOUT) {
            e.sent = false;
            again = true;
          }
        }
        if (again) this._flush();
        else if (this.outbox.size) this._flush();
      }, ACK_TIMEOUT);
    }
    for (const op of this._ops.values()) {
      if (!op.sent) op.sent = this._sendRaw(op.packet);
    }
  }

  /**
   * Sends a message. Resolves with {id, seq, createdAt} once the server
   * has stored it; rejects with a BackchannelError (code too_long, empty,
   * muted, forbidden, not_found…). Until then it is in `outbox`, and it is
   * sent again with the same clientId after a reconnect, which never
   * creates a duplicate.
   * @param {string} text
   * @param {{to?: string[], replyTo?: string}} [opts]
   * @returns {Promise<{id: string, seq: number, createdAt: string}>}
   */
  sendMessage(text, opts = {}) {
    return this._enqueue({ kind: "text", text, to: opts.to, replyTo: opts.replyTo });
  }

  /**
   * Uploads a file and sends it as an image or file message with an
   * optional caption. The outbox entry (with `file`) shows progress.
   * @param {File} file
   * @param {{text?: string, to?: string[], replyTo?: string}} [opts]
   * @returns {Promise<{id: string, seq: number, createdAt: string}>}
   */
  async sendFile(file, opts = {}) {
    const clientId = newClientId();
    /** @type {OutboxEntry} */
    const entry = {
      clientId, kind: file.type && file.type.startsWith("image/") ? "image" : "file", text: opts.text || "",
      to: opts.to, replyTo: opts.replyTo, file, uploading: true, tries: 0, createdAt: Date.now(),
    };
    this.outbox.set(clientId, entry);
    this._emit("outbox", {});
    let att;
    try {
      att = await this.uploadAttachment(file);
    } catch (err) {
      this.outbox.delete(clientId);
      this._next();
      this._emit("outbox", {});
      this._emit("chaterror", { code: err.code || "upload_failed", message: err.message, clientId, draft: { text: entry.text, to: entry.to, replyTo: entry.replyTo, file } });
      throw err;
    }
    entry.uploading = false;
    entry.attachment = att;
    entry.kind = att.image ? "image" : "file";
    return this._enqueue(entry);
  }

  /**
   * @param {Partial<OutboxEntry> & {kind: OutboxEntry["kind"]}} e
   * @returns {Promise<{id: string, seq: number, createdAt: string}>}
   */
  _enqueue(e) {
    /** @type {OutboxEntry} */
    const entry = this.outbox.get(e.clientId) || { ...e, text: "", clientId: e.clientId || newClientId(), tries: 0, createdAt: Date.now() };
    entry.text = e.text || "";
    /** @type {ClientPacket} */
    const p = { type: "chat", clientId: entry.clientId };
    if (entry.kind !== "text") {
      p.kind = entry.kind;
      p.attachmentId = entry.attachment.id;
      if (entry.e2ee) p.e2ee = entry.e2ee; // encrypted file (e2ee-chat.js): the caption is sealed
      else if (entry.text.trim()) p.text = entry.text;
    } else if (entry.e2ee) {
      p.e2ee = entry.e2ee; // end-to-end encrypted (e2ee-chat.js): the text stays here
    } else {
      p.text = entry.text;
    }
    if (entry.to && entry.to.length) p.to = [...entry.to];
    if (entry.replyTo) p.replyTo = entry.replyTo;
    entry.packet = p;
    entry.sent = false;
    /** @type {Promise<{id: string, seq: number, createdAt: string}>} */
    const done = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    done.catch(() => {}); // callers that ignore the promise see chaterror instead
    this.outbox.set(entry.clientId, entry);
    this._flush();
    this._emit("outbox", {});
    return done;
  }

  /**
   * Gives up on an unacked message (e.g. the user removes it).
   * @param {string} clientId
   */
  discard(clientId) {
    const e = this.outbox.get(clientId);
    if (!e) return;
    this.outbox.delete(clientId);
    if (e.reject) e.reject(new BackchannelError("cancelled", "cancelled"));
    this._next();
    this._emit("outbox", {});
  }

  /**
   * @param {ClientPacket} packet
   * @param {Op} [op] the same op again (a retry)
   */
  _sendOp(packet, op) {
    const cid = packet.clientId || newClientId();
    packet.clientId = cid;
    const o = op || { packet };
    o.sent = this._sendRaw(packet);
    this._ops.set(cid, o);
    // Ops are not acked: forget them once the server had time to refuse.
    if (o.sent) setTimeout(() => { if (this._ops.get(cid) === o) this._ops.delete(cid); }, 30000);
  }

  /**
   * Adds (on=true) or removes a reaction.
   * @param {string} id
   * @param {string} emoji
   */
  react(id, emoji, on = true) {
    this._sendOp({ type: "reaction", id, emoji, on });
  }

  /**
   * Toggles own reaction with emoji on message id.
   * @param {string} id
   * @param {string} emoji
   */
  toggleReaction(id, emoji) {
    const m = this._known(id);
    const r = m && (m.reactions || []).find((x) => x.emoji === emoji);
    this.react(id, emoji, !(r && r.identities.includes(this.self.identity)));
  }

  /** @param {string} id @param {string} text */
  edit(id, text) {
    this._sendOp({ type: "edit", id, text });
  }

  /** @param {string} id */
  delete(id) {
    this._sendOp({ type: "delete", id });
  }

  /** @param {string} id */
  pin(id) {
    this._sendOp({ type: "pin", id });
  }

  /** @param {string} id */
  unpin(id) {
    this._sendOp({ type: "unpin", id });
  }

  /**
   * Moderators: take away (or give back) a participant's right to chat.
   * @param {string} identity
   */
  mute(identity, on = true) {
    this._sendOp({ type: on ? "mute" : "unmute", target: identity });
  }

  /**
   * Moderators: remove a participant from the room.
   * @param {string} identity
   * @param {string} [reason]
   */
  kick(identity, reason) {
    /** @type {ClientPacket} */
    const p = { type: "kick", target: identity };
    if (reason) p.reason = reason;
    this._sendOp(p);
  }

  /**
   * Typing indicator; to: the private conversation's identities.
   * @param {boolean} on
   * @param {string[]} [to]
   */
  typingState(on, to) {
    /** @type {ClientPacket} */
    const p = { type: "typing", on: !!on };
    if (on && to && to.length) p.to = [...to];
    this._sendRaw(p);
  }

  /**
   * Moves own read horizon to seq (default: the newest loaded message).
   * @param {number} [seq]
   */
  markRead(seq) {
    if (seq === undefined) {
      const last = this.order[this.order.length - 1];
      seq = last ? this.messages.get(last).seq : 0;
    }
    if (!(seq > this.self.read)) return;
    this.self.read = seq;
    this._emit("read", { identity: this.self.identity, seq });
    clearTimeout(this._readTimer);
    this._readTimer = setTimeout(() => {
      if (this.self.read > this._readSent && this._sendRaw({ type: "read", seq: this.self.read })) this._readSent = this.self.read;
    }, 300);
  }

  /**
   * Sends a request and resolves with its answer (matched by clientId).
   * @param {ClientPacket} packet
   * @returns {Promise<ServerPacket>}
   */
  _request(packet) {
    const clientId = newClientId();
    return new Promise((resolve, reject) => {
      if (!this._sendRaw({ ...packet, clientId })) {
        reject(new BackchannelError("unavailable", "not connected"));
        return;
      }
      const timer = setTimeout(() => {
        this._waiters.delete(clientId);
        reject(new BackchannelError("timeout", "the server did not answer"));
      }, REQUEST_TIMEOUT);
      this._waiters.set(clientId, { resolve, reject, timer });
    });
  }

  /**
   * Loads a page of older messages before the oldest loaded one. Resolves
   * to the number of messages added; `hasMore` says whether to call again.
   */
  async loadOlder(limit = 50) {
    if (this._loadingOlder) return this._loadingOlder;
    if (!this.hasMore) return 0;
    const first = this.order[0];
    const before = first ? this.messages.get(first).seq : 0;
    this._loadingOlder = (async () => {
      try {
        const page = await this._request({ type: "history", before, limit });
        let added = 0;
        for (const m of page.messages || []) {
          if (!this.messages.has(m.id)) added++;
          this._merge(m);
        }
        this.hasMore = !!page.more;
        this._emit("messages", { reason: "older" });
        return added;
      } finally {
        this._loadingOlder = null;
      }
    })();
    return this._loadingOlder;
  }

  /** An outbox entry is settled: leave one-at-a-time mode or send the next. */
  _next() {
    if (this.outbox.size === 0) this._serial = false;
    else if (this._serial) this._flush();
  }

  _onOpen() {
    super._onOpen();
    this._flush();
  }

  _onDrop() {
    super._onDrop();
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
  }
}

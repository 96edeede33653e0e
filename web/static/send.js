// The sending half of the chat protocol for Client (backchannel.js): the
// outbox of unacknowledged messages with clientId retries, every packet a
// client may send, and history requests. Installed on Client.prototype;
// `this` is the Client.

import { ACK_TIMEOUT, BackchannelError, REQUEST_TIMEOUT, newClientId } from "./util.js";

export const sending = {
  _sendRaw(p) {
    if (!this.chatOpen) return false;
    this._dc.send(JSON.stringify(p));
    return true;
  },

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
  },

  /**
   * Sends a message. Resolves with {id, seq, createdAt} once the server
   * has stored it; rejects with a BackchannelError (code too_long, empty,
   * muted, forbidden, not_found…). Until then it is in `outbox`, and it is
   * sent again with the same clientId after a reconnect, which never
   * creates a duplicate.
   * @param {string} text
   * @param {{to?: string[], replyTo?: string}} [opts]
   */
  sendMessage(text, opts = {}) {
    return this._enqueue({ kind: "text", text, to: opts.to, replyTo: opts.replyTo });
  },

  /**
   * Uploads a file and sends it as an image or file message with an
   * optional caption. The outbox entry (with `file`) shows progress.
   */
  async sendFile(file, opts = {}) {
    const clientId = newClientId();
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
  },

  _enqueue(e) {
    const entry = this.outbox.get(e.clientId) || { ...e, clientId: e.clientId || newClientId(), tries: 0, createdAt: Date.now() };
    entry.text = e.text || "";
    const p = { type: "chat", clientId: entry.clientId };
    if (entry.kind !== "text") {
      p.kind = entry.kind;
      p.attachmentId = entry.attachment.id;
      if (entry.text.trim()) p.text = entry.text;
    } else {
      p.text = entry.text;
    }
    if (entry.to && entry.to.length) p.to = [...entry.to];
    if (entry.replyTo) p.replyTo = entry.replyTo;
    entry.packet = p;
    entry.sent = false;
    const done = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    done.catch(() => {}); // callers that ignore the promise see chaterror instead
    this.outbox.set(entry.clientId, entry);
    this._flush();
    this._emit("outbox", {});
    return done;
  },

  /** Gives up on an unacked message (e.g. the user removes it). */
  discard(clientId) {
    const e = this.outbox.get(clientId);
    if (!e) return;
    this.outbox.delete(clientId);
    if (e.reject) e.reject(new BackchannelError("cancelled", "cancelled"));
    this._next();
    this._emit("outbox", {});
  },

  _sendOp(packet, op) {
    const cid = packet.clientId || newClientId();
    packet.clientId = cid;
    const o = op || { packet };
    o.sent = this._sendRaw(packet);
    this._ops.set(cid, o);
    // Ops are not acked: forget them once the server had time to refuse.
    if (o.sent) setTimeout(() => { if (this._ops.get(cid) === o) this._ops.delete(cid); }, 30000);
  },

  /** Adds (on=true) or removes a reaction. */
  react(id, emoji, on = true) {
    this._sendOp({ type: "reaction", id, emoji, on });
  },

  /** Toggles own reaction with emoji on message id. */
  toggleReaction(id, emoji) {
    const m = this._known(id);
    const r = m && (m.reactions || []).find((x) => x.emoji === emoji);
    this.react(id, emoji, !(r && r.identities.includes(this.self.identity)));
  },

  edit(id, text) {
    this._sendOp({ type: "edit", id, text });
  },

  delete(id) {
    this._sendOp({ type: "delete", id });
  },

  pin(id) {
    this._sendOp({ type: "pin", id });
  },

  unpin(id) {
    this._sendOp({ type: "unpin", id });
  },

  /** Moderators: take away (or give back) a participant's right to chat. */
  mute(identity, on = true) {
    this._sendOp({ type: on ? "mute" : "unmute", target: identity });
  },

  /** Moderators: remove a participant from the room. */
  kick(identity, reason) {
    const p = { type: "kick", target: identity };
    if (reason) p.reason = reason;
    this._sendOp(p);
  },

  /** Typing indicator; to: the private conversation's identities. */
  typingState(on, to) {
    const p = { type: "typing", on: !!on };
    if (on && to && to.length) p.to = [...to];
    this._sendRaw(p);
  },

  /** Moves own read horizon to seq (default: the newest loaded message). */
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
  },

  /** Messages from others after own read horizon. */
  unreadCount() {
    let n = 0;
    for (let i = this.order.length - 1; i >= 0; i--) {
      const m = this.messages.get(this.order[i]);
      if (m.seq <= this.self.read) break;
      if (m.sender !== this.self.identity && !m.deleted) n++;
    }
    return n;
  },

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
  },

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
  },

};

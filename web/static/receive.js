// @ts-check
// The receiving half of the chat protocol for Client (backchannel.js):
// every server packet, merged into the client's state without gaps or
// duplicates.

import { BackchannelError, RECEIVED_LOG } from "./util.js";
import { Sending } from "./send.js";

/** @typedef {import("./types.js").WireMessage} WireMessage */
/** @typedef {import("./types.js").ServerPacket} ServerPacket */

export class Receiving extends Sending {
  /** @param {ServerPacket} p */
  _onChat(p) {
    this.received.push(p);
    if (this.received.length > RECEIVED_LOG) this.received.splice(0, this.received.length - RECEIVED_LOG);
    this._emit("packet", { packet: p });
    switch (p.type) {
      case "presence": {
        const s = p.self || {};
        Object.assign(this.self, {
          identity: s.identity || this.self.identity,
          name: s.name || this.self.name,
          admin: !!s.admin,
          canChat: s.canChat !== false,
          canPin: !!s.canPin,
          muted: !!s.muted,
          read: Math.max(this.self.read, s.read || 0),
        });
        for (const q of this.participants.values()) q.chat = false;
        for (const q of p.participants || []) {
          if (q.identity === this.self.identity) continue;
          this._upsertParticipant(q.identity, { name: q.name, muted: !!q.muted, read: q.read || 0, chat: true, host: !!q.host });
        }
        this._emit("self", {});
        this._emit("participants", {});
        break;
      }
      case "joined": {
        const q = p.participant;
        if (q && q.identity && q.identity !== this.self.identity) {
          this._upsertParticipant(q.identity, { name: q.name, muted: !!q.muted, read: q.read || 0, chat: true, host: !!q.host });
          this._emit("participants", {});
        }
        break;
      }
      case "left": {
        const q = this.participants.get(p.identity);
        if (q) {
          q.chat = false;
          if (!q.online || p.removed) this.participants.delete(p.identity);
        }
        this._dropTyping(p.identity);
        this._emit("participants", {});
        break;
      }
      case "muted":
      case "unmuted": {
        const on = p.type === "muted";
        if (p.identity === this.self.identity) {
          this.self.muted = on;
          this._emit("self", {});
        } else {
          const q = this.participants.get(p.identity);
          if (q) q.muted = on;
        }
        this._emit("participants", {});
        break;
      }
      case "kicked":
        this._leaveReason = p.reason || "removed by a moderator";
        this._emit("kicked", { by: p.by, reason: p.reason || "" });
        this.options.reconnect = false;
        break;
      case "message":
        if (typeof p.message === "object") this._onMessage(p.message);
        break;
      case "ack":
        this._onAck(p);
        break;
      case "error":
        this._onError(p);
        break;
      case "history":
        this._onHistory(p);
        break;
      case "pins":
        this.pins.clear();
        for (const m of p.messages || []) this._pinCopy(m);
        this._emit("pins", {});
        break;
      case "pinned":
      case "unpinned": {
        const on = p.type === "pinned";
        let m = this._known(p.id);
        if (on && typeof p.message === "object") m = this._pinCopy(p.message);
        if (m) m.pinned = on;
        if (!on) this.pins.delete(p.id);
        if (m) this._emit("update", { message: m, change: p.type, by: p.by });
        this._emit("pins", {});
        break;
      }
      case "reaction": {
        const m = this._known(p.id);
        if (!m) break;
        const rs = (m.reactions = m.reactions || []);
        let r = rs.find((x) => x.emoji === p.emoji);
        if (p.on) {
          if (!r) {
            r = { emoji: p.emoji, identities: [] };
            rs.push(r);
          }
          if (!r.identities.includes(p.identity)) r.identities.push(p.identity);
        } else if (r) {
          r.identities = r.identities.filter((x) => x !== p.identity);
          if (r.identities.length === 0) rs.splice(rs.indexOf(r), 1);
        }
        this._emit("update", { message: m, change: "reaction", identity: p.identity, emoji: p.emoji, on: !!p.on });
        break;
      }
      case "edited": {
        const m = this._known(p.id);
        if (!m) break;
        m.text = p.text || ""; // absent: an encrypted message's edit (its e2ee, opened by E2eeChat)
        m.editedAt = p.editedAt;
        this._emit("update", { message: m, change: "edited" });
        break;
      }
      case "deleted": {
        const m = this._known(p.id);
        if (!m) break;
        Object.assign(m, { deleted: true, text: "", attachment: undefined, reactions: [], pinned: false });
        if (this.pins.delete(p.id)) this._emit("pins", {});
        this._emit("update", { message: m, change: "deleted", by: p.by });
        break;
      }
      case "withdrawn":
        this._onWithdrawn(p);
        break;
      case "typing":
        this._onTyping(p);
        break;
      case "read":
        if (p.identity === this.self.identity) {
          this.self.read = Math.max(this.self.read, p.seq);
        } else {
          const q = this.participants.get(p.identity);
          if (q) q.read = Math.max(q.read || 0, p.seq);
        }
        this._emit("read", { identity: p.identity, seq: p.seq });
        break;
      case "resync":
        // The server dropped packets for us, acks included: unacked
        // messages go again (same clientId) once the replay that follows
        // is merged and the gap paged back (see _onHistory).
        for (const e of this.outbox.values()) e.sent = false;
        this._emit("resync", { dropped: p.dropped, lastSeq: p.lastSeq });
        break;
    }
  }

  /** @param {WireMessage} msg */
  _onMessage(msg) {
    const isNew = !this.messages.has(msg.id);
    const m = this._merge(msg);
    if (m.sender === this.self.identity) {
      // Our message arrives before its ack: hide the pending copy now so
      // that it never shows twice.
      for (const e of this.outbox.values()) {
        if (!e.matchedId && e.sent && e.kind === m.kind && (e.text || "").trim() === (m.text || "") &&
            (!e.attachment || (m.attachment && e.attachment.id === m.attachment.id))) {
          e.matchedId = m.id;
          this._emit("outbox", {});
          break;
        }
      }
    }
    this._dropTyping(m.sender, false);
    if (isNew) this._emit("message", { message: m });
    else this._emit("update", { message: m, change: "message" });
  }

  /** @param {ServerPacket} p */
  _onAck(p) {
    const e = this.outbox.get(p.clientId);
    if (!e) return;
    this.outbox.delete(p.clientId);
    for (const o of this.outbox.values()) if (o.matchedId === p.id) o.matchedId = "";
    if (e.resolve) e.resolve({ id: p.id, seq: p.seq, createdAt: p.createdAt });
    this._next();
    this._emit("outbox", {});
  }

  /** @param {ServerPacket} p */
  _onError(p) {
    const text = typeof p.message === "string" ? p.message : "";
    const cid = p.clientId;
    const w = cid && this._waiters.get(cid);
    if (w) {
      this._waiters.delete(cid);
      clearTimeout(w.timer);
      w.reject(new BackchannelError(p.code, text, { retryAfterMs: p.retryAfterMs }));
      return;
    }
    const e = cid && this.outbox.get(cid);
    if (e) {
      const retrying = !!p.retryable && e.tries < 5;
      if (retrying) {
        // Rate limited or storage trouble: the same clientId again later
        // never creates a duplicate.
        e.tries++;
        e.sent = false;
        e.matchedId = "";
        const wait = p.retryAfterMs || 1000 * e.tries;
        e.retryAt = Date.now() + wait;
        this._serial = true;
        setTimeout(() => this._flush(), wait + 5);
      } else {
        this.outbox.delete(cid);
        if (e.reject) e.reject(new BackchannelError(p.code, text));
        this._next();
      }
      this._emit("outbox", {});
      this._emit("chaterror", {
        code: p.code, message: text, clientId: cid, retrying, retryAfterMs: p.retryAfterMs,
        draft: retrying ? null : { text: e.text, to: e.to, replyTo: e.replyTo, file: e.file },
      });
      return;
    }
    const op = cid && this._ops.get(cid);
    if (op) {
      this._ops.delete(cid);
      if (p.retryable && !op.retried) {
        op.retried = true;
        setTimeout(() => this._sendOp(op.packet, op), p.retryAfterMs || 1000);
        return;
      }
    }
    this._emit("chaterror", { code: p.code, message: text, clientId: cid, op: op ? op.packet.type : undefined });
  }

  /** @param {ServerPacket} p */
  _onHistory(p) {
    const cid = p.clientId;
    const w = cid && this._waiters.get(cid);
    if (w) {
      this._waiters.delete(cid);
      clearTimeout(w.timer);
      w.resolve(p);
      return;
    }
    if (!p.replay) return;
    // Replay on attach or after a resync: the latest messages with their
    // current state. Merge them; if we had messages before and the replay
    // shares none of them, some may lie between: page back until a page
    // reaches messages we already have. (Seq gaps alone prove nothing: other
    // people's private messages take seqs too.)
    const msgs = p.messages || [];
    const first = this.order.length === 0;
    const overlaps = msgs.some((m) => this.messages.has(m.id));
    for (const m of msgs) this._merge(m);
    if (first) this.hasMore = !!p.more;
    this._emit("messages", { reason: "replay" });
    if (!first && !overlaps && p.more && msgs.length) this._fillGap(msgs[0].seq);
    this._flush();
  }

  /** @param {number} before */
  async _fillGap(before) {
    try {
      for (let guard = 0; guard < 50; guard++) {
        const page = await this._request({ type: "history", before, limit: 100 });
        const msgs = page.messages || [];
        const reached = msgs.some((m) => this.messages.has(m.id));
        for (const m of msgs) this._merge(m);
        this._emit("messages", { reason: "gap" });
        if (reached || !page.more || msgs.length === 0) return;
        before = msgs[0].seq;
      }
    } catch (err) {
      console.warn("backchannel: could not fill the history gap", err);
    }
  }

  /**
   * The store refused for good something already shown (docs/protocol.md,
   * Withdrawal). Without a message, the message itself was never stored:
   * it goes from the timeline and the pins. With one, a change to it was
   * refused: the store's copy replaces ours.
   * @param {any} p
   */
  _onWithdrawn(p) {
    if (p.message && typeof p.message === "object") {
      const m = this._merge(p.message);
      if (!m.pinned && this.pins.delete(m.id)) this._emit("pins", {});
      this._emit("update", { message: m, change: "withdrawn" });
      return;
    }
    if (!this.messages.has(p.id)) return;
    this.messages.delete(p.id);
    this.order = this.order.filter((id) => id !== p.id);
    if (this.pins.delete(p.id)) this._emit("pins", {});
    this._emit("messages", { reason: "withdrawn" });
  }
}

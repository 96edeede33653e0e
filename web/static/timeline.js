// @ts-check
// The chat state of Client (backchannel.js): messages by id in seq order,
// pins and who is typing, merged so that nothing shows twice.

import { TYPING_EXPIRY } from "./util.js";
import { Api } from "./api.js";

/** @typedef {import("./types.js").Message} Message */
/** @typedef {import("./types.js").WireMessage} WireMessage */
/** @typedef {import("./types.js").ServerPacket} ServerPacket */

/**
 * A message as the server sent it, with the fields it leaves out at their
 * default filled in: kind "text" and text "". (Its other optional fields,
 * deleted, pinned, to, reactions…, read as absent already.) A copy: the
 * packet in `received` stays as it came.
 * @param {WireMessage} m
 * @returns {Message}
 */
export function withDefaults(m) {
  return { ...m, kind: m.kind || "text", text: m.text || "" };
}

export class Timeline extends Api {
  /**
   * @param {string} token
   * @param {import("./connection.js").ClientOptions} [options]
   */
  constructor(token, options) {
    super(token, options);
    /** @type {Map<string, Message>} id → message (as sent by the server, current state applied) */
    this.messages = new Map();
    /** @type {string[]} ids in seq order */
    this.order = [];
    /** true while older history may exist before the oldest loaded message */
    this.hasMore = false;
    /** @type {Map<string, Message>} id → pinned message */
    this.pins = new Map();
    /** @type {Map<string, {identity: string, name: string, to: string[]|null}>} identity → who is typing */
    this.typing = new Map();
    /** @type {ServerPacket[]} the last chat packets received, parsed, oldest first (debugging, tests) */
    this.received = [];
    /** @type {Map<string, number>} */
    this._typingTimers = new Map();
  }

  /**
   * The loaded (or pinned) copy of a message.
   * @param {string} id
   * @returns {Message|undefined}
   */
  _known(id) {
    return this.messages.get(id) || this.pins.get(id);
  }

  /**
   * Keeps a pinned message: the loaded copy when there is one (so that
   * later changes apply once), else a copy outside the timeline, which may
   * not have reached that far back.
   * @param {WireMessage} w
   */
  _pinCopy(w) {
    const m = withDefaults(w);
    const loaded = this.messages.has(m.id) ? this._merge(m) : m;
    loaded.pinned = true;
    this.pins.set(m.id, loaded);
    return loaded;
  }

  /**
   * Inserts or replaces a message by id, keeping seq order. A message
   * already known keeps its object (its fields are replaced), so that
   * whoever holds it sees the current state.
   * @param {WireMessage} w
   * @returns {Message}
   */
  _merge(w) {
    const m = withDefaults(w);
    const old = this.messages.get(m.id);
    if (old) {
      for (const k of Object.keys(old)) delete (/** @type {Record<string, unknown>} */ (old))[k];
      Object.assign(old, m);
      if (this.pins.has(m.id)) this.pins.set(m.id, old);
      return old;
    }
    this.messages.set(m.id, m);
    const o = this.order;
    if (o.length === 0 || this.messages.get(o[o.length - 1]).seq < m.seq) {
      o.push(m.id);
    } else {
      let lo = 0;
      let hi = o.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.messages.get(o[mid]).seq < m.seq) lo = mid + 1;
        else hi = mid;
      }
      o.splice(lo, 0, m.id);
    }
    if (this.pins.has(m.id)) this.pins.set(m.id, m);
    return m;
  }

  /**
   * The display name of an identity, as best known.
   * @param {string} identity
   */
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

  /** Messages from others after own read horizon. */
  unreadCount() {
    let n = 0;
    for (let i = this.order.length - 1; i >= 0; i--) {
      const m = this.messages.get(this.order[i]);
      if (m.seq <= this.self.read) break;
      if (m.sender !== this.self.identity && !m.deleted) n++;
    }
    return n;
  }

  /** @param {ServerPacket} p */
  _onTyping(p) {
    if (p.identity === this.self.identity) return;
    if (!p.on) {
      this._dropTyping(p.identity);
      return;
    }
    clearTimeout(this._typingTimers.get(p.identity));
    this.typing.set(p.identity, { identity: p.identity, name: p.name || this.nameOf(p.identity), to: p.to || null });
    this._typingTimers.set(p.identity, setTimeout(() => this._dropTyping(p.identity), TYPING_EXPIRY));
    this._emit("typing", {});
  }

  /**
   * @param {string} identity
   * @param {boolean} [emit] announce even when nobody stopped typing
   */
  _dropTyping(identity, emit = true) {
    clearTimeout(this._typingTimers.get(identity));
    this._typingTimers.delete(identity);
    if (this.typing.delete(identity) || emit) this._emit("typing", {});
  }

  _clearTyping() {
    for (const t of this._typingTimers.values()) clearTimeout(t);
    this._typingTimers.clear();
    if (this.typing.size) {
      this.typing.clear();
      this._emit("typing", {});
    }
  }

  _onDrop() {
    super._onDrop();
    this._clearTyping();
  }
}

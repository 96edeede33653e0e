// @ts-check
// End-to-end encrypted private messages for Client (backchannel.js), the
// last layer over receive.js; docs/e2ee.md gives the construction and the
// packets. The device key (non-extractable, in IndexedDB, one per identity
// and browser profile) is announced at join; the keys the server shows
// (presence, joined, keyChanged, keys) are kept with their fingerprints; a
// private message is sealed for its destinations and this identity when
// every one of them has a key, and every envelope received is opened
// before it is shown. A message that does not open keeps empty text and
// `decrypt: "failed"`: it is shown as "can't decrypt", never as text.
//
// Decrypting is asynchronous (WebCrypto): a message is merged at once with
// `decrypt: "pending"` and an `update` {change: "decrypted"} follows, so
// that the order of events never depends on how long a decryption takes.

import { b64decode, b64encode, fingerprint, loadOrCreateDeviceKey, openText, parsePublicKey, seal } from "./e2ee.js";
import { Receiving } from "./receive.js";
import { BackchannelError } from "./util.js";

/** The server's text limit (chat.Config.MaxTextRunes' default), which it cannot check in an envelope. */
const MAX_TEXT = 2000;

/** @typedef {import("./types.js").Message} Message */
/** @typedef {import("./types.js").WireMessage} WireMessage */
/** @typedef {import("./types.js").ServerPacket} ServerPacket */
/** @typedef {import("./e2ee.js").Envelope} Envelope */
/** @typedef {import("./e2ee.js").KeyPair} KeyPair */
/** @typedef {import("./types.js").EncryptedFile} EncryptedFile */
/** @typedef {import("./types.js").OutboxEntry} OutboxEntry */
/** @typedef {{text: string, file?: EncryptedFile}} Content the sealed content (docs/e2ee.md) */

/** The additional data of an encrypted attachment's bytes (Go: client.FileAAD). */
const FILE_AAD = new TextEncoder().encode("backchannel e2ee v1 file");

/**
 * What this client knows for end-to-end encryption.
 * @typedef {object} E2EEState
 * @property {(KeyPair & {publicKey: string})|null} key this device's key pair, null when the browser has no WebCrypto or IndexedDB here
 * @property {string} fingerprint this device's key's fingerprint
 * @property {Map<string, string>} keys identity → last public key the server showed
 * @property {Map<string, string>} fingerprints identity → that key's fingerprint
 * @property {Map<string, {previous: string, at: number}>} changed identities whose key changed during the meeting
 */

export class E2EEChat extends Receiving {
  /**
   * @param {string} token
   * @param {import("./connection.js").ClientOptions} [options]
   */
  constructor(token, options) {
    super(token, options);
    /** @type {E2EEState} */
    this.e2ee = { key: null, fingerprint: "", keys: new Map(), fingerprints: new Map(), changed: new Map() };
    /** @type {Map<string, Content>} ciphertext → its opened content, so a message merged again shows at once */
    this._plain = new Map();
  }

  /** Loads (or makes) the device key before joining, so join announces it. */
  async connect() {
    if (!this.e2ee.key && globalThis.crypto && globalThis.crypto.subtle && globalThis.indexedDB) {
      try {
        this.e2ee.key = await loadOrCreateDeviceKey(`identity:${this.self.identity}`);
        this.e2ee.fingerprint = await fingerprint(this.e2ee.key.publicRaw);
      } catch {
        this.e2ee.key = null; // private browsing without IndexedDB: messages in clear, can't decrypt
      }
    }
    return super.connect();
  }

  _joinSignal() {
    const m = super._joinSignal();
    if (this.e2ee.key) m.e2eeKey = this.e2ee.key.publicKey;
    return m;
  }

  /** @param {ServerPacket} p */
  _onChat(p) {
    switch (p.type) {
      case "presence":
        for (const q of p.participants || []) this._learnKey(q.identity, q.e2eeKey);
        break;
      case "joined":
        if (p.participant) this._learnKey(p.participant.identity, p.participant.e2eeKey);
        break;
      case "keyChanged":
        this.e2ee.changed.set(p.identity, { previous: p.previous || "", at: Date.now() });
        this._learnKey(p.identity, p.e2eeKey);
        this._emit("keychanged", { identity: p.identity, e2eeKey: p.e2eeKey, previous: p.previous });
        break;
      case "keys": {
        for (const k of p.keys || []) this._learnKey(k.identity, k.e2eeKey);
        const w = p.clientId && this._waiters.get(p.clientId);
        if (w) {
          this._waiters.delete(p.clientId);
          clearTimeout(w.timer);
          w.resolve(p);
        }
        break;
      }
    }
    super._onChat(p);
    const m = (p.type === "edited" || p.type === "deleted") && this._known(p.id);
    if (m && p.type === "deleted") m.e2ee = undefined;
    if (m && p.type === "edited" && p.e2ee) {
      m.e2ee = p.e2ee;
      this._open(m);
      if (m.decrypt === "ok") this._emit("update", { message: m, change: "decrypted" });
    }
  }

  /**
   * Records a key the server showed and computes its fingerprint.
   * @param {string} identity @param {string|undefined} key
   */
  _learnKey(identity, key) {
    if (!identity || !key || this.e2ee.keys.get(identity) === key) return;
    this.e2ee.keys.set(identity, key);
    this.e2ee.fingerprints.delete(identity);
    parsePublicKey(key)
      .then((raw) => fingerprint(raw))
      .then((fp) => {
        if (this.e2ee.keys.get(identity) !== key) return;
        this.e2ee.fingerprints.set(identity, fp);
        this._emit("participants", {});
      })
      .catch(() => this.e2ee.keys.delete(identity)); // not a key: nothing is sealed to it
  }

  /** @param {WireMessage} m */
  _merge(m) {
    const out = super._merge(m);
    if (out.e2ee) this._open(out);
    return out;
  }

  /** @param {WireMessage} m */
  _pinCopy(m) {
    const out = super._pinCopy(m);
    if (out.e2ee && !out.decrypt) this._open(out);
    return out;
  }

  /**
   * Opens m's envelope: at once when its plaintext is known, otherwise
   * asynchronously, followed by an `update` {change: "decrypted"}.
   * @param {Message} m
   */
  _open(m) {
    const env = /** @type {Envelope} */ (m.e2ee);
    const known = this._plain.get(env.ct);
    if (known !== undefined) {
      m.text = known.text;
      m.e2eeFile = known.file;
      m.decrypt = "ok";
      return;
    }
    m.text = "";
    m.e2eeFile = undefined;
    m.decrypt = "pending";
    const ctx = { room: this.room, sender: m.sender, to: m.to || [], ref: m.editedAt ? m.id : "" };
    const key = this.e2ee.key;
    (async () => {
      if (!key) throw new Error("no device key");
      const content = JSON.parse(await openText(env, ctx, this.self.identity, key));
      if (!content || typeof content.text !== "string") throw new Error("not a text content");
      const f = content.file;
      if (!!f !== (m.kind === "file") || (f && (typeof f.key !== "string" || typeof f.nonce !== "string" || typeof f.name !== "string"))) {
        throw new Error("the content's file does not match the message");
      }
      return /** @type {Content} */ ({ text: content.text, file: f || undefined });
    })().then(
      (content) => this._opened(m.id, env, content),
      () => this._opened(m.id, env, null),
    );
  }

  /**
   * @param {string} id @param {Envelope} env @param {Content|null} content null: it did not open
   */
  _opened(id, env, content) {
    if (content !== null) this._plain.set(env.ct, content);
    for (const m of [this._known(id), this.pins.get(id)]) {
      if (!m || !m.e2ee || m.e2ee.ct !== env.ct) continue; // replaced meanwhile
      m.text = content === null ? "" : content.text;
      m.e2eeFile = content === null ? undefined : content.file;
      m.decrypt = content === null ? "failed" : "ok";
      this._emit("update", { message: m, change: "decrypted" });
    }
  }

  /**
   * Seals text for to and this identity (ref: the edited message's id),
   * asking the server for keys it has not shown yet. Resolves to null when
   * a recipient has no key (or this browser has none); rejects when the
   * server cannot be asked.
   * @param {string} text @param {string[]} to @param {string} ref @param {EncryptedFile} [file]
   * @returns {Promise<Envelope|null>}
   */
  async _seal(text, to, ref, file = undefined) {
    if (!this.e2ee.key) return null;
    const me = this.self.identity;
    this.e2ee.keys.set(me, this.e2ee.key.publicKey);
    const missing = to.filter((id) => !this.e2ee.keys.has(id));
    // Not connected: an error, not a message in clear (only a key the
    // server says it does not have sends one in clear).
    if (missing.length) await this._request({ type: "keys", to: missing });
    /** @type {Record<string, string>} */
    const keys = {};
    for (const id of [me, ...to]) {
      const k = this.e2ee.keys.get(id);
      if (!k) return null;
      keys[id] = k;
    }
    const content = file ? { text, file } : { text };
    const env = await seal(JSON.stringify(content), { room: this.room, sender: me, to, ref }, keys);
    this._plain.set(env.ct, content);
    return env;
  }

  /**
   * Sends a message; a private one is end-to-end encrypted when this
   * browser and every destination have a key (a room that requires it
   * refuses the others with a chaterror). The server cannot count the
   * characters of an encrypted text, so its limit is checked here.
   * @param {string} text
   * @param {{to?: string[], replyTo?: string}} [opts]
   * @returns {Promise<{id: string, seq: number, createdAt: string}>}
   */
  sendMessage(text, opts = {}) {
    const t = text.trim();
    if (!opts.to || !opts.to.length || !t) return super.sendMessage(text, opts);
    if ([...t].length > MAX_TEXT) {
      const err = new BackchannelError("too_long", `text is longer than ${MAX_TEXT} characters`);
      this._emit("chaterror", { code: err.code, message: err.message, retrying: false, draft: { text, to: opts.to, replyTo: opts.replyTo } });
      const failed = Promise.reject(err);
      failed.catch(() => {});
      return failed;
    }
    const sent = this._seal(t, opts.to, "").then(
      (env) => (env ? this._enqueue({ kind: "text", text: t, to: opts.to, replyTo: opts.replyTo, e2ee: env }) : super.sendMessage(text, opts)),
      (err) => {
        this._emit("chaterror", { code: err.code || "unavailable", message: err.message, retrying: false, draft: { text, to: opts.to, replyTo: opts.replyTo } });
        throw err;
      });
    sent.catch(() => {}); // as the outbox's promises: callers that ignore it see chaterror instead
    return sent;
  }

  /**
   * Sends a file; to private destinations who all have keys, end-to-end
   * encrypted: the bytes are encrypted here (AES-128-GCM, a fresh key)
   * and uploaded as "encrypted", and the file's key, name and type travel
   * in the sealed content with the caption.
   * @param {File} file
   * @param {{text?: string, to?: string[], replyTo?: string}} [opts]
   * @returns {Promise<{id: string, seq: number, createdAt: string}>}
   */
  sendFile(file, opts = {}) {
    const to = opts.to || [];
    if (!to.length || !this.e2ee.key) return super.sendFile(file, opts);
    const sent = this._sendEncryptedFile(file, to, opts);
    sent.catch(() => {});
    return sent;
  }

  /**
   * @param {File} file @param {string[]} to @param {{text?: string, replyTo?: string}} opts
   * @returns {Promise<{id: string, seq: number, createdAt: string}>}
   */
  async _sendEncryptedFile(file, to, opts) {
    const text = (opts.text || "").trim();
    const draft = { text: opts.text || "", to, replyTo: opts.replyTo, file };
    const fail = (/** @type {any} */ err) => {
      this._emit("chaterror", { code: err.code || "upload_failed", message: err.message, retrying: false, draft });
      throw err;
    };
    const key = crypto.getRandomValues(new Uint8Array(16));
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    /** @type {EncryptedFile} */
    const meta = { name: file.name || "file", type: file.type || "application/octet-stream", size: file.size, key: b64encode(key), nonce: b64encode(nonce) };
    let env;
    try {
      env = await this._seal(text, to, "", meta);
    } catch (err) {
      return fail(err);
    }
    if (!env) return super.sendFile(file, opts); // a destination without a key: in clear
    let att;
    try {
      const ck = await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["encrypt"]);
      const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: FILE_AAD }, ck, await file.arrayBuffer());
      att = await this.uploadAttachment(new File([ct], "encrypted", { type: "application/octet-stream" }));
    } catch (err) {
      return fail(err);
    }
    return this._enqueue({ kind: "file", text, to, replyTo: opts.replyTo, attachment: att, e2ee: env });
  }

  /**
   * Downloads and decrypts an opened encrypted file message's attachment.
   * @param {Message} m
   * @returns {Promise<File>}
   */
  async downloadEncryptedFile(m) {
    const f = m.e2eeFile;
    if (!f || !m.attachment) throw new BackchannelError("not_found", "not an opened encrypted file");
    const res = await fetch(await this.attachmentURL(m.attachment.id));
    if (!res.ok) throw new BackchannelError("unavailable", `download failed (${res.status})`);
    const ck = await crypto.subtle.importKey("raw", b64decode(f.key), "AES-GCM", false, ["decrypt"]);
    let pt;
    try {
      pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: b64decode(f.nonce), additionalData: FILE_AAD }, ck, await res.arrayBuffer());
    } catch {
      throw new BackchannelError("decrypt", "the file does not decrypt");
    }
    return new File([pt], f.name, { type: f.type });
  }

  /**
   * Edits a message; an encrypted one is re-encrypted for its audience.
   * @param {string} id @param {string} text
   */
  edit(id, text) {
    const m = this._known(id);
    if (!m || !m.e2ee) {
      super.edit(id, text);
      return;
    }
    const t = text.trim();
    this._seal(t, m.to || [], id, m.e2eeFile).then(
      (env) => {
        if (env) this._sendOp({ type: "edit", id, e2ee: env });
        else this._emit("chaterror", { code: "no_key", message: "A recipient's encryption key is unknown: the edit was not sent.", op: "edit" });
      },
      (err) => this._emit("chaterror", { code: err.code || "unavailable", message: err.message, op: "edit" }));
  }

  /**
   * The fingerprint of identity's key (this device's for the own identity),
   * "" when unknown.
   * @param {string} identity
   */
  fingerprintOf(identity) {
    if (identity === this.self.identity) return this.e2ee.fingerprint;
    return this.e2ee.fingerprints.get(identity) || "";
  }
}

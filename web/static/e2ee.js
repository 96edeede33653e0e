// @ts-check
// End-to-end encryption of private messages, in the browser: the same
// construction as the Go package protocol/e2ee (docs/e2ee.md gives it byte
// by byte), on WebCrypto only.
//
// HPKE (RFC 9180) base mode with DHKEM(P-256, HKDF-SHA256), HKDF-SHA256 and
// AES-128-GCM is implemented here exactly as the RFC writes it
// (LabeledExtract, LabeledExpand, ExtractAndExpand, KeySchedule, the
// context's nonce sequence and Export) on WebCrypto's ECDH, HMAC and
// AES-GCM: browsers offer no HPKE, and a library would need a build step or
// a copy in this repository. The RFC's test vector for this suite runs
// against this code in Chromium (web/e2ee_browser_test.go).
//
// A device's private key is generated non-extractable and kept in
// IndexedDB: script on the page can use it but never read it.

export const SUITE = "bc-e2ee-v1";
export const KEM_ID = 0x0010; // DHKEM(P-256, HKDF-SHA256)
export const KDF_ID = 0x0001; // HKDF-SHA256
export const AEAD_ID = 0x0001; // AES-128-GCM
export const ENC_SIZE = 65;
export const SEALED_KEY_SIZE = 32;
export const NONCE_SIZE = 12;
export const MIN_CIPHERTEXT = 17;
/** What the server enforces by default (Go: DefaultLimits). */
export const DEFAULT_LIMITS = { maxCiphertext: 16 << 10, maxKeys: 101 };
const OPEN_LIMITS = { maxCiphertext: 1 << 20, maxKeys: 10000 };

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();
const P256 = { name: "ECDH", namedCurve: "P-256" };

/** An error with a code: suite, encoding, length, too_large, recipients, malformed (envelope checks), key (a bad public key), no_key, not_recipient, decrypt. */
export class E2EEError extends Error {
  /** @param {string} code @param {string} field @param {string} message */
  constructor(code, field, message) {
    super(`e2ee: ${field}: ${message}`);
    this.name = "E2EEError";
    this.code = code;
    this.field = field;
  }
}

// ---- bytes ----

/** @param {...Uint8Array} parts */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

/** I2OSP(n, w): n big-endian in w bytes. @param {number} n @param {number} w */
function i2osp(n, w) {
  const out = new Uint8Array(w);
  for (let i = w - 1; i >= 0 && n > 0; i--) {
    out[i] = n % 256;
    n = Math.floor(n / 256);
  }
  return out;
}

/** @param {Uint8Array} a @param {Uint8Array} b */
function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Strings ordered by their UTF-8 bytes, as Go orders them. @param {string} a @param {string} b */
const byBytes = (a, b) => compareBytes(utf8.encode(a), utf8.encode(b));

/** Standard base64 with padding. @param {Uint8Array} bytes */
export function b64encode(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Decodes canonical standard base64 only (atob alone skips spaces and accepts missing padding). @param {unknown} s @param {string} field */
export function b64decode(s, field = "value") {
  let bin;
  try {
    bin = typeof s === "string" ? atob(s) : null;
  } catch {
    bin = null;
  }
  const out = bin === null ? null : Uint8Array.from(bin, (c) => c.charCodeAt(0));
  if (!out || b64encode(out) !== s) throw new E2EEError("encoding", field, "not canonical standard base64");
  return out;
}

/** @param {Uint8Array} b */
export const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
/** @param {string} s */
export const unhex = (s) => new Uint8Array((s.match(/../g) || []).map((x) => parseInt(x, 16)));
/** @param {Uint8Array} b */
const b64url = (b) => b64encode(b).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

// ---- RFC 9180 on WebCrypto ----

const HPKE_V1 = utf8.encode("HPKE-v1");
const KEM_SUITE = concat(utf8.encode("KEM"), i2osp(KEM_ID, 2));
const HPKE_SUITE = concat(utf8.encode("HPKE"), i2osp(KEM_ID, 2), i2osp(KDF_ID, 2), i2osp(AEAD_ID, 2));

/** HMAC-SHA256. An empty key is HashLen zeros, which HMAC pads to the same block. @param {Uint8Array} key @param {Uint8Array} msg */
async function hmac(key, msg) {
  const k = await subtle.importKey("raw", key.length ? key : new Uint8Array(32), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, msg));
}

/** HKDF-Expand (RFC 5869) with SHA-256. @param {Uint8Array} prk @param {Uint8Array} info @param {number} L */
async function hkdfExpand(prk, info, L) {
  let t = new Uint8Array(0);
  const out = [];
  for (let i = 1; out.length * 32 < L; i++) {
    t = await hmac(prk, concat(t, info, new Uint8Array([i])));
    out.push(t);
  }
  return concat(...out).slice(0, L);
}

/** @param {Uint8Array} suite @param {Uint8Array} salt @param {string} label @param {Uint8Array} ikm */
function labeledExtract(suite, salt, label, ikm) {
  return hmac(salt, concat(HPKE_V1, suite, utf8.encode(label), ikm));
}

/** @param {Uint8Array} suite @param {Uint8Array} prk @param {string} label @param {Uint8Array} info @param {number} L */
function labeledExpand(suite, prk, label, info, L) {
  return hkdfExpand(prk, concat(i2osp(L, 2), HPKE_V1, suite, utf8.encode(label), info), L);
}

/** @param {Uint8Array} raw */
async function importPublic(raw) {
  if (raw.length !== ENC_SIZE || raw[0] !== 4) throw new E2EEError("key", "public key", "not a 65-byte uncompressed P-256 point");
  try {
    return await subtle.importKey("raw", raw, P256, true, []);
  } catch {
    throw new E2EEError("key", "public key", "not a point on P-256");
  }
}

/** @param {CryptoKey} priv @param {CryptoKey} pub */
async function dh(priv, pub) {
  return new Uint8Array(await subtle.deriveBits({ name: "ECDH", public: pub }, priv, 256));
}

/** DHKEM ExtractAndExpand. @param {Uint8Array} dhOut @param {Uint8Array} kemContext */
async function extractAndExpand(dhOut, kemContext) {
  const prk = await labeledExtract(KEM_SUITE, new Uint8Array(0), "eae_prk", dhOut);
  return labeledExpand(KEM_SUITE, prk, "shared_secret", kemContext, 32);
}

/**
 * @typedef {{privateKey: CryptoKey, publicRaw: Uint8Array}} KeyPair
 * A key pair: the private key as a CryptoKey (usage deriveBits) and the
 * public key's 65-byte uncompressed point.
 */

/**
 * DHKEM Encap. ephemeral is for test vectors only; normally a fresh pair.
 * @param {Uint8Array} pkR @param {KeyPair} [ephemeral]
 */
export async function encap(pkR, ephemeral) {
  const eph = ephemeral || (await generateKeyPair());
  const enc = eph.publicRaw;
  const sharedSecret = await extractAndExpand(await dh(eph.privateKey, await importPublic(pkR)), concat(enc, pkR));
  return { sharedSecret, enc };
}

/** DHKEM Decap. @param {Uint8Array} enc @param {KeyPair} me */
export async function decap(enc, me) {
  return extractAndExpand(await dh(me.privateKey, await importPublic(enc)), concat(enc, me.publicRaw));
}

/** KeySchedule for mode_base (no PSK). @param {Uint8Array} sharedSecret @param {Uint8Array} info */
export async function keySchedule(sharedSecret, info) {
  const none = new Uint8Array(0);
  const pskIdHash = await labeledExtract(HPKE_SUITE, none, "psk_id_hash", none);
  const infoHash = await labeledExtract(HPKE_SUITE, none, "info_hash", info);
  const keyScheduleContext = concat(new Uint8Array([0]), pskIdHash, infoHash);
  const secret = await labeledExtract(HPKE_SUITE, sharedSecret, "secret", none);
  return {
    keyScheduleContext,
    secret,
    key: await labeledExpand(HPKE_SUITE, secret, "key", keyScheduleContext, 16),
    baseNonce: await labeledExpand(HPKE_SUITE, secret, "base_nonce", keyScheduleContext, 12),
    exporterSecret: await labeledExpand(HPKE_SUITE, secret, "exp", keyScheduleContext, 32),
  };
}

/** An HPKE encryption context (RFC 9180 section 5.2). */
export class HPKEContext {
  /** @param {{key: Uint8Array, baseNonce: Uint8Array, exporterSecret: Uint8Array}} ks */
  constructor(ks) {
    this.ks = ks;
    this.seq = 0;
    /** @type {Promise<CryptoKey>} */
    this.aesKey = subtle.importKey("raw", ks.key, "AES-GCM", false, ["encrypt", "decrypt"]);
  }
  nonce() {
    const s = i2osp(this.seq, 12);
    return this.ks.baseNonce.map((b, i) => b ^ s[i]);
  }
  /** @param {Uint8Array} aad @param {Uint8Array} pt */
  async seal(aad, pt) {
    const ct = await subtle.encrypt({ name: "AES-GCM", iv: this.nonce(), additionalData: aad }, await this.aesKey, pt);
    this.seq++;
    return new Uint8Array(ct);
  }
  /** @param {Uint8Array} aad @param {Uint8Array} ct */
  async open(aad, ct) {
    const pt = await subtle.decrypt({ name: "AES-GCM", iv: this.nonce(), additionalData: aad }, await this.aesKey, ct);
    this.seq++;
    return new Uint8Array(pt);
  }
  /** @param {Uint8Array} exporterContext @param {number} L */
  export(exporterContext, L) {
    return labeledExpand(HPKE_SUITE, this.ks.exporterSecret, "sec", exporterContext, L);
  }
}

/** SetupBaseS. @param {Uint8Array} pkR @param {Uint8Array} info @param {KeyPair} [ephemeral] */
export async function setupSender(pkR, info, ephemeral) {
  const { sharedSecret, enc } = await encap(pkR, ephemeral);
  return { enc, sharedSecret, ctx: new HPKEContext(await keySchedule(sharedSecret, info)) };
}

/** SetupBaseR. @param {Uint8Array} enc @param {KeyPair} me @param {Uint8Array} info */
export async function setupRecipient(enc, me, info) {
  return new HPKEContext(await keySchedule(await decap(enc, me), info));
}

// ---- keys ----

/** A new P-256 key pair whose private key can never be exported. @returns {Promise<KeyPair>} */
export async function generateKeyPair() {
  const kp = /** @type {CryptoKeyPair} */ (await subtle.generateKey(P256, false, ["deriveBits"]));
  return { privateKey: kp.privateKey, publicRaw: new Uint8Array(await subtle.exportKey("raw", kp.publicKey)) };
}

/** A key pair from its 32-byte scalar and 65-byte point (vectors, tests). @param {Uint8Array} sk @param {Uint8Array} pk */
export async function importKeyPair(sk, pk) {
  const jwk = { kty: "EC", crv: "P-256", d: b64url(sk), x: b64url(pk.subarray(1, 33)), y: b64url(pk.subarray(33, 65)) };
  return { privateKey: await subtle.importKey("jwk", jwk, P256, false, ["deriveBits"]), publicRaw: pk };
}

/** Decodes and checks a public key as it travels (base64 of the point). @param {string} s */
export async function parsePublicKey(s) {
  const raw = b64decode(s, "public key");
  await importPublic(raw);
  return raw;
}

const DB = "backchannel-e2ee";
const STORE = "keys";

/** @returns {Promise<IDBDatabase>} */
function openDB() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * This device's key pair for name (an identity, or "device"), from
 * IndexedDB, made and stored on first use. Two tabs racing both end up
 * with whichever pair was stored first.
 * @param {string} [name]
 * @returns {Promise<KeyPair & {publicKey: string, created: number}>}
 */
export async function loadOrCreateDeviceKey(name = "device") {
  const fresh = await generateKeyPair();
  const db = await openDB();
  try {
    const record = await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, "readwrite");
      const store = tx.objectStore(STORE);
      /** @type {any} */
      let out;
      store.get(name).onsuccess = (e) => {
        out = /** @type {IDBRequest} */ (e.target).result;
        if (!out) {
          out = { privateKey: fresh.privateKey, publicRaw: fresh.publicRaw, created: Date.now() };
          store.add(out, name);
        }
      };
      tx.oncomplete = () => resolve(out);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return { ...record, publicKey: b64encode(record.publicRaw) };
  } finally {
    db.close();
  }
}

/** Forgets this device's key for name (messages sealed to it become unreadable here). @param {string} [name] */
export async function deleteDeviceKey(name = "device") {
  const db = await openDB();
  try {
    await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, "readwrite");
      tx.objectStore(STORE).delete(name);
      tx.oncomplete = () => resolve(undefined);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** @param {Uint8Array} sum 30 digits in six groups of five. */
function digits(sum) {
  const groups = [];
  for (let i = 0; i < 6; i++) {
    let v = 0;
    for (const c of sum.subarray(5 * i, 5 * i + 5)) v = v * 256 + c; // < 2^40, exact in a double
    groups.push(String(v % 100000).padStart(5, "0"));
  }
  return groups.join(" ");
}

/** A key's short safety number (Go: PublicKey.Fingerprint). @param {Uint8Array} pk */
export async function fingerprint(pk) {
  const msg = concat(utf8.encode("backchannel e2ee v1 fingerprint"), new Uint8Array([0]), pk);
  return digits(new Uint8Array(await subtle.digest("SHA-256", msg)));
}

/** One number for two identities and their keys (Go: SafetyNumber). @param {string} idA @param {Uint8Array} pkA @param {string} idB @param {Uint8Array} pkB */
export async function safetyNumber(idA, pkA, idB, pkB) {
  let a = { id: utf8.encode(idA).subarray(0, 0xffff), pk: pkA };
  let b = { id: utf8.encode(idB).subarray(0, 0xffff), pk: pkB };
  const c = compareBytes(utf8.encode(idA), utf8.encode(idB));
  if (c > 0 || (c === 0 && compareBytes(pkA, pkB) > 0)) [a, b] = [b, a];
  const parts = [utf8.encode("backchannel e2ee v1 safety number"), new Uint8Array([0])];
  for (const p of [a, b]) parts.push(i2osp(p.id.length, 2), p.id, p.pk);
  return digits(new Uint8Array(await subtle.digest("SHA-256", concat(...parts))));
}

// ---- envelopes ----

/**
 * @typedef {{room: string, sender: string, to: string[], ref?: string}} Context
 * What an envelope is bound to; a receiver rebuilds it from the message.
 * @typedef {{identity: string, enc: string, key: string}} SealedKey
 * @typedef {{suite: string, nonce: string, ct: string, keys: SealedKey[]}} Envelope
 */

/** The destinations and the sender, deduplicated, in byte order. @param {string[]} to @param {string} sender */
export function recipients(to, sender) {
  return [...new Set([...to, sender])].sort(byBytes);
}

/** The additional data of the content and of every sealed key (Go: Context.AAD). @param {Context} c */
export function contextAAD(c) {
  if (!c.sender) throw new E2EEError("malformed", "context", "no sender");
  const to = [...new Set(c.to)].filter((id) => id !== c.sender).sort(byBytes);
  /** @param {string} s */
  const lp = (s) => {
    const b = utf8.encode(s);
    if (b.length > 0xffff) throw new E2EEError("too_large", "context", "a field is longer than 65535 bytes");
    return concat(i2osp(b.length, 2), b);
  };
  return concat(utf8.encode("backchannel e2ee v1"), new Uint8Array([0]), lp(c.room), lp(c.sender), i2osp(to.length, 2), ...to.map(lp), lp(c.ref || ""));
}

/** The HPKE info of a sealed key. @param {string} identity */
export const keyInfo = (identity) => concat(utf8.encode("backchannel e2ee v1 key"), new Uint8Array([0]), utf8.encode(identity));

/**
 * The checks a server makes without a key (Go: Validate). Throws E2EEError.
 * @param {any} env @param {string[]} to @param {string} sender @param {{maxCiphertext: number, maxKeys: number}} [limits]
 */
export function validate(env, to, sender, limits = DEFAULT_LIMITS) {
  if (!env || typeof env !== "object" || !Array.isArray(env.keys)) throw new E2EEError("malformed", "envelope", "not an envelope");
  if (env.suite !== SUITE) throw new E2EEError("suite", "suite", `unsupported suite ${JSON.stringify(env.suite)}`);
  /** @param {string} field @param {unknown} s @param {number} n */
  const exact = (field, s, n) => {
    const b = b64decode(s, field);
    if (b.length !== n) throw new E2EEError("length", field, `${b.length} bytes, want ${n}`);
    return b;
  };
  exact("nonce", env.nonce, NONCE_SIZE);
  if (typeof env.ct === "string" && env.ct.length > 4 * Math.ceil(limits.maxCiphertext / 3)) throw new E2EEError("too_large", "ct", `more than ${limits.maxCiphertext} bytes`);
  const ct = b64decode(env.ct, "ct");
  if (ct.length < MIN_CIPHERTEXT) throw new E2EEError("length", "ct", `${ct.length} bytes, at least ${MIN_CIPHERTEXT}`);
  if (ct.length > limits.maxCiphertext) throw new E2EEError("too_large", "ct", `more than ${limits.maxCiphertext} bytes`);
  if (!sender) throw new E2EEError("recipients", "keys", "no sender identity");
  const want = recipients(to, sender);
  if (env.keys.length > limits.maxKeys || want.length > limits.maxKeys) throw new E2EEError("too_large", "keys", `at most ${limits.maxKeys} sealed keys`);
  const seen = new Set();
  env.keys.forEach((/** @type {any} */ k, /** @type {number} */ i) => {
    const id = k && k.identity;
    if (seen.has(id)) throw new E2EEError("recipients", `keys[${i}].identity`, `${JSON.stringify(id)} has two sealed keys`);
    if (!want.includes(id)) throw new E2EEError("recipients", `keys[${i}].identity`, `${JSON.stringify(id)} is neither a destination nor the sender`);
    seen.add(id);
    if (exact(`keys[${i}].enc`, k.enc, ENC_SIZE)[0] !== 4) throw new E2EEError("length", `keys[${i}].enc`, "not an uncompressed P-256 point");
    exact(`keys[${i}].key`, k.key, SEALED_KEY_SIZE);
  });
  for (const id of want) if (!seen.has(id)) throw new E2EEError("recipients", "keys", `no sealed key for ${JSON.stringify(id)}`);
}

/**
 * Encrypts plaintext for ctx.sender and every destination. keys maps each
 * of them (the sender too) to its public key: base64 or the 65 raw bytes.
 * fixed holds the content key, nonce and ephemeral key pairs of a
 * documented test vector; never pass it otherwise.
 * @param {string|Uint8Array} plaintext @param {Context} ctx
 * @param {Record<string, string|Uint8Array>|Map<string, string|Uint8Array>} keys
 * @param {{contentKey?: Uint8Array, nonce?: Uint8Array, ephemeral?: Record<string, KeyPair>}} [fixed]
 * @returns {Promise<Envelope>}
 */
export async function seal(plaintext, ctx, keys, fixed = {}) {
  const get = (/** @type {string} */ id) => (keys instanceof Map ? keys.get(id) : Object.hasOwn(keys, id) ? keys[id] : undefined);
  const aad = contextAAD(ctx);
  const ids = recipients(ctx.to, ctx.sender);
  /** @type {Uint8Array[]} */
  const pks = [];
  for (const id of ids) {
    const k = get(id);
    if (!k) throw new E2EEError("no_key", "keys", `no public key for ${JSON.stringify(id)}`);
    pks.push(typeof k === "string" ? await parsePublicKey(k) : k);
  }
  const contentKey = fixed.contentKey || crypto.getRandomValues(new Uint8Array(16));
  const nonce = fixed.nonce || crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
  const pt = typeof plaintext === "string" ? utf8.encode(plaintext) : plaintext;
  const ck = await subtle.importKey("raw", contentKey, "AES-GCM", false, ["encrypt"]);
  const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad }, ck, pt));
  const sealed = await Promise.all(
    ids.map(async (id, i) => {
      const { enc, ctx: hctx } = await setupSender(pks[i], keyInfo(id), fixed.ephemeral && fixed.ephemeral[id]);
      return { identity: id, enc: b64encode(enc), key: b64encode(await hctx.seal(aad, contentKey)) };
    }),
  );
  return { suite: SUITE, nonce: b64encode(nonce), ct: b64encode(ct), keys: sealed };
}

/**
 * Decrypts env as identity me with its key pair, in ctx rebuilt from the
 * message received. Returns the plaintext bytes only when everything
 * authenticates; otherwise throws an E2EEError (show "can't decrypt").
 * @param {Envelope} env @param {Context} ctx @param {string} me @param {KeyPair} keyPair
 */
export async function open(env, ctx, me, keyPair) {
  validate(env, ctx.to, ctx.sender, OPEN_LIMITS);
  const aad = contextAAD(ctx);
  const k = env.keys.find((x) => x.identity === me);
  if (!k) throw new E2EEError("not_recipient", "keys", `no sealed key for ${JSON.stringify(me)}`);
  let contentKey;
  try {
    const hctx = await setupRecipient(b64decode(k.enc), keyPair, keyInfo(me));
    contentKey = await hctx.open(aad, b64decode(k.key));
  } catch {
    throw new E2EEError("decrypt", "keys", "the sealed key does not open with this key");
  }
  try {
    const ck = await subtle.importKey("raw", contentKey, "AES-GCM", false, ["decrypt"]);
    return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: b64decode(env.nonce), additionalData: aad }, ck, b64decode(env.ct)));
  } catch {
    throw new E2EEError("decrypt", "ct", "the content does not authenticate");
  }
}

/** open, decoded as UTF-8 (invalid UTF-8 is an error, not replacement characters). @param {Envelope} env @param {Context} ctx @param {string} me @param {KeyPair} keyPair */
export async function openText(env, ctx, me, keyPair) {
  return new TextDecoder("utf-8", { fatal: true }).decode(await open(env, ctx, me, keyPair));
}

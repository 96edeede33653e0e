// @ts-check
// Helpers and constants shared by the client module's parts; re-exported
// by backchannel.js, which is what other web apps import.

/** The emoji offered by the bundled reaction picker. */
export const REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "🙏"];

export const TYPING_EXPIRY = 6500; // the server ends a silent indicator after 5 s
export const RECEIVED_LOG = 5000;
export const ACK_TIMEOUT = 15000; // resend an unacknowledged message after this

/**
 * Decodes (without verifying) an access token's claims, for display only.
 * @param {string} token
 * @returns {{identity:string,name:string,room:string,admin:boolean,exp:number}|null}
 */
export function decodeToken(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")))
        .map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0"))
        .join(""),
    );
    const c = JSON.parse(json);
    const v = c.video || {};
    return { identity: c.sub || "", name: c.name || c.sub || "", room: v.room || "", admin: !!v.roomAdmin, exp: c.exp || 0 };
  } catch {
    return null;
  }
}

/**
 * Asks a server started with --dev for a token (GET /v1/dev/token).
 * Resolves to {token, identity, room}; rejects with err.status 404 when the
 * server is not in dev mode.
 * @param {{room?: string, name?: string, identity?: string, admin?: boolean}} [who]
 * @param {string} [baseURL]
 * @returns {Promise<{token: string, identity: string, room: string}>}
 */
export async function devToken({ room, name, identity, admin } = {}, baseURL = location.origin) {
  const q = new URLSearchParams({ room: room || "", name: name || "" });
  if (identity) q.set("identity", identity);
  if (admin) q.set("admin", "1");
  const res = await fetch(`${baseURL}/v1/dev/token?${q}`, { cache: "no-store" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new BackchannelError(`http_${res.status}`, body.reason || body.error || `HTTP ${res.status}`, { status: res.status });
  }
  return body;
}

/**
 * What the server tells any page about itself (GET /v1/config): whether it
 * runs with --dev (and so mints tokens at /v1/dev/token).
 * @param {string} [baseURL]
 * @returns {Promise<{dev: boolean}>}
 */
export async function serverConfig(baseURL = location.origin) {
  const res = await fetch(`${baseURL}/v1/config`, { cache: "no-store" });
  if (!res.ok) throw new BackchannelError(`http_${res.status}`, `HTTP ${res.status}`, { status: res.status });
  const body = await res.json();
  return { dev: body.dev === true };
}

/**
 * Formats a byte count for people: 532 B, 12.4 KB, 3.1 MB.
 * @param {number} n
 */
export function formatBytes(n) {
  if (!(n >= 0)) return "";
  if (n < 1000) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** A fresh random id for clientId fields. */
export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** An error answered by the server (chat error packet or HTTP API). */
export class BackchannelError extends Error {
  /**
   * @param {string} code the protocol's error code (docs/protocol.md), or http_NNN
   * @param {string} [message]
   * @param {{status?: number, retryAfterMs?: number, fatal?: boolean}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message || code);
    this.name = "BackchannelError";
    this.code = code;
    /** HTTP status, for an HTTP API error */
    this.status = extra.status;
    /** when to try again, for a retryable refusal */
    this.retryAfterMs = extra.retryAfterMs;
    /** a connection failure that ends the session instead of reconnecting */
    this.fatal = !!extra.fatal;
  }
}

export const REQUEST_TIMEOUT = 15000;

// @ts-check
// The HTTP API for Client (backchannel.js): attachment upload, signed
// attachment URLs and the chat-replay download.

import { BackchannelError } from "./util.js";
import { Media } from "./devices.js";

/** @typedef {import("./types.js").Attachment} Attachment */

export class Api extends Media {
  /**
   * @param {string} token
   * @param {import("./connection.js").ClientOptions} [options]
   */
  constructor(token, options) {
    super(token, options);
    /** @type {Map<string, {url: string|null, until: number, promise: Promise<string>|null}>} */
    this._urlCache = new Map();
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {{body?: BodyInit, headers?: Record<string, string>, token?: string}} [opts]
   * @returns {Promise<any>} the JSON answer
   */
  async _api(method, path, { body, headers = {}, token = this.token } = {}) {
    const res = await fetch(this.baseURL + path, {
      method, body, cache: "no-store",
      headers: { Authorization: `Bearer ${token}`, ...headers },
    });
    let data = null;
    try {
      data = await res.json();
    } catch {
      /* not JSON */
    }
    if (!res.ok || (data && data.success === false)) {
      const msg = (data && ((data.error && data.error.message) || data.reason || data.error)) || `HTTP ${res.status}`;
      throw new BackchannelError(res.status === 429 ? "rate_limited" : `http_${res.status}`, typeof msg === "string" ? msg : `HTTP ${res.status}`, { status: res.status });
    }
    return data;
  }

  /**
   * Uploads a file (POST /v1/rooms/{room}/attachments, raw body, ?name=).
   * @param {File} file
   * @returns {Promise<Attachment>}
   */
  uploadAttachment(file) {
    const q = new URLSearchParams({ name: file.name || "file" });
    return this._api("POST", `/v1/rooms/${encodeURIComponent(this.room)}/attachments?${q}`, {
      body: file, headers: { "Content-Type": file.type || "application/octet-stream" },
    });
  }

  /**
   * A signed URL for an attachment (cached until shortly before it expires).
   * @param {string} id
   * @returns {Promise<string>}
   */
  async attachmentURL(id) {
    const c = this._urlCache.get(id);
    if (c && c.until > Date.now()) return c.url;
    if (c && c.promise) return c.promise;
    const p = this._api("GET", `/v1/attachments/${encodeURIComponent(id)}/url`).then((d) => {
      const exp = Date.parse(d.expiresAt) || Date.now() + 10 * 60000;
      this._urlCache.set(id, { url: d.url, until: exp - 60000, promise: null });
      return /** @type {string} */ (d.url);
    });
    this._urlCache.set(id, { url: null, until: 0, promise: p });
    try {
      return await p;
    } catch (err) {
      this._urlCache.delete(id);
      throw err;
    }
  }

  /**
   * Room admins: a signed URL of this meeting's chat as CSV (every session
   * of the meeting), from the chat-replay API.
   * @returns {Promise<string>}
   */
  async chatDownloadURL() {
    const list = await this._api("GET", `/v1/meetings?room=${encodeURIComponent(this.room)}&limit=1`);
    const meetings = (list.data && list.data.meetings) || [];
    if (!meetings.length) throw new BackchannelError("not_found", "this room has no recorded meeting yet");
    const d = await this._api("GET", `/v1/meetings/${encodeURIComponent(meetings[0].id)}/chat`);
    return d.data.chat_download_url;
  }
}

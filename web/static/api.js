// The HTTP API for Client (backchannel.js): attachment upload, signed
// attachment URLs and the chat-replay download. Installed on
// Client.prototype; `this` is the Client.

import { BackchannelError } from "./util.js";

export const api = {
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
  },

  /**
   * Uploads a file (POST /v1/rooms/{room}/attachments, raw body, ?name=).
   * Resolves to {id, name, contentType, size, image, width, height}.
   */
  uploadAttachment(file) {
    const q = new URLSearchParams({ name: file.name || "file" });
    return this._api("POST", `/v1/rooms/${encodeURIComponent(this.room)}/attachments?${q}`, {
      body: file, headers: { "Content-Type": file.type || "application/octet-stream" },
    });
  },

  /** A signed URL for an attachment (cached until shortly before it expires). */
  async attachmentURL(id) {
    const c = this._urlCache.get(id);
    if (c && c.until > Date.now()) return c.url;
    const p = this._api("GET", `/v1/attachments/${encodeURIComponent(id)}/url`).then((d) => {
      const exp = Date.parse(d.expiresAt) || Date.now() + 10 * 60000;
      this._urlCache.set(id, { url: d.url, until: exp - 60000, promise: null });
      return d.url;
    });
    this._urlCache.set(id, { url: null, until: 0, promise: p });
    try {
      return await p;
    } catch (err) {
      this._urlCache.delete(id);
      throw err;
    }
  },

  /**
   * Room admins: a signed URL of this meeting's chat as CSV (every session
   * of the meeting), from the chat-replay API.
   */
  async chatDownloadURL() {
    const list = await this._api("GET", `/v1/meetings?room=${encodeURIComponent(this.room)}&limit=1`);
    const meetings = (list.data && list.data.meetings) || [];
    if (!meetings.length) throw new BackchannelError("not_found", "this room has no recorded meeting yet");
    const d = await this._api("GET", `/v1/meetings/${encodeURIComponent(meetings[0].id)}/chat`);
    return d.data.chat_download_url;
  },
};

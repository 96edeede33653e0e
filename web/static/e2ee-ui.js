// @ts-check
// The meeting page's end-to-end encryption marks (docs/e2ee.md): the lock
// and "end-to-end encrypted" on such messages, "can't decrypt" for one that
// does not open, each person's key fingerprint in the People panel, and a
// warning when someone's key changes during the meeting. Kept apart from
// the rows and panels that call them, which only ask these helpers.

import { formatBytes } from "./util.js";
import { h, icon, toast } from "./dom.js";
import { ui } from "./state.js";

/** @typedef {import("./types.js").Message} Message */

/**
 * The mark of an end-to-end encrypted message, or null.
 * @param {Message} m
 */
export function e2eeMark(m) {
  if (!m.e2ee || m.deleted) return null;
  return h("div", { class: "e2ee-mark", title: "Only the sender and the recipients can read this message, not the server" },
    icon("lock"), h("span", { text: "end-to-end encrypted" }));
}

/**
 * What stands in for an encrypted message's text while it cannot be
 * shown: "Decrypting…", or "Can't decrypt" (never the ciphertext, never
 * silence). Null once it is open (its text is then the message's).
 * @param {Message} m
 */
export function e2eeBody(m) {
  if (!m.e2ee || m.deleted || m.decrypt === "ok") return null;
  if (m.decrypt === "failed") {
    return h("div", { class: "msg-body e2ee-failed", title: "It was encrypted for another key of yours (another browser or device, or cleared site data), or it was altered" },
      icon("lock"), h("span", { text: "Can't decrypt this message" }));
  }
  return h("div", { class: "msg-body e2ee-pending", text: "Decrypting…" });
}

/**
 * A person's key fingerprint line for the People panel, with a warning
 * when the key changed during the meeting; null when the person announced
 * no key.
 * @param {string} identity
 */
export function fingerprintLine(identity) {
  const c = ui.client;
  const fp = c ? c.fingerprintOf(identity) : "";
  if (!c || !fp) return null;
  const changed = c.e2ee.changed.has(identity);
  return h("span", { class: `person-fp${changed ? " changed" : ""}`, dataset: { fingerprint: fp },
    title: "Safety number of this person's encryption key: compare it with the one their screen shows for them" },
  icon("lock"), h("span", { text: fp }), changed ? h("span", { class: "fp-warn", text: " · key changed" }) : null);
}

/**
 * Warns, once per change, that someone's key changed.
 * @param {{identity: string}} d
 */
export function warnKeyChanged(d) {
  const c = ui.client;
  const p = c && c.participants.get(d.identity);
  const name = (p && p.name) || d.identity;
  toast(`${name}'s encryption key changed (a new browser or device?). Compare their safety number in People before sending private messages.`);
}

/**
 * The card of an opened encrypted file message: its real name and size
 * come from the sealed content; a click downloads the ciphertext, decrypts
 * it here and saves the file. Null until it is open (e2eeBody stands in).
 * @param {Message} m
 */
export function e2eeFileCard(m) {
  const f = m.e2eeFile;
  if (!f || m.decrypt !== "ok") return null;
  const a = h("a", { class: "file-card", href: "#", "aria-label": `Download ${f.name}, ${formatBytes(f.size)} (end-to-end encrypted)` },
    h("span", { class: "file-icon" }, icon("file")),
    h("span", { class: "file-body" }, h("span", { class: "file-name", text: f.name }), h("span", { class: "file-size", text: formatBytes(f.size) })),
    h("span", { class: "file-dl" }, icon("download")));
  a.addEventListener("click", async (e) => {
    e.preventDefault();
    try {
      const file = await ui.client.downloadEncryptedFile(m);
      const url = URL.createObjectURL(file);
      const save = h("a", { href: url, download: file.name, hidden: true });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) {
      toast(`Could not download: ${err.message}`);
    }
  });
  return a;
}

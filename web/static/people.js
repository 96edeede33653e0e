// @ts-check
// The People panel and the controls' own state: who is here, their
// microphone and camera, and the host's moderation buttons.

import { $, avatar, h, icon, setIcon } from "./dom.js";
import { ui } from "./state.js";
import { renderRecipients } from "./chat-compose.js";
import { setPanel } from "./panel.js";
import { fingerprintLine } from "./e2ee-ui.js";

/** @typedef {import("./types.js").Participant} Participant */

export function renderSelf() {
  const c = ui.client;
  if (!c) return;
  $("self-name").textContent = c.self.name ? `${c.self.name}${c.self.admin ? " · Host" : ""}` : "";
  const mic = $("btn-mic");
  const cam = $("btn-cam");
  setIcon(mic, c.microphoneOn ? "mic" : "micOff");
  setIcon(cam, c.cameraOn ? "cam" : "camOff");
  mic.setAttribute("aria-pressed", String(c.microphoneOn));
  cam.setAttribute("aria-pressed", String(c.cameraOn));
  mic.setAttribute("aria-label", c.microphoneOn ? "Turn microphone off" : "Turn microphone on");
  cam.setAttribute("aria-label", c.cameraOn ? "Turn camera off" : "Turn camera on");
  mic.classList.toggle("off", !c.microphoneOn);
  cam.classList.toggle("off", !c.cameraOn);
  $("menu-download").hidden = !c.self.admin;
  $("menu-copy-link").hidden = !ui.dev;
  /** @type {HTMLElement} */ ($("btn-more").closest(".more-wrap")).hidden = !c.self.admin && !ui.dev;
  const muted = c.self.muted || !c.self.canChat;
  $("muted-note").hidden = !muted;
  $("muted-note").textContent = c.self.muted ? "A moderator has turned off chat for you." : "Your invitation does not allow sending chat messages.";
  $("chat-input", HTMLTextAreaElement).disabled = muted;
  $("send-button", HTMLButtonElement).disabled = muted;
  $("composer").classList.toggle("disabled", muted);
}

export function renderPeople() {
  const c = ui.client;
  if (!c) return;
  const list = $("people-list");
  const people = [...c.participants.values()].filter((p) => p.online || p.chat);
  people.sort((a, b) => a.name.localeCompare(b.name));
  const n = people.length + 1;
  $("people-count-n").textContent = String(n);
  $("tab-people-n").textContent = String(n);
  $("people-count").setAttribute("aria-label", `${n} participant${n === 1 ? "" : "s"}`);
  /**
   * @param {Pick<Participant, "identity"|"name"|"muted"> & Partial<Participant>} p
   * @param {boolean} self
   */
  const row = (p, self) => {
    const hasAudio = self ? c.microphoneOn : (p.tracks || []).some((x) => x.kind === "audio" && !x.muted);
    const hasVideo = self ? c.cameraOn : (p.tracks || []).some((x) => x.kind === "video" && !x.muted);
    const sub = [];
    const host = self ? c.self.admin : !!p.host;
    if (p.muted) sub.push("Chat off");
    const actions = h("div", { class: "person-actions" });
    if (!self) {
      actions.append(h("button", {
        type: "button", class: "btn btn-small", "aria-label": `Message ${p.name} privately`, text: "Message",
        onclick: () => {
          ui.recipients = [p.identity];
          renderRecipients();
          setPanel("chat");
          $("chat-input").focus();
        },
      }));
      if (c.self.admin) {
        actions.append(
          h("button", { type: "button", class: "btn btn-small", text: p.muted ? "Allow chat" : "Mute chat", "aria-label": `${p.muted ? "Allow chat for" : "Mute chat for"} ${p.name}`, onclick: () => c.mute(p.identity, !p.muted) }),
          h("button", { type: "button", class: "btn btn-small btn-danger", text: "Remove", "aria-label": `Remove ${p.name} from the meeting`, onclick: () => c.kick(p.identity, "removed by the host") }),
        );
      }
    }
    const speaking = !!c.speakers && c.speakers.has(p.identity);
    return h("li", { class: `person${speaking ? " speaking" : ""}`, dataset: { identity: p.identity } },
      h("span", { class: "person-avatar" }, avatar(p.identity, p.name), h("span", { class: "presence-dot", title: "In the meeting" })),
      h("div", { class: "person-body" },
        h("span", { class: "person-name" }, p.name, self ? h("span", { class: "muted", text: " (you)" }) : null,
          host ? h("span", { class: "badge-host", text: "Host" }) : null),
        sub.length ? h("span", { class: "person-sub", text: sub.join(" · ") }) : null,
        fingerprintLine(p.identity)),
      h("span", { class: "person-media" },
        h("span", { class: `media-ico${hasAudio ? "" : " off"}`, title: hasAudio ? "Microphone on" : "Microphone off" }, icon(hasAudio ? "mic" : "micOff")),
        h("span", { class: `media-ico${hasVideo ? "" : " off"}`, title: hasVideo ? "Camera on" : "Camera off" }, icon(hasVideo ? "cam" : "camOff"))),
      actions,
    );
  };
  list.replaceChildren(
    row({ identity: c.self.identity, name: c.self.name || "You", muted: c.self.muted }, true),
    ...people.map((p) => row(p, false)),
  );
}

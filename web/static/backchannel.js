// @ts-check
// Backchannel browser client.
//
// A plain ES module (no build step, no dependencies) that joins a Backchannel
// room the way the bundled meeting page does, so that other web apps can
// import it:
//
//   import { connect } from "/backchannel.js";
//   const room = await connect(token, { camera: true, microphone: true });
//   room.addEventListener("message", (e) => console.log(e.detail.message));
//   await room.sendMessage("hello", { to: ["bob"] });
//
// What it does: the signaling WebSocket (/v1/rtc), the two RTCPeerConnections
// (publisher: camera, microphone and the "chat" data channel; subscriber:
// everyone else's tracks), every chat packet of docs/protocol.md, attachment
// upload and signed URLs, history paging, and reconnection after a network
// drop without gaps or duplicates (seq numbers, history and clientId retries
// of unacked messages).
//
// State lives on the client object (participants, messages, pins, typing,
// outbox); every change is announced with a CustomEvent whose detail says what
// changed. See the README comment above Client for the list.

import { E2EEChat } from "./e2ee-chat.js";

export { REACTIONS, BackchannelError, decodeToken, devToken, formatBytes, newClientId, serverConfig } from "./util.js";

/**
 * Connects and resolves once the chat channel is open.
 * @param {string} token participant access token
 * @param {import("./connection.js").ClientOptions} [options] see Client
 */
export async function connect(token, options = {}) {
  const c = new Client(token, options);
  await c.connect();
  return c;
}

/**
 * A connection to one room.
 *
 * Options: url (server base, default location.origin), camera, microphone
 * (booleans: publish on connect, default true), stream (a MediaStream to
 * publish instead of asking for devices), videoConstraints, reconnect
 * (default true).
 *
 * Events (CustomEvent, details in brackets):
 *   state        {state: "connecting"|"connected"|"reconnecting"|"closed", reason}
 *   participants {}                      the participants map changed
 *   self         {}                      own grants or chat mute changed
 *   localtrack   {track}                 own stream changed (camera/mic on, off)
 *   track        {identity, stream, track}
 *   trackended   {identity, stream, track}
 *   message      {message}               a new message (live)
 *   update       {message, change}       edit, delete, reaction, pin, unpin
 *   messages     {reason}                several messages merged (history, replay, reset)
 *   outbox       {}                      own unacked messages changed
 *   pins         {}                      the pinned set changed
 *   typing       {}                      who is typing changed
 *   read         {identity, seq}         a read horizon moved
 *   chaterror    {code, message, clientId, draft, retrying, op}
 *   kicked       {by, reason}
 *   resync       {dropped, lastSeq}
 *   packet       {packet}                every chat packet received (debugging)
 */
export class Client extends E2EEChat {}

// Its layers, each a class extending the one before, one job a file:
// connection.js (signaling, reconnection; peers.js: the peer connections),
// devices.js (camera, microphone), api.js (HTTP), timeline.js (messages,
// pins, typing), send.js (outbox and every packet sent), receive.js (every
// packet received), e2ee-chat.js (end-to-end encrypted private messages).

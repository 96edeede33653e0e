// @ts-check
// The shapes of what the client keeps and the server sends (docs/protocol.md),
// for the type checker only: this module exports nothing at run time.

/**
 * @typedef {object} Reaction
 * @property {string} emoji
 * @property {string[]} identities who reacted, in the order they did
 */

/**
 * @typedef {object} Attachment
 * @property {string} id
 * @property {string} name
 * @property {string} [contentType]
 * @property {number} size
 * @property {boolean} [image]
 * @property {number} [width]
 * @property {number} [height]
 */

/**
 * A chat message as the server sends it, its current state applied.
 * @typedef {object} Message
 * @property {string} id
 * @property {number} seq
 * @property {string} sender
 * @property {string} senderName
 * @property {"text"|"image"|"file"} kind
 * @property {string} text
 * @property {string[]} [to] only on private messages
 * @property {string} [replyTo]
 * @property {Attachment} [attachment]
 * @property {string} createdAt
 * @property {string} [editedAt]
 * @property {boolean} [deleted]
 * @property {boolean} [pinned]
 * @property {Reaction[]} [reactions] in first-use order
 * @property {import("./e2ee.js").Envelope} [e2ee] an end-to-end encrypted message's envelope (text then comes from it)
 * @property {"pending"|"ok"|"failed"} [decrypt] the client's opening of e2ee: "failed" is shown as "can't decrypt"
 * @property {EncryptedFile} [e2eeFile] an opened encrypted file message's file (its attachment holds ciphertext)
 */

/**
 * A message object as it arrives: the server leaves out every field at its
 * default (docs/protocol.md, "Absent fields"), kind ("text") and text ("")
 * included. Timeline's _merge and _pinCopy fill them in (withDefaults), so
 * the client's state holds Messages.
 * @typedef {Omit<Message, "kind" | "text"> & {kind?: Message["kind"], text?: string}} WireMessage
 */

/**
 * What the sealed content of an encrypted file message says of the file.
 * @typedef {object} EncryptedFile
 * @property {string} name
 * @property {string} type
 * @property {number} size
 * @property {string} key base64, 16 bytes (AES-128-GCM)
 * @property {string} nonce base64, 12 bytes
 */

/**
 * @typedef {object} TrackInfo
 * @property {string} id
 * @property {string} kind "audio" | "video"
 * @property {string} [publisher]
 * @property {boolean} [muted] the publisher turned it off (trackMuted)
 */

/**
 * Someone else in the room, as signaling (media) and chat presence know them.
 * @typedef {object} Participant
 * @property {string} identity
 * @property {string} name
 * @property {TrackInfo[]} tracks
 * @property {boolean} muted chat taken away by a moderator
 * @property {number} read
 * @property {boolean} online in the media session
 * @property {boolean} chat in the chat session
 * @property {boolean} [host] roomAdmin (signaling and chat presence say so)
 */

/**
 * @typedef {object} Self
 * @property {string} identity
 * @property {string} name
 * @property {boolean} admin
 * @property {boolean} canChat
 * @property {boolean} canPin
 * @property {boolean} muted
 * @property {number} read
 */

/**
 * An own message not acknowledged yet.
 * @typedef {object} OutboxEntry
 * @property {string} clientId
 * @property {"text"|"image"|"file"} kind
 * @property {string} text
 * @property {string[]} [to]
 * @property {string} [replyTo]
 * @property {File} [file]
 * @property {Attachment} [attachment]
 * @property {boolean} [uploading]
 * @property {number} tries
 * @property {number} createdAt
 * @property {ClientPacket} [packet]
 * @property {boolean} [sent]
 * @property {number} [sentAt]
 * @property {string} [matchedId] the id of the message event seen before the ack
 * @property {number} [retryAt]
 * @property {(ack: {id: string, seq: number, createdAt: string}) => void} [resolve]
 * @property {(err: Error) => void} [reject]
 * @property {string} [previewURL] the page's object URL of an image being sent
 * @property {import("./e2ee.js").Envelope} [e2ee] sent end-to-end encrypted (text is the plaintext, kept here)
 */

/**
 * A packet the client sends on the chat channel.
 * @typedef {{type: string, clientId?: string, [field: string]: unknown}} ClientPacket
 */

/**
 * Any packet the server sends on the chat channel (parsed JSON: the fields
 * present depend on `type`, see docs/protocol.md; a field at its default,
 * false, 0 or "", is left out).
 * @typedef {object} ServerPacket
 * @property {string} type
 * @property {string} [id]
 * @property {number} [seq]
 * @property {string} [clientId]
 * @property {string} [identity]
 * @property {string} [name]
 * @property {string} [emoji]
 * @property {boolean} [on]
 * @property {string} [text]
 * @property {string} [editedAt]
 * @property {string} [createdAt]
 * @property {string} [by]
 * @property {string} [reason]
 * @property {boolean} [removed]
 * @property {string[]} [to]
 * @property {WireMessage|string} [message] the message (message, pinned), or what went wrong (error)
 * @property {WireMessage[]} [messages]
 * @property {boolean} [more]
 * @property {boolean} [replay]
 * @property {number} [lastSeq]
 * @property {number} [dropped]
 * @property {string} [code]
 * @property {boolean} [retryable]
 * @property {number} [retryAfterMs]
 * @property {Partial<Self>} [self]
 * @property {{identity: string, name?: string, muted?: boolean, read?: number, host?: boolean, e2eeKey?: string}[]} [participants]
 * @property {{identity: string, name?: string, muted?: boolean, read?: number, host?: boolean, e2eeKey?: string}} [participant]
 * @property {import("./e2ee.js").Envelope} [e2ee] edited: an encrypted message's new content
 * @property {string} [e2eeKey] keyChanged: the new key
 * @property {string} [previous] keyChanged: the key it replaces
 * @property {{identity: string, e2eeKey: string}[]} [keys] keys: the answer
 */

/**
 * A signaling message (WebSocket, docs/protocol.md).
 * @typedef {object} Signal
 * @property {string} type
 * @property {string} [room]
 * @property {string} [target]
 * @property {string} [sdp]
 * @property {string} [identity]
 * @property {string} [reason]
 * @property {string} [code]
 * @property {string} [message]
 * @property {RTCIceServer[]} [iceServers]
 * @property {string} [node] joined: the cluster node hosting the room
 * @property {string} [url] redirect: the base URL of the node to connect to
 * @property {{identity: string, name: string, host?: boolean, tracks?: TrackInfo[]}} [participant]
 * @property {{identity: string, name: string, host?: boolean, tracks?: TrackInfo[]}[]} [participants]
 * @property {TrackInfo & {publisher: string}} [track]
 * @property {string} [trackId]
 * @property {boolean} [muted]
 * @property {{identity: string, level: number}[]} [speakers]
 * @property {string} [e2eeKey] join: the device's public key (docs/e2ee.md)
 */

/**
 * What went wrong with something the client sent (the "chaterror" event).
 * @typedef {object} ChatError
 * @property {string} code
 * @property {string} message
 * @property {string} [clientId]
 * @property {boolean} [retrying] sent again by itself after retryAfterMs
 * @property {number} [retryAfterMs]
 * @property {{text: string, to?: string[], replyTo?: string, file?: File}|null} [draft] a refused message, to give back to the author
 * @property {string} [op] the refused operation's packet type
 */

/**
 * The detail of each of Client's events.
 * @typedef {object} ClientEvents
 * @property {{state: string, reason: string}} state
 * @property {{}} participants
 * @property {{}} self
 * @property {{kind?: string}} localtrack
 * @property {{identity: string, stream: MediaStream, track: MediaStreamTrack}} track
 * @property {{identity: string, stream: MediaStream, track: MediaStreamTrack}} trackended
 * @property {{message: Message}} message
 * @property {{message: Message, change: string}} update
 * @property {{reason: string}} messages
 * @property {{}} outbox
 * @property {{}} pins
 * @property {{}} typing
 * @property {{identity: string, seq: number}} read
 * @property {ChatError} chaterror
 * @property {{by: string, reason: string}} kicked
 * @property {{dropped: number, lastSeq: number}} resync
 * @property {{packet: ServerPacket}} packet
 * @property {{error: Error, video: boolean, audio: boolean}} mediaerror
 * @property {{identity: string, e2eeKey: string, previous: string}} keychanged
 */

export {};

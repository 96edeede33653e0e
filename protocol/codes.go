package protocol

// Code is a stable error code, in a chat `error` packet or a signaling
// `error` message. Clients switch on it; the message beside it is for
// humans and may change.
type Code string

// Chat error codes.
const (
	// Protocol violations: the client software is broken or hostile.
	CodeBadPacket      Code = "bad_packet"       // not JSON, wrong field types, unknown or forged fields
	CodePacketTooLarge Code = "packet_too_large" // over the server's packet limit

	// A user's mistakes or conditions the user can act on.
	CodeUnknownType Code = "unknown_type" // a type this server does not know (maybe a newer client)
	CodeEmpty       Code = "empty"        // text empty after trimming
	CodeTooLong     Code = "too_long"     // text over the server's limit
	CodeRateLimited Code = "rate_limited" // token bucket empty; retryAfterMs says when to retry (signaling too)
	CodeForbidden   Code = "forbidden"    // the token's grants do not allow it (signaling too)
	CodeNotFound    Code = "not_found"    // unknown message, attachment or participant (or not visible to you)
	CodeMuted       Code = "muted"        // a moderator took away the right to chat
	CodeTooMany     Code = "too_many"     // a per-room or per-message limit (pins, reactions)
	CodeUnavailable Code = "unavailable"  // the store failed; retry later with the same clientId
	CodeRejected    Code = "rejected"     // the store refused the change for good; it was withdrawn, do not retry
)

// Signaling error codes (with CodeForbidden and CodeRateLimited above).
const (
	CodeBadMessage    Code = "bad_message"    // not a JSON text frame, unknown field or type, trailing data
	CodeJoinFirst     Code = "join_first"     // the first message must be join
	CodeJoinFailed    Code = "join_failed"    // the server could not add the participant
	CodeAlreadyJoined Code = "already_joined" // join sent twice
	CodeBadTarget     Code = "bad_target"     // an offer or answer for the wrong connection
	CodeBadOffer      Code = "bad_offer"      // the publisher offer could not be applied
	CodeBadAnswer     Code = "bad_answer"     // the subscriber answer could not be applied
	CodeBadCandidate  Code = "bad_candidate"  // the candidate could not be added
	CodeUnknownTrack  Code = "unknown_track"  // muteTrack for a track that is not published (yet) in the room
	CodeNotYourTrack  Code = "not_your_track" // muteTrack for a track another participant publishes
)

// Violation reports whether a chat error code is a protocol violation (as
// opposed to a user's mistake): only violations count towards closing a
// connection.
func (c Code) Violation() bool { return c == CodeBadPacket || c == CodePacketTooLarge }

// Retryable reports whether the same packet, sent again later with the same
// clientId, may succeed.
func (c Code) Retryable() bool { return c == CodeUnavailable || c == CodeRateLimited }

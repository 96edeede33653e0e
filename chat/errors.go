package chat

import (
	"fmt"
	"time"
)

// Code is a stable error code sent to clients in an error packet. Clients
// switch on it; the message beside it is for humans and may change.
type Code string

const (
	// Protocol violations: the client software is broken or hostile.
	CodeBadPacket      Code = "bad_packet"       // not JSON, wrong field types, unknown or forged fields
	CodePacketTooLarge Code = "packet_too_large" // over Config.MaxPacketBytes

	// A user's mistakes or conditions the user can act on.
	CodeUnknownType Code = "unknown_type" // a type this server does not know (maybe a newer client)
	CodeEmpty       Code = "empty"        // text empty after trimming
	CodeTooLong     Code = "too_long"     // text over Config.MaxTextRunes
	CodeRateLimited Code = "rate_limited" // token bucket empty; retryAfterMs says when to retry
	CodeForbidden   Code = "forbidden"    // the token's grants do not allow it
	CodeNotFound    Code = "not_found"    // unknown message, attachment or participant (or not visible to you)
	CodeMuted       Code = "muted"        // a moderator took away the right to chat
	CodeTooMany     Code = "too_many"     // a per-room or per-message limit (pins, reactions)
	CodeUnavailable Code = "unavailable"  // the store failed; retry later with the same clientId
	CodeRejected    Code = "rejected"     // the store refused the change for good; it was withdrawn, do not retry
)

// Error is a refusal of one packet. It is both a Go error and the content of
// the error packet sent back on the same channel.
type Error struct {
	Code       Code
	Message    string
	ClientID   string        // echoed so the client can match the refused packet
	RetryAfter time.Duration // only for CodeRateLimited
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Violation reports whether the error is a protocol violation (as opposed to
// a user's mistake). Only violations count towards Config.MaxViolations:
// a user who types too much text or clicks too fast is never disconnected.
func (e *Error) Violation() bool {
	return e.Code == CodeBadPacket || e.Code == CodePacketTooLarge
}

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func badPacket(format string, args ...any) *Error {
	return errorf(CodeBadPacket, format, args...)
}

var (
	errForbidden   = &Error{Code: CodeForbidden, Message: "not allowed"}
	errNoChat      = &Error{Code: CodeForbidden, Message: "your token does not allow sending chat"}
	errNotAdmin    = &Error{Code: CodeForbidden, Message: "needs the roomAdmin grant"}
	errNotFound    = &Error{Code: CodeNotFound, Message: "no such message"}
	errMuted       = &Error{Code: CodeMuted, Message: "a moderator has taken away your right to chat"}
	errUnavailable = &Error{Code: CodeUnavailable, Message: "chat storage is unavailable; retry later"}
	errRejected    = &Error{Code: CodeRejected, Message: "chat storage refused this change for good; it was withdrawn"}
)

// withClientID returns a copy of e carrying clientID (the shared sentinel
// errors above must not be modified).
func (e *Error) withClientID(id string) *Error {
	if id == "" || e.ClientID == id {
		return e
	}
	c := *e
	c.ClientID = id
	return &c
}

package chat

import (
	"fmt"
	"time"
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
func (e *Error) Violation() bool { return e.Code.Violation() }

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func badPacket(format string, args ...any) *Error {
	return errorf(CodeBadPacket, format, args...)
}

var (
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

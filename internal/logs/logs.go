package logs

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Formats are the values of --log-format.
var Formats = []string{"text", "json"}

// New returns a logger writing format ("text" or "json") to w at level and
// above.
func New(w io.Writer, format string, level slog.Leveler) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redact}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// Redacted replaces the value of an attribute whose key names a secret.
const Redacted = "[redacted]"

// redact is the handlers' last line of defence: no call site is meant to
// log a secret or a token, but if one ever does under a telling key, the
// value does not reach the log.
func redact(_ []string, a slog.Attr) slog.Attr {
	if secretKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	return a
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	return k == "token" || strings.HasSuffix(k, "_token") || strings.Contains(k, "secret") ||
		strings.Contains(k, "password") || strings.Contains(k, "credential") || k == "authorization"
}

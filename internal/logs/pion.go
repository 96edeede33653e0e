package logs

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pion/logging"
)

// LevelTrace is below slog's debug: Pion's trace output, per packet.
const LevelTrace = slog.LevelDebug - 4

// Pion returns a Pion LoggerFactory writing to log, each line with
// component=pion, Pion's scope (ice, dtls, sctp, pc, ...) and Pion's own
// level (pion_level).
//
// Pion is quiet by default, as its own default logger is (errors only):
// its info and its warnings are logged at debug (they narrate every
// connection's life, and warn of what happens on every join and leave:
// "Failed to ping without candidate pairs" before the first candidate,
// "read/write on closed pipe" after a peer is closed), and its errors,
// which concern one peer connection rather than the server, at warn
// (but for a write racing its connection's close: errorLevel).
func Pion(log *slog.Logger) logging.LoggerFactory { return pionFactory{log} }

type pionFactory struct{ log *slog.Logger }

func (f pionFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With("component", "pion", "scope", scope)}
}

type pionLogger struct{ log *slog.Logger }

// emit and emitf format only when the level is enabled: Pion calls
// Tracef on its hot paths.
func (l pionLogger) emit(level slog.Level, pionLevel, msg string) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, msg, "pion_level", pionLevel)
	}
}

func (l pionLogger) emitf(level slog.Level, pionLevel, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...), "pion_level", pionLevel)
	}
}

func (l pionLogger) Trace(msg string)          { l.emit(LevelTrace, "trace", msg) }
func (l pionLogger) Tracef(f string, a ...any) { l.emitf(LevelTrace, "trace", f, a...) }
func (l pionLogger) Debug(msg string)          { l.emit(slog.LevelDebug, "debug", msg) }
func (l pionLogger) Debugf(f string, a ...any) { l.emitf(slog.LevelDebug, "debug", f, a...) }
func (l pionLogger) Info(msg string)           { l.emit(slog.LevelDebug, "info", msg) }
func (l pionLogger) Infof(f string, a ...any)  { l.emitf(slog.LevelDebug, "info", f, a...) }
func (l pionLogger) Warn(msg string)           { l.emit(slog.LevelDebug, "warn", msg) }
func (l pionLogger) Warnf(f string, a ...any)  { l.emitf(slog.LevelDebug, "warn", f, a...) }
func (l pionLogger) Error(msg string)          { l.emit(errorLevel(msg), "error", msg) }

func (l pionLogger) Errorf(f string, a ...any) {
	if l.log.Enabled(context.Background(), slog.LevelWarn) { // debug enabled implies warn
		msg := fmt.Sprintf(f, a...)
		l.emit(errorLevel(msg), "error", msg)
	}
}

// errorLevel is warn for Pion's errors, except a write that raced the
// close of its own connection ("Failed to write packet: io: read/write on
// closed pipe" from ICE when a participant leaves): teardown, not a
// failure, logged at debug as Pion's warnings are.
func errorLevel(msg string) slog.Level {
	if strings.Contains(msg, "closed pipe") || strings.Contains(msg, "use of closed network connection") {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

package logs

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// LevelTrace is below slog's debug: Pion's trace output, per packet.
const LevelTrace = slog.LevelDebug - 4

// Pion returns a Pion LoggerFactory writing to log, each line with
// component=pion and Pion's scope (ice, dtls, sctp, pc, ...).
//
// Pion's info is demoted to debug: it narrates every connection's life
// (candidates gathered, state changes), which at info would drown the
// server's own lines. Its warnings and errors keep their level.
func Pion(log *slog.Logger) logging.LoggerFactory { return pionFactory{log} }

type pionFactory struct{ log *slog.Logger }

func (f pionFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With("component", "pion", "scope", scope)}
}

type pionLogger struct{ log *slog.Logger }

// emit and emitf format only when the level is enabled: Pion calls
// Tracef on its hot paths.
func (l pionLogger) emit(level slog.Level, msg string) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, msg)
	}
}

func (l pionLogger) emitf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(msg string)                  { l.emit(LevelTrace, msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.emitf(LevelTrace, format, args...) }
func (l pionLogger) Debug(msg string)                  { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.emitf(slog.LevelDebug, format, args...) }
func (l pionLogger) Info(msg string)                   { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.emitf(slog.LevelDebug, format, args...) }
func (l pionLogger) Warn(msg string)                   { l.emit(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.emitf(slog.LevelWarn, format, args...) }
func (l pionLogger) Error(msg string)                  { l.emit(slog.LevelError, msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.emitf(slog.LevelError, format, args...) }

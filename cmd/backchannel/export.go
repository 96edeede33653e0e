package main

// `backchannel export`: the chat-replay CSV of one session on stdout,
// straight from the database (SQLite under --data, or --database), read-only
// so it is safe beside a running server. Same columns and streaming as the
// HTTP download (export.Exporter.WriteCSV).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/export"
	"github.com/backchannel-rtc/backchannel/recorder/links"
)

func exportEnv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// isTerminal reports whether f is a character device (a terminal), without
// a dependency on golang.org/x/term.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// runExport implements `backchannel export [--data DIR | --database DSN]
// (--session ID | --room NAME)`.
func runExport(args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	data := fs.String("data", exportEnv("BACKCHANNEL_DATA", "./data"), "folder holding the SQLite database")
	database := fs.String("database", exportEnv("BACKCHANNEL_DATABASE", ""), "postgres://… to read PostgreSQL instead of SQLite")
	session := fs.String("session", "", "session id to export")
	room := fs.String("room", "", "export the latest session of this room")
	bom := fs.Bool("bom", false, "start with a UTF-8 byte order mark (for Excel)")
	publicURL := fs.String("public-url", exportEnv("BACKCHANNEL_PUBLIC_URL", ""), "server base URL: file messages get signed download links (needs --api-secret)")
	secret := fs.String("api-secret", exportEnv("BACKCHANNEL_API_SECRET", ""), "API secret signing those links (env BACKCHANNEL_API_SECRET)")
	linkTTL := fs.Duration("link-ttl", 7*24*time.Hour, "how long the file links work")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: backchannel export [--data DIR | --database DSN] (--session ID | --room NAME) > chat.csv")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*session == "") == (*room == "") {
		fs.Usage()
		return errors.New("export: give exactly one of --session and --room")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("export: unexpected arguments %q", fs.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	rec, err := recorder.Open(recorder.Config{
		DSN: *database, DataDir: *data, ReadOnly: true,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer rec.Close()

	var s *recorder.Session
	if *room != "" {
		s, err = rec.LatestSession(ctx, *room)
	} else {
		s, err = rec.SessionByID(ctx, *session)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	opts := export.Options{BOM: *bom}
	if *publicURL != "" && *secret != "" {
		exp := time.Now().Add(*linkTTL)
		opts.AttachmentURL = func(a *recorder.AttachmentRow) string {
			return links.AttachmentURL(*publicURL, *secret, a.ID, exp)
		}
	}
	tty := isTerminal(os.Stderr)
	start := time.Now()
	if tty {
		opts.Progress = func(rows int) {
			fmt.Fprintf(os.Stderr, "\rexporting session %s: %d rows", s.ID, rows)
		}
	}
	x, err := export.New(rec)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	rows, err := x.WriteCSV(ctx, os.Stdout, export.Scope{SessionID: s.ID}, opts)
	if tty {
		fmt.Fprintf(os.Stderr, "\rexported session %s: %d rows in %v\n", s.ID, rows, time.Since(start).Round(time.Millisecond))
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

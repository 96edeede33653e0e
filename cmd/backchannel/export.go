package main

// `backchannel export`: the chat-replay CSV of a meeting (every session)
// or of one session on stdout, straight from the database (SQLite under
// --data, or --database), read-only so it is safe beside a running
// server. Same columns and streaming as the HTTP download
// (export.Exporter.WriteCSV): --meeting writes what the meeting's
// chat-replay link serves.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/export"
	"github.com/backchannel-rtc/backchannel/recorder/links"
)

// isTerminal reports whether f is a character device (a terminal), without
// a dependency on golang.org/x/term.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a meeting's chat (every session) or one session's as CSV to stdout",
		UsageText: "backchannel export [--data DIR | --database DSN] (--meeting ID | --room NAME | --session ID) > chat.csv",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Value: "./data", Sources: env("data"), TakesFile: true, Usage: "folder holding the SQLite database"},
			&cli.StringFlag{Name: "database", Sources: env("database"), Usage: "postgres://… to read PostgreSQL instead of SQLite"},
			&cli.StringFlag{Name: "meeting", Sources: env("export-meeting"),
				Usage: "meeting id: every session of it (the CSV of the meeting's chat-replay link)"},
			&cli.StringFlag{Name: "room", Sources: env("export-room"),
				Usage: "the latest session of this room (named on stderr, with the meeting id that exports them all)"},
			&cli.StringFlag{Name: "session", Sources: env("export-session"), Usage: "session id"},
			&cli.BoolFlag{Name: "bom", Sources: env("export-bom"), Usage: "start with a UTF-8 byte order mark (for Excel)"},
			&cli.StringFlag{Name: "public-url", Sources: env("public-url"),
				Usage: "server base URL: file messages get signed download links (needs --api-secret)"},
			&cli.StringFlag{Name: "api-secret", Sources: env("api-secret"), Usage: "API secret signing those links"},
			&cli.DurationFlag{Name: "link-ttl", Value: 7 * 24 * time.Hour, Validator: positive[time.Duration], Sources: env("export-link-ttl"),
				Usage: "how long the file links work"},
		},
		Action: action(runExport),
	}
}

func runExport(ctx context.Context, cmd *cli.Command) error {
	meeting, room, session := cmd.String("meeting"), cmd.String("room"), cmd.String("session")
	n := 0
	for _, s := range []string{meeting, room, session} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return usagef("export: give exactly one of --meeting, --room and --session")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()

	rec, err := recorder.Open(recorder.Config{
		DSN: cmd.String("database"), DataDir: cmd.String("data"), ReadOnly: true,
		Logger: slog.New(slog.NewTextHandler(cmd.Root().ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer rec.Close()

	stderr := cmd.Root().ErrWriter
	scope, what, err := exportScope(ctx, rec, meeting, room, session, stderr)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	opts := export.Options{BOM: cmd.Bool("bom")}
	if url, secret := cmd.String("public-url"), cmd.String("api-secret"); url != "" && secret != "" {
		exp := time.Now().Add(cmd.Duration("link-ttl"))
		opts.AttachmentURL = func(a *recorder.AttachmentRow) string {
			return links.AttachmentURL(url, secret, a.ID, exp)
		}
	}
	tty := isTerminal(os.Stderr) && stderr == io.Writer(os.Stderr)
	start := time.Now()
	if tty {
		opts.Progress = func(rows int) {
			fmt.Fprintf(os.Stderr, "\rexporting %s: %d rows", what, rows)
		}
	}
	x, err := export.New(rec)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	rows, err := x.WriteCSV(ctx, cmd.Root().Writer, scope, opts)
	if tty {
		fmt.Fprintf(os.Stderr, "\rexported %s: %d rows in %v\n", what, rows, time.Since(start).Round(time.Millisecond))
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// exportScope finds what to export and says on stderr what it is: with
// --room, which of the room's sessions, and how to have them all.
func exportScope(ctx context.Context, rec *recorder.Recorder, meeting, room, session string, stderr io.Writer) (export.Scope, string, error) {
	db := rec.DB().WithContext(ctx)
	sessions := func(meetingID string) (int64, error) {
		var n int64
		err := db.Model(&recorder.Session{}).Where("meeting_id = ?", meetingID).Count(&n).Error
		return n, err
	}
	switch {
	case meeting != "":
		var ms []recorder.Meeting
		if err := db.Where("id = ?", meeting).Limit(1).Find(&ms).Error; err != nil {
			return export.Scope{}, "", err
		}
		if len(ms) == 0 {
			return export.Scope{}, "", fmt.Errorf("no meeting %q", meeting)
		}
		n, err := sessions(meeting)
		if err != nil {
			return export.Scope{}, "", err
		}
		fmt.Fprintf(stderr, "exporting meeting %s (room %q): all %d sessions\n", meeting, ms[0].Room, n)
		return export.Scope{MeetingID: meeting}, "meeting " + meeting, nil
	case room != "":
		s, err := rec.LatestSession(ctx, room)
		if err != nil {
			return export.Scope{}, "", err
		}
		n, err := sessions(s.MeetingID)
		if err != nil {
			return export.Scope{}, "", err
		}
		which := "its only session"
		if n > 1 {
			which = fmt.Sprintf("the latest of its %d sessions; --meeting %s exports them all", n, s.MeetingID)
		}
		fmt.Fprintf(stderr, "exporting session %s of room %q, started %s: %s\n",
			s.ID, room, s.StartedAt.UTC().Format(time.RFC3339), which)
		return export.Scope{SessionID: s.ID}, "session " + s.ID, nil
	default:
		s, err := rec.SessionByID(ctx, session)
		if err != nil {
			return export.Scope{}, "", err
		}
		return export.Scope{SessionID: s.ID}, "session " + s.ID, nil
	}
}

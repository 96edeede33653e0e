package main

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/backchannel-rtc/backchannel/internal/app"
)

// startApp builds the server. A cluster node whose PostgreSQL cannot be
// reached yet (the database starting with it, a network not up) waits
// for it, saying why, and serves nothing meanwhile: it cannot know which
// rooms it may host. A signal ends the wait. A single node fails at once,
// as before.
func startApp(log *slog.Logger, sigs <-chan os.Signal, cfg app.Config) (*app.App, error) {
	backoff := 500 * time.Millisecond
	for {
		a, err := app.New(cfg)
		if err == nil || cfg.Cluster.NodeURL == "" || !unreachable(err) {
			return a, err
		}
		log.Warn("cluster node waiting for PostgreSQL", "retry_in", backoff, "err", err)
		select {
		case s := <-sigs:
			log.Info("stopped while waiting for PostgreSQL", "signal", s.String())
			return nil, err
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// unreachable reports an error connecting to the database (as opposed to
// a configuration the operator must fix).
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ce) || errors.As(err, &oe) || errors.As(err, &ne)
}

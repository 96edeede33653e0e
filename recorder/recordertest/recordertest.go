// Package recordertest gives tests a throw-away PostgreSQL database, so
// every package can run its tests against the production database path.
//
// Rule: when PostgreSQL is unreachable a test is skipped with a plain
// message, except when the environment has CI=true: then it fails, because
// nothing may be skipped in CI.
package recordertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultServer is the PostgreSQL server tests use unless
// BACKCHANNEL_TEST_POSTGRES names another (any database on it: it is only
// used to create and drop test databases).
const DefaultServer = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Server returns the admin URL of the test PostgreSQL server.
func Server() string {
	if s := os.Getenv("BACKCHANNEL_TEST_POSTGRES"); s != "" {
		return s
	}
	return DefaultServer
}

// SkipOrFatal skips t with msg, or fails it when CI=true.
func SkipOrFatal(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: not skipping)")
	}
	t.Skip(msg)
}

// Postgres creates an empty database bc_test_<random> and returns its DSN;
// the database is dropped (connections terminated) when the test ends.
// Register it before anything that must be closed first (t.Cleanup runs
// last-registered first).
func Postgres(t testing.TB) (dsn string) {
	t.Helper()
	server := Server()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		SkipOrFatal(t, fmt.Sprintf("PostgreSQL is not reachable at %s: %v", redact(server), err))
		return ""
	}
	defer admin.Close(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "bc_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("recordertest: create database: %v", err)
	}
	t.Cleanup(func() { Drop(t, name) })
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("recordertest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Drop drops a test database, terminating its connections.
func Drop(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, Server())
	if err != nil {
		t.Errorf("recordertest: drop %s: %v", name, err)
		return
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Errorf("recordertest: drop %s: %v", name, err)
	}
}

// Terminate ends every backend connected to the database of dsn, as a
// crashing or restarting server would: for testing reconnects.
func Terminate(t testing.TB, dsn string) (killed int) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("recordertest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, Server())
	if err != nil {
		t.Fatalf("recordertest: terminate: %v", err)
	}
	defer admin.Close(context.Background())
	err = admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, u.Path[1:]).Scan(&killed)
	if err != nil {
		t.Fatalf("recordertest: terminate: %v", err)
	}
	return killed
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

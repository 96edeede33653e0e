package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
)

// TestClusterNodeWaitsForPostgres: a cluster node whose PostgreSQL is
// not reachable yet says why, serves nothing, and starts once it is.
func TestClusterNodeWaitsForPostgres(t *testing.T) {
	dsn := recordertest.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dbPort := freePort(t, "tcp") // nothing listens here yet
	pu := *u
	pu.Host = fmt.Sprintf("127.0.0.1:%d", dbPort)
	httpPort := freePort(t, "tcp")
	health := fmt.Sprintf("http://127.0.0.1:%d/healthz", httpPort)

	binary(t) // built before the clock starts
	type started struct{ s *server }
	done := make(chan started, 1)
	go func() {
		done <- started{startProcessWith(t, t.TempDir(), httpPort, freePort(t, "udp"), nil,
			"--database", pu.String(), "--node-url", fmt.Sprintf("http://127.0.0.1:%d", httpPort))}
	}()
	// For two seconds the database is away: nothing answers HTTP.
	until := time.Now().Add(2 * time.Second)
	for time.Now().Before(until) {
		if resp, err := http.Get(health); err == nil {
			resp.Body.Close()
			t.Fatal("the node serves before it can reach PostgreSQL")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The database appears at its address.
	ln, err := net.Listen("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", u.Host)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	var s *server
	select {
	case st := <-done:
		s = st.s
	case <-time.After(30 * time.Second):
		t.Fatal("the node did not start once PostgreSQL was reachable")
	}
	if log := s.log.String(); !strings.Contains(log, "cluster node waiting for PostgreSQL") {
		t.Fatalf("the wait was not explained:\n%s", log)
	}
}

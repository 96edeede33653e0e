// SPDX-FileCopyrightText: 2026 The Pion community <https://pion.ly>
// SPDX-License-Identifier: MIT

package dtls

// Backchannel's test of its patch (direct.go); run by `make test`.

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"
)

// pair is a handshaken DTLS client and server over loopback UDP.
func pair(t *testing.T) (client, server *Conn) {
	t.Helper()
	cfg := &Config{
		PSK:             func([]byte) ([]byte, error) { return []byte{1, 2, 3, 4}, nil },
		PSKIdentityHint: []byte("backchannel"),
		CipherSuites:    []CipherSuiteID{TLS_PSK_WITH_AES_128_GCM_SHA256},
	}
	ln, err := Listen("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil

			return
		}
		dc, _ := c.(*Conn)
		if dc != nil && dc.Handshake() != nil {
			dc = nil
		}
		accepted <- dc
	}()
	client, err = Dial("udp4", ln.Addr().(*net.UDPAddr), cfg) //nolint:forcetypeassert
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if err = client.Handshake(); err != nil {
		t.Fatal(err)
	}
	select {
	case server = <-accepted:
	case <-time.After(5 * time.Second):
	}
	if server == nil {
		t.Fatal("no server connection")
	}
	t.Cleanup(func() { _ = server.Close() })

	return client, server
}

// With a data handler, application data goes to it on the reader's
// goroutine and not to Read; its error comes out of Read; nil restores
// Read.
func TestDataHandler(t *testing.T) {
	client, server := pair(t)

	got := make(chan []byte, 8)
	fail := errors.New("handler refused")
	server.SetDataHandler(func(b []byte) error {
		if bytes.Equal(b, []byte("refuse")) {
			return fail
		}
		got <- b

		return nil
	})
	reads := make(chan any, 8)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, err := server.Read(buf)
			if err != nil {
				reads <- err
				if errors.Is(err, fail) {
					continue
				}

				return
			}
			reads <- append([]byte(nil), buf[:n]...)
		}
	}()

	write := func(s string) {
		t.Helper()
		if _, err := client.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	select {
	case b := <-got:
		if string(b) != "one" {
			t.Fatalf("handler got %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler got nothing")
	}

	write("refuse")
	select {
	case r := <-reads:
		if err, ok := r.(error); !ok || !errors.Is(err, fail) {
			t.Fatalf("Read gave %v, want the handler's error", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's error never came out of Read")
	}

	server.SetDataHandler(nil)
	write("two")
	select {
	case r := <-reads:
		if b, ok := r.([]byte); !ok || string(b) != "two" {
			t.Fatalf("Read gave %v, want \"two\"", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read got nothing once the handler was removed")
	}
	select {
	case b := <-got:
		t.Fatalf("the removed handler got %q", b)
	default:
	}
}

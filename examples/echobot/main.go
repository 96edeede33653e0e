package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/protocol"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:7880", "the server's URL")
	token := flag.String("token", os.Getenv("BACKCHANNEL_TOKEN"), "an access token for the room")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *token, client.Options{}); err != nil {
		log.Fatal(err)
	}
}

// run answers pings until ctx ends (nil) or the server ends the session.
func run(ctx context.Context, url, token string, opts client.Options) error {
	in, quit := make(chan []byte, 64), make(chan struct{})
	opts.OnChat = func(b []byte) {
		select {
		case in <- b:
		case <-quit:
		}
	}
	c, err := client.Join(ctx, url, token, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	defer close(quit)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return fmt.Errorf("session ended: %s", c.Reason())
		case b := <-in:
			var ev protocol.MessageEvent
			if json.Unmarshal(b, &ev) != nil || ev.Type != protocol.EventMessage || ev.Message == nil ||
				ev.Message.Text != "!ping" || ev.Message.Sender == c.Identity() {
				continue
			}
			var to []string
			if ev.Message.Private() {
				to = []string{ev.Message.Sender}
			}
			// The ping's id makes the clientId unique and a retry harmless.
			pong := protocol.ChatRequest("pong-"+ev.Message.ID, "pong", to...)
			pong.ReplyTo = &ev.Message.ID
			out, _ := json.Marshal(pong) // a Request always encodes
			if err := c.SendChat(out); err != nil {
				return err
			}
		}
	}
}

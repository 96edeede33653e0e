package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
)

func runToken(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	key := fs.String("api-key", envOr("BACKCHANNEL_API_KEY", ""), "API key (env BACKCHANNEL_API_KEY)")
	secret := fs.String("api-secret", envOr("BACKCHANNEL_API_SECRET", ""), "API secret (env BACKCHANNEL_API_SECRET)")
	room := fs.String("room", "", "room the token joins (required)")
	identity := fs.String("identity", "", "participant identity (required)")
	name := fs.String("name", "", "display name (defaults to the identity)")
	admin := fs.Bool("admin", false, "grant roomAdmin: moderation and the server API")
	ttl := fs.Duration("ttl", 6*time.Hour, "validity")
	noPublish := fs.Bool("no-publish", false, "forbid publishing media")
	noChat := fs.Bool("no-chat", false, "forbid sending chat")
	hidden := fs.Bool("hidden", false, "join without being listed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" || *secret == "" {
		return errors.New("token: --api-key and --api-secret are required")
	}
	if *room == "" || *identity == "" {
		return errors.New("token: --room and --identity are required")
	}
	g := auth.VideoGrant{Room: *room, RoomJoin: true, RoomAdmin: *admin, Hidden: *hidden}
	if *noPublish {
		g.CanPublish = auth.Bool(false)
	}
	if *noChat {
		g.CanPublishData = auth.Bool(false)
	}
	tok, err := auth.KeyProvider{APIKey: *key, APISecret: *secret}.Mint(auth.TokenOptions{
		Identity: *identity, Name: *name, Grant: g, TTL: *ttl,
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, tok)
	return err
}

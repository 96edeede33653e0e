package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/backchannel-rtc/backchannel/auth"
)

func tokenCommand() *cli.Command {
	return &cli.Command{
		Name:  "token",
		Usage: "print an access token: to join a room, or (--admin without --room) for the server API",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "api-key", Sources: env("api-key"), Usage: "API key: the token's issuer"},
			&cli.StringFlag{Name: "api-secret", Sources: env("api-secret"), Usage: "API secret the token is signed with"},
			&cli.StringFlag{Name: "room", Sources: env("token-room"),
				Usage: "room the token joins (without it: a room-less admin token, with --admin)"},
			&cli.StringFlag{Name: "identity", Sources: env("token-identity"), Usage: "participant identity (required)"},
			&cli.StringFlag{Name: "name", Sources: env("token-name"), Usage: "display name (defaults to the identity)"},
			&cli.BoolFlag{Name: "admin", Sources: env("token-admin"),
				Usage: "grant roomAdmin: moderation and the server API (of --room, or of every room without it)"},
			&cli.DurationFlag{Name: "ttl", Value: 6 * time.Hour, Validator: positive[time.Duration], Sources: env("token-ttl"),
				Usage: "validity"},
			&cli.BoolFlag{Name: "no-publish", Sources: env("token-no-publish"), Usage: "forbid publishing media"},
			&cli.BoolFlag{Name: "no-chat", Sources: env("token-no-chat"), Usage: "forbid sending chat"},
			&cli.BoolFlag{Name: "hidden", Sources: env("token-hidden"), Usage: "join without being listed"},
		},
		Action: action(runToken),
	}
}

func runToken(_ context.Context, cmd *cli.Command) error {
	key, secret := cmd.String("api-key"), cmd.String("api-secret")
	room, identity, admin := cmd.String("room"), cmd.String("identity"), cmd.Bool("admin")
	if key == "" || secret == "" {
		return usagef("token: --api-key and --api-secret are required")
	}
	if identity == "" {
		return usagef("token: --identity is required")
	}
	var g auth.VideoGrant
	switch {
	case room != "":
		g = auth.VideoGrant{Room: room, RoomJoin: true, RoomAdmin: admin, Hidden: cmd.Bool("hidden")}
		if cmd.Bool("no-publish") {
			g.CanPublish = auth.Bool(false)
		}
		if cmd.Bool("no-chat") {
			g.CanPublishData = auth.Bool(false)
		}
	case !admin:
		return usagef("token: give --room (a token to join it), or --admin (a room-less token for the server API)")
	case cmd.Bool("hidden") || cmd.Bool("no-publish") || cmd.Bool("no-chat"):
		return usagef("token: --hidden, --no-publish and --no-chat are about joining a room: they need --room")
	default:
		// Room-less admin: the server API of every room, and the webhook
		// deliveries API, which wants exactly this; it joins no room.
		g = auth.VideoGrant{RoomAdmin: true}
	}
	tok, err := auth.KeyProvider{APIKey: key, APISecret: secret}.Mint(auth.TokenOptions{
		Identity: identity, Name: cmd.String("name"), Grant: g, TTL: cmd.Duration("ttl"),
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(cmd.Root().Writer, tok)
	return err
}

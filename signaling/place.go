package signaling

import (
	"context"
	"time"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// placeTimeout bounds a join's placement: taking over the room of a dead
// node waits for its lease to run out (the lease TTL, 10 s by default).
const placeTimeout = 20 * time.Second

// place asks the cluster where the room lives. When it is here, ok is
// true and release is to be called once the participant is gone;
// otherwise the client has been answered (a redirect, or an error).
func (c *conn) place(pl Placer) (release func(), ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), placeTimeout)
	defer cancel()
	go func() {
		// A socket closed while placement waits ends the wait.
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	room := c.who.Grant.Room
	redirect, release, err := pl.Place(ctx, room)
	if err != nil {
		c.log.Warn("join not placed", "room", room, "error", err.Error())
		c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeUnavailable,
			Message: "the room cannot be placed now, retry: " + err.Error()})
		return nil, false
	}
	if redirect != "" {
		c.log.Info("join redirected", "room", room, "to", redirect)
		c.send(protocol.Signal{Type: protocol.SignalRedirect, URL: redirect,
			Reason: "the room is hosted by another node"})
		return nil, false
	}
	return release, true
}

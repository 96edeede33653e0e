package rtcsetup

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// ICE consent and liveness timers, for the server and the Go client alike.
//
// Every PeerConnection (two per participant) sends a consent check
// (a STUN binding request, RFC 7675) every ICEKeepalive and answers the
// peer's. Pion's default is every 2 s, and that traffic is nearly all of
// what an idle participant costs the server; RFC 7675 asks for about 5 s.
// Upstream Pion's agent still runs its loop every 2 s whatever interval is
// set, so today this asks for 5 s and gets 2 s; the setting takes effect
// as soon as an upgrade honours it (docs/pion-upstream.md, and the tripwire
// TestICEConsentEveryKeepaliveInterval).
//
// A peer silent for ICEDisconnectedTimeout is "disconnected" (nothing is
// done about it), and ICEFailedTimeout later "failed": the server then
// closes the participant. So a client that vanished without closing its
// connection is dropped after 15 s of silence, noticed at the agent's next
// 5 s tick (15–20 s); a closed tab or socket is noticed at once through
// signaling. Both sides ping, so a live peer is never silent for more than
// one interval.
const (
	ICEKeepalive           = 5 * time.Second
	ICEDisconnectedTimeout = 10 * time.Second
	ICEFailedTimeout       = 5 * time.Second
)

// SetICETimers applies the timers above to se.
func SetICETimers(se *webrtc.SettingEngine) {
	se.SetICETimeouts(ICEDisconnectedTimeout, ICEFailedTimeout, ICEKeepalive)
}

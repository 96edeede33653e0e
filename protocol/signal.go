package protocol

// Version is the version of the signaling protocol; the endpoint path
// carries it too (RTCPath).
const Version = 1

// RTCPath is the signaling WebSocket's path.
const RTCPath = "/v1/rtc"

// MaxSignalBytes bounds one signaling message (an SDP with many candidates
// fits easily).
const MaxSignalBytes = 256 << 10

// Signaling message types.
const (
	SignalJoin              = "join"
	SignalJoined            = "joined"
	SignalOffer             = "offer"
	SignalAnswer            = "answer"
	SignalCandidate         = "candidate"
	SignalParticipantJoined = "participantJoined"
	SignalParticipantLeft   = "participantLeft"
	SignalTrackPublished    = "trackPublished"
	SignalTrackUnpublished  = "trackUnpublished"
	SignalMuteTrack         = "muteTrack"      // client → server: my track is (un)muted
	SignalTrackMuted        = "trackMuted"     // server → others: a track was (un)muted
	SignalActiveSpeakers    = "activeSpeakers" // server → everyone: who is speaking now
	SignalLeave             = "leave"
	SignalPing              = "ping"
	SignalPong              = "pong"
	SignalError             = "error"
	// SignalRedirect (server → client, instead of joined): the room is
	// hosted by another node of the cluster; connect to URL with the same
	// token. A client follows at most MaxRedirects in a row.
	SignalRedirect = "redirect"
)

// MaxRedirects is how many redirects in a row a client follows before it
// gives up: placement settles in one, so more means a loop.
const MaxRedirects = 3

// Signal is every signaling message, in both directions; Type says which
// fields are set. One flat struct keeps decoding strict and simple.
type Signal struct {
	Type string `json:"type"`

	// joined
	Protocol     int               `json:"protocol,omitempty"`
	Room         string            `json:"room,omitempty"`
	Participant  *ParticipantInfo  `json:"participant,omitempty"`
	Participants []ParticipantInfo `json:"participants,omitempty"`
	ICEServers   []ICEServer       `json:"iceServers,omitempty"`
	// Node is the cluster node hosting the room (its --node-url); empty
	// on a single node.
	Node string `json:"node,omitempty"`

	// offer, answer, candidate
	Target    Target        `json:"target,omitempty"`
	SDP       string        `json:"sdp,omitempty"`
	Candidate *ICECandidate `json:"candidate,omitempty"`

	// join: the device's e2ee public key (docs/e2ee.md), optional
	E2EEKey string `json:"e2eeKey,omitempty"`

	// events
	Identity string     `json:"identity,omitempty"`
	Track    *TrackInfo `json:"track,omitempty"`

	// muteTrack, trackMuted. Muted is a pointer so that false is sent
	// and a muteTrack without it is refused.
	TrackID string `json:"trackId,omitempty"`
	Muted   *bool  `json:"muted,omitempty"`

	// activeSpeakers: loudest first; an empty (non-nil) list says nobody
	// is speaking any more and is sent as [].
	Speakers []SpeakerInfo `json:"speakers,omitzero"`

	// leave, error
	Reason  string `json:"reason,omitempty"`
	Code    Code   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`

	// redirect: the base URL of the node hosting the room (ws://,
	// wss://, http:// or https://; the client appends /v1/rtc).
	URL string `json:"url,omitempty"`

	// ping, pong: the sender's clock in milliseconds, echoed back.
	Timestamp int64 `json:"timestamp,omitempty"`
}

// Target names one of a participant's two PeerConnections.
type Target string

const (
	Publisher  Target = "publisher"  // the client offers: its media and the chat channel
	Subscriber Target = "subscriber" // the server offers: everyone else's media
)

// ParticipantInfo describes a participant to the others.
type ParticipantInfo struct {
	Identity string      `json:"identity"`
	Name     string      `json:"name"`
	Host     bool        `json:"host,omitempty"` // the token grants roomAdmin
	Tracks   []TrackInfo `json:"tracks"`
}

// SpeakerInfo is one active speaker: Level is the smoothed audio level,
// 0 (silence) to 1 (loudest), on a linear scale.
type SpeakerInfo struct {
	Identity string  `json:"identity"`
	Level    float64 `json:"level"`
}

// TrackInfo describes a published track. Subscribers see it with StreamID
// set to the publisher's identity and ID as the track id.
type TrackInfo struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"` // audio | video
	Publisher string `json:"publisher"`
	StreamID  string `json:"streamId"`
	MimeType  string `json:"mimeType"`
	Muted     bool   `json:"muted,omitempty"` // the publisher said it is muted (muteTrack)
}

// ICEServer is a STUN or TURN server handed to clients in `joined`: the
// W3C RTCIceServer dictionary, as Pion and browsers read it. The fields are
// in the order Pion's own encoding writes them, and CredentialType is
// "password" as Pion writes it (browsers ignore it).
type ICEServer struct {
	Credential     string   `json:"credential,omitempty"`
	CredentialType string   `json:"credentialType,omitempty"`
	URLs           []string `json:"urls"`
	Username       string   `json:"username,omitempty"`
}

// CredentialPassword is the only CredentialType in use.
const CredentialPassword = "password"

// ICECandidate is a trickled ICE candidate: the W3C RTCIceCandidateInit
// dictionary.
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex"`
	UsernameFragment *string `json:"usernameFragment"`
}

// Leave reasons the server gives in a `leave` message.
const (
	ReasonShutdown = "server shutting down"
	ReasonReplaced = "replaced by a newer connection"
	ReasonFailed   = "connection failed"
	// ReasonMoved: the room moved to another node of the cluster (its
	// node is draining, or lost the room's lease). Reconnect, through any
	// node: the session, history and unacked messages carry over.
	ReasonMoved = "room moved to another node, reconnect"
)

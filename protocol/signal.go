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
)

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
)

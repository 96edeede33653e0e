package rtcsetup

import (
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// NewAPI builds a Pion API on se, adding what server and client share:
// detached data channels (read and written as plain streams), no mDNS
// candidates, the ICE timers, the default codecs, the audio level header
// extension and the interceptors of RegisterInterceptors.
func NewAPI(se *webrtc.SettingEngine) (*webrtc.API, error) {
	se.DetachDataChannels()
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	SetICETimers(se)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	// Browsers offer the audio level of every Opus packet
	// (RFC 6464); negotiating it lets the SFU find the active speakers
	// without decoding audio.
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := RegisterInterceptors(m, ir); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(*se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir)), nil
}

// LoopbackOnly gathers candidates on the loopback interface only: tests
// and benchmarks that must not touch any other network.
func LoopbackOnly(se *webrtc.SettingEngine) {
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return strings.HasPrefix(name, "lo") })
}

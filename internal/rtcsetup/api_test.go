package rtcsetup

import (
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// An API from NewAPI offers the audio level header extension on audio (so
// the SFU can name active speakers) and not on video.
func TestNewAPIOffersAudioLevel(t *testing.T) {
	api, err := NewAPI(&webrtc.SettingEngine{})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer.SDP); err != nil {
		t.Fatal(err)
	}
	for _, m := range d.MediaDescriptions {
		has := false
		for _, a := range m.Attributes {
			if a.Key == "extmap" && strings.HasSuffix(a.Value, " "+sdp.AudioLevelURI) {
				has = true
			}
		}
		if want := m.MediaName.Media == "audio"; has != want {
			t.Errorf("%s m-line: audio level extension offered %v, want %v", m.MediaName.Media, has, want)
		}
	}
}

package e2ee

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hpke"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// rfcVector is testdata/rfc9180-a3.1.json: RFC 9180 Appendix A.3.1, the
// base-mode vector of exactly this package's suite, transcribed from the
// RFC's text. The web package's browser test reads the same file.
type rfcVector struct {
	Mode               int    `json:"mode"`
	KEMID              uint16 `json:"kem_id"`
	KDFID              uint16 `json:"kdf_id"`
	AEADID             uint16 `json:"aead_id"`
	Info               string `json:"info"`
	IkmE               string `json:"ikmE"`
	PkEm               string `json:"pkEm"`
	SkEm               string `json:"skEm"`
	IkmR               string `json:"ikmR"`
	PkRm               string `json:"pkRm"`
	SkRm               string `json:"skRm"`
	Enc                string `json:"enc"`
	SharedSecret       string `json:"shared_secret"`
	KeyScheduleContext string `json:"key_schedule_context"`
	Secret             string `json:"secret"`
	Key                string `json:"key"`
	BaseNonce          string `json:"base_nonce"`
	ExporterSecret     string `json:"exporter_secret"`
	Encryptions        []struct {
		Seq   uint64 `json:"seq"`
		Pt    string `json:"pt"`
		Aad   string `json:"aad"`
		Nonce string `json:"nonce"`
		Ct    string `json:"ct"`
	} `json:"encryptions"`
	Exports []struct {
		Context string `json:"exporter_context"`
		L       int    `json:"L"`
		Value   string `json:"exported_value"`
	} `json:"exports"`
}

func loadRFCVector(t *testing.T) rfcVector {
	t.Helper()
	data, err := os.ReadFile("testdata/rfc9180-a3.1.json")
	if err != nil {
		t.Fatal(err)
	}
	var v rfcVector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestRFC9180Vector checks crypto/hpke, as this package configures it,
// against the RFC's vector for the suite.
//
// crypto/hpke takes no caller-chosen ephemeral key, so the sender side
// cannot be replayed from skEm. What is verified instead:
//   - DeriveKeyPair(ikmE) gives skEm and pkEm, and pkEm is the vector's enc;
//     DeriveKeyPair(ikmR) gives skRm and pkRm;
//   - a recipient context from (enc, skRm, info) opens every one of the
//     vector's ciphertexts (sequence numbers 0, 1, 2, 4, 255 and 256) to its
//     plaintext; the sequence numbers in between are stepped over with
//     ciphertexts made here from the vector's key and base_nonce, which the
//     context opens only if it derived that same key and base_nonce;
//   - every exported value matches (the exporter_secret of the schedule);
//   - the suite ids are the ones this package uses.
//
// The browser's own RFC 9180 implementation (web/static/e2ee.js) replays the
// sender side in full from skEm; see web/e2ee_browser_test.go.
func TestRFC9180Vector(t *testing.T) {
	v := loadRFCVector(t)
	if v.Mode != 0 || v.KEMID != KEMID || v.KDFID != KDFID || v.AEADID != AEADID {
		t.Fatalf("vector is mode %d suite %#x/%#x/%#x, want base mode %#x/%#x/%#x",
			v.Mode, v.KEMID, v.KDFID, v.AEADID, KEMID, KDFID, AEADID)
	}
	if kem.ID() != v.KEMID || hpke.HKDFSHA256().ID() != v.KDFID || hpke.AES128GCM().ID() != v.AEADID {
		t.Fatal("package suite ids differ from the vector's")
	}

	for _, kp := range []struct{ name, ikm, sk, pk string }{
		{"ephemeral", v.IkmE, v.SkEm, v.PkEm},
		{"recipient", v.IkmR, v.SkRm, v.PkRm},
	} {
		k, err := DeriveKey(unhex(t, kp.ikm))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(k.Bytes()); got != kp.sk {
			t.Errorf("%s DeriveKeyPair: sk %s, want %s", kp.name, got, kp.sk)
		}
		if got := hex.EncodeToString(k.Public().Bytes()); got != kp.pk {
			t.Errorf("%s DeriveKeyPair: pk %s, want %s", kp.name, got, kp.pk)
		}
	}
	if v.Enc != v.PkEm {
		t.Errorf("enc %s is not pkEm %s", v.Enc, v.PkEm)
	}

	skR, err := NewPrivateKey(unhex(t, v.SkRm))
	if err != nil {
		t.Fatal(err)
	}
	r, err := hpke.NewRecipient(unhex(t, v.Enc), skR.hpke, hpke.HKDFSHA256(), hpke.AES128GCM(), unhex(t, v.Info))
	if err != nil {
		t.Fatal(err)
	}

	// The stepping ciphertexts, made with the vector's key and base_nonce.
	block, err := aes.NewCipher(unhex(t, v.Key))
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	baseNonce := unhex(t, v.BaseNonce)
	nonceFor := func(seq uint64) []byte {
		n := bytes.Clone(baseNonce)
		var s [12]byte
		binary.BigEndian.PutUint64(s[4:], seq)
		for i := range n {
			n[i] ^= s[i]
		}
		return n
	}
	bySeq := map[uint64]int{}
	for i, e := range v.Encryptions {
		bySeq[e.Seq] = i
		if got := hex.EncodeToString(nonceFor(e.Seq)); got != e.Nonce {
			t.Errorf("seq %d: nonce %s from base_nonce, vector says %s", e.Seq, got, e.Nonce)
		}
	}
	last := v.Encryptions[len(v.Encryptions)-1].Seq
	checked := 0
	for seq := uint64(0); seq <= last; seq++ {
		if i, ok := bySeq[seq]; ok {
			e := v.Encryptions[i]
			pt, err := r.Open(unhex(t, e.Aad), unhex(t, e.Ct))
			if err != nil {
				t.Fatalf("seq %d: Open: %v", seq, err)
			}
			if !bytes.Equal(pt, unhex(t, e.Pt)) {
				t.Fatalf("seq %d: plaintext %x, want %s", seq, pt, e.Pt)
			}
			checked++
			continue
		}
		aad := []byte("step")
		msg := []byte{byte(seq), byte(seq >> 8)}
		pt, err := r.Open(aad, gcm.Seal(nil, nonceFor(seq), msg, aad))
		if err != nil || !bytes.Equal(pt, msg) {
			t.Fatalf("seq %d: a ciphertext under the vector's key and nonce does not open: %v", seq, err)
		}
	}
	if checked != len(v.Encryptions) || checked != 6 {
		t.Errorf("checked %d of the vector's %d encryptions", checked, len(v.Encryptions))
	}

	for _, x := range v.Exports {
		got, err := r.Export(string(unhex(t, x.Context)), x.L)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != x.Value {
			t.Errorf("export %q: %x, want %s", x.Context, got, x.Value)
		}
	}
}

package web_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
	"github.com/backchannel-rtc/backchannel/web"
)

// e2eeTab opens web/static, served by web.Handler (with its
// Content-Security-Policy) on loopback, and imports e2ee.js as window.E.
// The page is e2ee.js itself: a document of the server's origin that runs
// no script of its own.
func e2eeTab(t *testing.T) (*tab, func()) {
	t.Helper()
	srv := httptest.NewServer(web.Handler()) // 127.0.0.1
	t.Cleanup(srv.Close)
	b := newBrowser(t)
	tb := b.newTab(t, "e2ee", 800, 600)
	load := func() {
		tb.do(chromedp.Navigate(srv.URL + "/e2ee.js"))
		tb.run(`(async () => { window.E = await import('/e2ee.js'); })()`)
	}
	load()
	return tb, load
}

// rfcVectorJS checks e2ee.js against RFC 9180 A.3.1 in full, the sender
// side included (it can take the vector's ephemeral key): enc, the shared
// secret, every output of the key schedule, each nonce and ciphertext of
// sequence 0 to 256 (the vector's six, and the ones between to advance the
// sequence), the recipient opening each, and the three exported values.
// It returns what differs, and counts.
const rfcVectorJS = `(async (v) => {
  const u = E.unhex, h = E.hex, bad = [];
  const eq = (what, got, want) => { if (got !== want) bad.push(what + ': ' + got + ' != ' + want); };
  const eph = await E.importKeyPair(u(v.skEm), u(v.pkEm));
  const rec = await E.importKeyPair(u(v.skRm), u(v.pkRm));
  const s = await E.setupSender(u(v.pkRm), u(v.info), eph);
  eq('enc', h(s.enc), v.enc);
  eq('shared_secret', h(s.sharedSecret), v.shared_secret);
  eq('decap shared_secret', h(await E.decap(u(v.enc), rec)), v.shared_secret);
  const ks = await E.keySchedule(s.sharedSecret, u(v.info));
  eq('key_schedule_context', h(ks.keyScheduleContext), v.key_schedule_context);
  eq('secret', h(ks.secret), v.secret);
  eq('key', h(ks.key), v.key);
  eq('base_nonce', h(ks.baseNonce), v.base_nonce);
  eq('exporter_secret', h(ks.exporterSecret), v.exporter_secret);
  const r = await E.setupRecipient(u(v.enc), rec, u(v.info));
  const bySeq = new Map(v.encryptions.map((e) => [e.seq, e]));
  let encryptions = 0, exports = 0;
  for (let seq = 0; seq <= 256; seq++) {
    const e = bySeq.get(seq);
    r.seq = seq; // a refused open does not advance it; keep reporting after one
    if (!e) { await r.open(new Uint8Array(0), await s.ctx.seal(new Uint8Array(0), new Uint8Array([seq & 255]))); continue; }
    eq('nonce ' + seq, h(s.ctx.nonce()), e.nonce);
    const ct = await s.ctx.seal(u(e.aad), u(e.pt));
    eq('ct ' + seq, h(ct), e.ct);
    eq('pt ' + seq, await r.open(u(e.aad), u(e.ct)).then(h, (err) => 'refused (' + err.name + ')'), e.pt);
    encryptions++;
  }
  for (const x of v.exports) {
    eq('export ' + x.exporter_context, h(await r.export(u(x.exporter_context), x.L)), x.exported_value);
    eq('sender export ' + x.exporter_context, h(await s.ctx.export(u(x.exporter_context), x.L)), x.exported_value);
    exports++;
  }
  return {bad, encryptions, exports};
})`

// TestE2EEBrowser runs the browser half of issue 21's interop: the RFC 9180
// vector in Chromium, the documented fixed envelope reproduced byte for
// byte, a device key that is non-extractable and survives a reload, an
// envelope sealed in Go opening in the browser and one sealed in the
// browser opening in Go, refusals, and fingerprints both sides agree on.
func TestE2EEBrowser(t *testing.T) {
	tb, reload := e2eeTab(t)

	// RFC 9180 A.3.1.
	vector, err := os.ReadFile("../protocol/e2ee/testdata/rfc9180-a3.1.json")
	if err != nil {
		t.Fatal(err)
	}
	type vectorResult struct {
		Bad         []string
		Encryptions int
		Exports     int
	}
	vr := eval[vectorResult](tb, rfcVectorJS+"("+string(vector)+")")
	if len(vr.Bad) > 0 || vr.Encryptions != 6 || vr.Exports != 3 {
		t.Fatalf("RFC 9180 A.3.1 in the browser: %d encryptions and %d exports checked, differences: %q", vr.Encryptions, vr.Exports, vr.Bad)
	}

	// The fixed envelope of docs/e2ee.md, reproduced from its inputs.
	fixedRaw, err := os.ReadFile("../protocol/e2ee/testdata/fixed-envelope.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixed struct {
		Envelope e2ee.Envelope `json:"envelope"`
	}
	if err := json.Unmarshal(fixedRaw, &fixed); err != nil {
		t.Fatal(err)
	}
	got := eval[e2ee.Envelope](tb, `(async (v) => {
  const u = E.unhex, keys = {}, ephemeral = {}, opened = {};
  for (const [id, p] of Object.entries(v.identities)) keys[id] = p.publicKey;
  for (const [id, p] of Object.entries(v.ephemeral)) ephemeral[id] = await E.importKeyPair(u(p.sk), u(p.pk));
  const env = await E.seal(v.plaintext, v.context, keys, {contentKey: u(v.contentKey), nonce: u(v.nonce), ephemeral});
  if (E.hex(E.contextAAD(v.context)) !== v.aad) throw new Error('AAD differs');
  for (const [id, p] of Object.entries(v.identities)) {
    const kp = await E.importKeyPair(u(p.sk), E.b64decode(p.publicKey));
    if (await E.openText(v.envelope, v.context, id, kp) !== v.plaintext) throw new Error(id + ' cannot open the fixed envelope');
    if (await E.fingerprint(E.b64decode(p.publicKey)) !== p.fingerprint) throw new Error(id + ' fingerprint differs');
  }
  return env;
})(`+string(fixedRaw)+`)`)
	if !reflect.DeepEqual(got, fixed.Envelope) {
		t.Fatalf("the browser sealed the fixed inputs to\n%+v\nnot the documented\n%+v", got, fixed.Envelope)
	}

	// A device key: non-extractable, in IndexedDB, the same after a reload.
	type deviceKey struct {
		PublicKey   string
		Extractable bool
		Type        string
		Exported    bool
	}
	deviceJS := `(async () => {
  const k = await E.loadOrCreateDeviceKey('bob');
  window.bobKey = k;
  const exported = await crypto.subtle.exportKey('pkcs8', k.privateKey).then(() => true, () => false);
  return {publicKey: k.publicKey, extractable: k.privateKey.extractable, type: k.privateKey.type, exported};
})()`
	dk := eval[deviceKey](tb, deviceJS)
	if dk.Extractable || dk.Exported || dk.Type != "private" {
		t.Fatalf("device key %+v: the private key must be non-extractable", dk)
	}
	bobPub, err := e2ee.ParsePublicKey(dk.PublicKey)
	if err != nil {
		t.Fatalf("the browser's public key %q: %v", dk.PublicKey, err)
	}
	reload()
	if again := eval[deviceKey](tb, deviceJS); again.PublicKey != dk.PublicKey {
		t.Fatalf("after a reload the device key changed: %s, was %s", again.PublicKey, dk.PublicKey)
	}

	// Go seals, the browser opens.
	alice, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := map[string]*e2ee.PublicKey{"alice": alice.Public(), "bob": bobPub}
	goCtx := e2ee.Context{Room: "standup", Sender: "alice", To: []string{"bob"}}
	const goText = `{"text":"sealed in Go, read in Chromium: ключ 🔑"}`
	env, err := e2ee.Seal([]byte(goText), goCtx, dir)
	if err != nil {
		t.Fatal(err)
	}
	ctxJS := `{room: 'standup', sender: 'alice', to: ['bob']}`
	openJS := func(env any) string {
		raw, _ := json.Marshal(env)
		return eval[string](tb, fmt.Sprintf(`E.openText(%s, %s, 'bob', bobKey).catch((e) => 'ERROR ' + e.code + ': ' + e.message)`, raw, ctxJS))
	}
	if pt := openJS(env); pt != goText {
		t.Fatalf("the browser opened the Go envelope as %q", pt)
	}

	// Refusals in the browser: never text.
	flip := func(s string) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		b[len(b)/2] ^= 1
		return base64.StdEncoding.EncodeToString(b)
	}
	for name, c := range map[string]struct {
		mutate func(*e2ee.Envelope)
		code   string
	}{
		"tampered ciphertext": {func(e *e2ee.Envelope) { e.Ciphertext = flip(e.Ciphertext) }, "decrypt"},
		"tampered sealed key": {func(e *e2ee.Envelope) { e.Keys[1].Key = flip(e.Keys[1].Key) }, "decrypt"},
		"missing sealed key":  {func(e *e2ee.Envelope) { e.Keys = e.Keys[1:] }, "recipients"},
		"extra sealed key": {func(e *e2ee.Envelope) {
			e.Keys = append(e.Keys, e2ee.SealedKey{Identity: "eve", Enc: e.Keys[0].Enc, Key: e.Keys[0].Key})
		}, "recipients"},
		"wrong suite":  {func(e *e2ee.Envelope) { e.Suite = "bc-e2ee-v9" }, "suite"},
		"bad base64":   {func(e *e2ee.Envelope) { e.Nonce = "@" + e.Nonce[1:] }, "encoding"},
		"wrong length": {func(e *e2ee.Envelope) { e.Keys[1].Enc = base64.StdEncoding.EncodeToString(make([]byte, 64)) }, "length"},
	} {
		bad := *env
		bad.Keys = append([]e2ee.SealedKey(nil), env.Keys...)
		c.mutate(&bad)
		if got := openJS(&bad); !strings.HasPrefix(got, "ERROR "+c.code+":") {
			t.Errorf("%s: the browser answered %q, want error %s", name, got, c.code)
		}
	}
	// A key bob's browser does not hold (another device's): can't decrypt.
	other, _ := e2ee.GenerateKey()
	dir["bob"] = other.Public()
	env2, _ := e2ee.Seal([]byte(goText), goCtx, dir)
	if got := openJS(env2); !strings.HasPrefix(got, "ERROR decrypt:") {
		t.Errorf("sealed to another key of bob: %q", got)
	}

	// The browser seals, Go opens.
	const jsText = `{"text":"sealed in Chromium, read in Go: clé 🗝"}`
	raw := eval[json.RawMessage](tb, fmt.Sprintf(`E.seal(%q, {room: 'standup', sender: 'bob', to: ['alice']}, {alice: %q, bob: bobKey.publicKey})`, jsText, alice.Public().String()))
	benv, err := e2ee.ParseEnvelope(raw)
	if err != nil {
		t.Fatalf("the browser's envelope %s: %v", raw, err)
	}
	if err := e2ee.Validate(benv, []string{"alice"}, "bob", e2ee.DefaultLimits()); err != nil {
		t.Fatalf("the server would refuse the browser's envelope: %v", err)
	}
	pt, err := e2ee.Open(benv, e2ee.Context{Room: "standup", Sender: "bob", To: []string{"alice"}}, "alice", alice)
	if err != nil || string(pt) != jsText {
		t.Fatalf("Go opened the browser's envelope as %q, %v", pt, err)
	}
	if _, err := e2ee.Open(benv, e2ee.Context{Room: "other", Sender: "bob", To: []string{"alice"}}, "alice", alice); !errors.Is(err, e2ee.ErrDecrypt) {
		t.Fatalf("the browser's envelope in another room: %v", err)
	}

	// Fingerprints and safety numbers: the same digits on both sides.
	type numbers struct{ Alice, Bob, Safety, SafetyReversed string }
	n := eval[numbers](tb, fmt.Sprintf(`(async () => {
  const a = E.b64decode(%q), b = E.b64decode(bobKey.publicKey);
  return {alice: await E.fingerprint(a), bob: await E.fingerprint(b),
    safety: await E.safetyNumber('alice', a, 'bob', b), safetyReversed: await E.safetyNumber('bob', b, 'alice', a)};
})()`, alice.Public().String()))
	want := numbers{alice.Public().Fingerprint(), bobPub.Fingerprint(), e2ee.SafetyNumber("alice", alice.Public(), "bob", bobPub), ""}
	want.SafetyReversed = want.Safety
	if n != want {
		t.Fatalf("browser numbers %+v, Go %+v", n, want)
	}
}

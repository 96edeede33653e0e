package attachments

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/internal/rectest"
)

type backend = rectest.Backend

var (
	sqliteBackend = rectest.SQLite
	testKeys      = rectest.Keys
	token         = rectest.Token
	answer        = rectest.Envelope
	msg           = rectest.Msg
	writeAll      = rectest.WriteAll
)

// apiEnv serves the attachment endpoints of a recorder on b.
type apiEnv struct {
	*rectest.Env
	r     *recorder.Recorder
	clock *rectest.Clock
	svc   *Service
}

func newAPIEnv(t *testing.T, b backend, cfg Config) *apiEnv {
	var svc *Service
	e := rectest.NewEnv(t, b, func(mux *http.ServeMux, r *recorder.Recorder, now func() time.Time) {
		cfg.Now = now
		svc = Register(mux, r, rectest.Keys, cfg)
	})
	t.Cleanup(func() { svc.Close() })
	return &apiEnv{Env: e, r: e.R, clock: e.Clock, svc: svc}
}

func (e *apiEnv) do(t testing.TB, method, path, tok string, body io.Reader, hdr ...string) *http.Response {
	t.Helper()
	return e.Do(t, method, path, tok, body, hdr...)
}

var suite = []rectest.Case{{Name: "Attachments", Fn: testAttachments}, {Name: "UploadRate", Fn: testUploadRate}, {Name: "RoomQuota", Fn: testRoomQuota},
	{Name: "SweepUnreferenced", Fn: testSweepUnreferenced}, {Name: "SweepRacingUpload", Fn: testSweepRacingUpload},
	{Name: "SweepWaitsForUpload", Fn: testSweepWaitsForUpload},
	{Name: "SweepWaitsForOtherNodesUpload", Fn: testSweepWaitsForOtherNodesUpload},
	{Name: "SweeperRunsAndStops", Fn: testSweeperRunsAndStops}}

func TestSQLite_Suite(t *testing.T)       { rectest.Run(t, rectest.SQLite, suite) }
func TestSQLitePureGo_Suite(t *testing.T) { rectest.Run(t, rectest.SQLitePureGo, suite) }
func TestPostgres_Suite(t *testing.T)     { rectest.Run(t, rectest.Postgres, suite) }

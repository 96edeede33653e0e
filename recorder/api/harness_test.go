package api

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
	sqliteBackend   = rectest.SQLite
	postgresBackend = rectest.Postgres
	token           = rectest.Token
	answer          = rectest.Envelope
	msg             = rectest.Msg
	writeAll        = rectest.WriteAll
)

// apiEnv serves the API of a recorder on b.
type apiEnv struct{ *rectest.Env }

func newAPIEnv(t *testing.T, b backend, cfg Config) *apiEnv {
	e := rectest.NewEnv(t, b, func(mux *http.ServeMux, r *recorder.Recorder, now func() time.Time) {
		cfg.Now = now
		if _, err := Register(mux, r, rectest.Keys, cfg); err != nil {
			t.Fatal(err)
		}
	})
	return &apiEnv{e}
}

func (e *apiEnv) do(t testing.TB, method, path, tok string, body io.Reader, hdr ...string) *http.Response {
	t.Helper()
	return e.Do(t, method, path, tok, body, hdr...)
}

var suite = []rectest.Case{
	{Name: "CSV", Fn: testCSV},
	{Name: "AdminAPI", Fn: testAdminAPI},
}

func TestSQLite_Suite(t *testing.T)       { rectest.Run(t, rectest.SQLite, suite) }
func TestSQLitePureGo_Suite(t *testing.T) { rectest.Run(t, rectest.SQLitePureGo, suite) }
func TestPostgres_Suite(t *testing.T)     { rectest.Run(t, rectest.Postgres, suite) }

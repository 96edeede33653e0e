package export

// The suites' harness (recorder/internal/rectest), under the names the
// tests use.

import (
	"testing"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/internal/rectest"
)

// testRec is a recorder with its Exporter: r.Write and r.History are the
// recorder's, r.WriteCSV, r.db and r.slots the export's.
type testRec struct {
	*recorder.Recorder
	*Exporter
}

type backend = rectest.Backend

var (
	sqliteBackend       = rectest.SQLite
	sqlitePureGoBackend = rectest.SQLitePureGo
	postgresBackend     = rectest.Postgres
	quiet               = rectest.Quiet
	t0                  = rectest.T0
	at                  = rectest.At
	join                = rectest.Join
	leave               = rectest.Leave
	end                 = rectest.End
	msg                 = rectest.Msg
	ctxT                = rectest.Ctx
)

func openRec(cfg recorder.Config) (*testRec, error) {
	r, err := recorder.Open(cfg)
	if err != nil {
		return nil, err
	}
	x, err := New(r)
	if err != nil {
		r.Close()
		return nil, err
	}
	return &testRec{r, x}, nil
}

func openT(t testing.TB, cfg recorder.Config) *testRec {
	t.Helper()
	r, err := openRec(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func writeAll(t testing.TB, r *testRec, changes ...chat.Change) {
	t.Helper()
	rectest.WriteAll(t, r.Recorder, changes...)
}

var suite = []rectest.Case{
	{Name: "CSVMatchesReference", Fn: testCSVMatchesReference},
	{Name: "CSVAbort", Fn: testCSVAbort},
	{Name: "CSVSlowClients", Fn: testCSVSlowClients},
}

func TestSQLite_Suite(t *testing.T)       { rectest.Run(t, sqliteBackend, suite) }
func TestSQLitePureGo_Suite(t *testing.T) { rectest.Run(t, sqlitePureGoBackend, suite) }
func TestPostgres_Suite(t *testing.T)     { rectest.Run(t, postgresBackend, suite) }

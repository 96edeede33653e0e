package recorder

// The test harness: every suite test is written once as a function of a
// backend and runs under TestSQLite_Suite and TestPostgres_Suite.

import (
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
)

// quiet drops the recorder's logs in tests (retries are expected there).
var quiet = slog.New(slog.DiscardHandler)

type backend struct {
	name string
	// config returns a fresh, empty database's config.
	config func(t testing.TB) Config
	// prepare readies r for disrupt before any traffic (GORM callbacks
	// must not be registered while statements run).
	prepare func(r *Recorder)
	// disrupt breaks the database connections of r once, as a crashing
	// or restarting database would.
	disrupt func(t testing.TB, r *Recorder, cfg Config)
}

var sqliteBackend = backend{
	name:    "sqlite",
	config:  func(t testing.TB) Config { return Config{DataDir: t.TempDir(), Logger: quiet} },
	prepare: func(r *Recorder) { injectFaults(r, 0) },
	disrupt: func(t testing.TB, r *Recorder, cfg Config) {
		// SQLite has no server to kill: fail the next few statements with
		// a lost-connection error, in the middle of transactions.
		injectFaults(r, 3)
	},
}

// sqlitePureGoBackend is sqliteBackend on the pure-Go engine, which a
// build without cgo uses (sqlite.go); in such a build the two are the same.
// Its suite runs without the search index (noFTS): under the race detector
// the transpiled engine already runs the suite ten times slower than the C
// one, and the trigram index's triggers make every write two to three
// times dearer again, past the writer tests' bounds on a loaded machine.
// TestSearchWithoutFTS5 writes, edits and deletes through the pure-Go
// engine's triggers; TestSearchUsesIndex runs on the C engine's.
var sqlitePureGoBackend = backend{
	name: "sqlite-purego",
	config: func(t testing.TB) Config {
		return Config{DataDir: t.TempDir(), Logger: quiet, sqlite: pureGoSQLite, noFTS: true}
	},
	prepare: sqliteBackend.prepare,
	disrupt: sqliteBackend.disrupt,
}

var postgresBackend = backend{
	name: "postgres",
	config: func(t testing.TB) Config {
		return Config{DSN: recordertest.Postgres(t), DataDir: t.TempDir(), Logger: quiet}
	},
	prepare: func(*Recorder) {},
	disrupt: func(t testing.TB, r *Recorder, cfg Config) {
		recordertest.Terminate(t, cfg.DSN)
	},
}

// faults counts the statements left to fail, per recorder.
type faultBox struct {
	mu   sync.Mutex
	left map[*gorm.DB]int
}

var faults = faultBox{left: map[*gorm.DB]int{}}

// injectFaults makes the next n statements of r fail as if the
// connection broke. The first call registers the callbacks: make it before
// traffic starts.
func injectFaults(r *Recorder, n int) {
	faults.mu.Lock()
	defer faults.mu.Unlock()
	if _, ok := faults.left[r.db]; !ok {
		fail := func(tx *gorm.DB) {
			faults.mu.Lock()
			defer faults.mu.Unlock()
			if faults.left[r.db] > 0 && rand.IntN(2) == 0 {
				faults.left[r.db]--
				_ = tx.AddError(fmt.Errorf("injected: %w", driver.ErrBadConn))
			}
		}
		_ = r.db.Callback().Create().After("gorm:create").Register("test:fault", fail)
		_ = r.db.Callback().Update().After("gorm:update").Register("test:fault", fail)
		// The writer's prepared inserts bypass GORM (bulk.go).
		r.afterExec = func() error {
			faults.mu.Lock()
			defer faults.mu.Unlock()
			if faults.left[r.db] > 0 && rand.IntN(2) == 0 {
				faults.left[r.db]--
				return fmt.Errorf("injected: %w", driver.ErrBadConn)
			}
			return nil
		}
	}
	faults.left[r.db] += n
}

func openT(t testing.TB, cfg Config) *Recorder {
	t.Helper()
	r, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// writeAll writes changes and waits until every done has run, failing on
// errors.
func writeAll(t testing.TB, r *Recorder, changes ...chat.Change) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Value
	for _, c := range changes {
		wg.Add(1)
		r.Write(c, func(err error) {
			if err != nil {
				failed.Store(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("write: %v", err)
	}
}

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func join(room, id, name string, sec int) chat.Change {
	return chat.Change{Kind: chat.ChangeJoin, Room: room, Identity: id, Name: name, At: at(sec)}
}

func leave(room, id string, sec int) chat.Change {
	return chat.Change{Kind: chat.ChangeLeave, Room: room, Identity: id, At: at(sec)}
}

func end(room string, sec int) chat.Change {
	return chat.Change{Kind: chat.ChangeEnd, Room: room, At: at(sec)}
}

func msg(room string, seq int64, from, text string, sec int, to ...string) chat.Change {
	m := &chat.Message{ID: fmt.Sprintf("m%s%06d", room, seq), Seq: seq, Sender: from, SenderName: from,
		Kind: chat.KindText, Text: text, To: to, ClientID: fmt.Sprintf("c%d", seq), CreatedAt: at(sec)}
	return chat.Change{Kind: chat.ChangeMessage, Room: room, Message: m, At: m.CreatedAt}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var suite = []struct {
	name string
	fn   func(t *testing.T, b backend)
}{
	{"Migrations", testMigrations},
	{"Sessions", testSessions},
	{"History", testHistory},
	{"MessageState", testMessageState},
	{"ClientID", testClientID},
	{"Recovery", testRecovery},
	{"Mutes", testMutes},
	{"WriterOrder", testWriterOrder},
	{"WriterTransient", testWriterTransient},
	{"WriterBackPressure", testWriterBackPressure},
	{"WriterReplay", testWriterReplay},
	{"WriterPoison", testWriterPoison},
	{"Outbox", testOutbox},
	{"E2EE", testE2EE},
}

func runSuite(t *testing.T, b backend) {
	for _, s := range suite {
		t.Run(s.name, func(t *testing.T) { s.fn(t, b) })
	}
}

func TestSQLite_Suite(t *testing.T)       { runSuite(t, sqliteBackend) }
func TestSQLitePureGo_Suite(t *testing.T) { runSuite(t, sqlitePureGoBackend) }
func TestPostgres_Suite(t *testing.T)     { runSuite(t, postgresBackend) }

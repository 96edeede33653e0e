package recorder

// The embedded database is SQLite, through one of two engines chosen when
// the binary is built:
//
//   - with cgo (the default wherever Go finds a C compiler): the C SQLite of
//     mattn/go-sqlite3, through GORM's own driver (gorm.io/driver/sqlite).
//     A one-message transaction costs about a third less CPU than on the
//     pure-Go engine, the batched writer writes twice as fast and the
//     export reads 1.6 times as fast (BENCHMARKS.md).
//   - without cgo: the pure-Go SQLite (modernc.org/sqlite through
//     glebarez/sqlite), so that a machine with Go and nothing else still
//     builds and runs the server.
//
// Both keep the same file format, schema and time text ("2006-01-02
// 15:04:05.999999999-07:00", which both drivers write and read), so a data
// directory moves between the two builds
// (TestSQLiteEnginesShareADataDir). The pure-Go engine is always linked
// in: the tests run the whole recorder suite on both in one binary.

import (
	"errors"
	"net/url"

	glebarez "github.com/glebarez/sqlite"
	"gorm.io/gorm"
)

// sqliteEngine opens SQLite files with one driver.
type sqliteEngine struct {
	name string
	// open returns the dialector for the database file at path, in WAL
	// mode, with the pragmas below.
	open func(path string) gorm.Dialector
	// code returns the primary SQLite result code of err, if err is the
	// driver's error.
	code func(err error) (int, bool)
}

// sqlitePragmas are set on every connection, by both engines: WAL
// (readers beside the writer), NORMAL sync (durable across a crash of the
// process; the WAL is synced at checkpoints), a busy wait instead of an
// immediate SQLITE_BUSY, and no foreign-key checks (models.go). Both
// drivers also begin write transactions with BEGIN IMMEDIATE (_txlock), so
// they never fail to upgrade a read lock.
var sqlitePragmas = [][2]string{
	{"journal_mode", "WAL"}, {"busy_timeout", "10000"}, {"synchronous", "NORMAL"}, {"foreign_keys", "0"},
}

// sqliteDSN is the file URI of path with the pragmas, each in the
// driver's syntax.
func sqliteDSN(path string, pragma func(q url.Values, name, value string)) string {
	q := url.Values{}
	for _, p := range sqlitePragmas {
		pragma(q, p[0], p[1])
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

var pureGoSQLite = sqliteEngine{
	name: "pure Go (modernc.org/sqlite)",
	open: func(path string) gorm.Dialector {
		return glebarez.Open(sqliteDSN(path, func(q url.Values, name, value string) {
			q.Add("_pragma", name+"("+value+")")
		}))
	},
	code: func(err error) (int, bool) {
		var se interface{ Code() int }
		if errors.As(err, &se) {
			return se.Code() & 0xff, true
		}
		return 0, false
	},
}

// sqliteCode returns the primary SQLite result code of err under either
// engine.
func sqliteCode(err error) (int, bool) {
	if c, ok := defaultSQLite.code(err); ok {
		return c, true
	}
	return pureGoSQLite.code(err)
}

// SQLiteEngine names the SQLite engine this binary was built with.
func SQLiteEngine() string { return defaultSQLite.name }

//go:build cgo

package recorder

import (
	"errors"
	"net/url"

	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// defaultSQLite: built with cgo, the C SQLite (sqlite.go).
var defaultSQLite = cSQLite

var cSQLite = sqliteEngine{
	name: "C (mattn/go-sqlite3)",
	open: func(path string) gorm.Dialector {
		q := url.Values{}
		q.Set("_journal_mode", "WAL")
		q.Set("_busy_timeout", "10000")
		q.Set("_synchronous", "NORMAL")
		q.Set("_foreign_keys", "0")
		q.Set("_txlock", "immediate")
		return sqlite.Open("file:" + path + "?" + q.Encode())
	},
	code: func(err error) (int, bool) {
		var se sqlite3.Error
		if errors.As(err, &se) {
			return int(se.Code), true
		}
		return 0, false
	},
}

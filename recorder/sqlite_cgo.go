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
		return sqlite.Open(sqliteDSN(path, func(q url.Values, name, value string) { q.Set("_"+name, value) }))
	},
	code: func(err error) (int, bool) {
		var se sqlite3.Error
		if errors.As(err, &se) {
			return int(se.Code), true
		}
		return 0, false
	},
}

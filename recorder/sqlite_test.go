package recorder

import (
	"database/sql"
	"testing"
)

// TestSQLitePragmas: both engines' connections get sqlitePragmas (a
// driver ignores a parameter it does not know, so a wrong spelling would
// pass silently: WAL off means readers block the writer).
func TestSQLitePragmas(t *testing.T) {
	want := map[string]string{"journal_mode": "wal", "synchronous": "1", "busy_timeout": "10000", "foreign_keys": "0"}
	for _, b := range []backend{sqliteBackend, sqlitePureGoBackend} {
		r := openT(t, b.config(t))
		sqlDB, err := r.db.DB()
		if err != nil {
			t.Fatal(err)
		}
		// Several connections at once, so that the pool opens more than one.
		var conns []*sql.Conn
		for range 3 {
			c, err := sqlDB.Conn(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		for i, c := range conns {
			for name, v := range want {
				var got string
				if err := c.QueryRowContext(ctxT(t), "PRAGMA "+name).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != v {
					t.Errorf("%s, connection %d: %s = %s, want %s", b.name, i, name, got, v)
				}
			}
			c.Close()
		}
	}
}

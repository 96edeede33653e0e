//go:build !cgo

package recorder

// defaultSQLite: built without cgo, the pure-Go SQLite (sqlite.go).
var defaultSQLite = pureGoSQLite

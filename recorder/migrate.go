package recorder

// Versioned migrations through pressly/goose: one folder of SQL files per
// dialect (migrations/sqlite, migrations/postgres), embedded in the binary
// and recorded in goose_db_version. Files are append-only: never edit or
// renumber a released file, add a new one with the same number in both
// folders (TestMigrationFoldersMatch).
//
// Open runs the pending files at start-up. On PostgreSQL goose holds a
// session-level advisory lock for the whole run, so nodes that start
// together migrate once; a SQLite file belongs to one process (its data
// directory), and each file runs in one BEGIN IMMEDIATE transaction.
//
// Databases made by the old home-made runner (schema_migrations and
// webhook_migrations) upgrade in place: the baseline (00001) is exactly the
// schema that runner left, written with IF NOT EXISTS, so on such a
// database it changes nothing and is only recorded; 00002 then drops the
// two old version tables (TestUpgradeFromOldRunner).

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/gorm"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// gooseTable is goose's version table (its default name).
const gooseTable = "goose_db_version"

// The old runner's last versions: a database it migrated further than this
// was made by a build that no longer exists, and is refused.
var oldRunnerTables = map[string]int{"schema_migrations": 6, "webhook_migrations": 1}

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer build: running older code on it could lose data.
var ErrSchemaTooNew = errors.New("recorder: database schema is newer than this build")

// ErrSchemaTooOld is returned by a read-only Open on a database that needs
// migrations.
var ErrSchemaTooOld = errors.New("recorder: database schema needs migrating (open it read-write once)")

// dialectDir is the migrations folder of db's dialect.
func dialectDir(db *gorm.DB) string {
	if db.Dialector.Name() == "postgres" {
		return "migrations/postgres"
	}
	return "migrations/sqlite"
}

// SchemaVersion is the schema version this build migrates to: the number of
// its last migration file.
func SchemaVersion() int64 {
	names, err := fs.Glob(migrationFiles, "migrations/sqlite/*.sql")
	if err != nil || len(names) == 0 {
		panic("recorder: no embedded migrations")
	}
	v, err := strconv.ParseInt(strings.SplitN(path.Base(names[len(names)-1]), "_", 2)[0], 10, 64)
	if err != nil {
		panic("recorder: bad migration file name " + names[len(names)-1])
	}
	return v
}

// MigrationCount is the number of this build's migration files, which is
// SchemaVersion only when no number is missing: numbers are reserved per
// branch (00005 for the cluster work, 00006 for e2ee) and may land out of
// order.
func MigrationCount() int {
	names, _ := fs.Glob(migrationFiles, "migrations/sqlite/*.sql")
	return len(names)
}

// newProvider is goose over db's dialect folder, with the advisory session
// lock on PostgreSQL.
func newProvider(db *gorm.DB, log *slog.Logger) (*goose.Provider, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(migrationFiles, dialectDir(db))
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithSlog(log)}
	if db.Dialector.Name() == "postgres" {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, sqlDB, sub, opts...)
}

// schemaVersion is the highest version recorded in db (0: none yet). It
// creates nothing, so a read-only Open can use it.
func schemaVersion(db *gorm.DB) (int64, error) {
	if !db.Migrator().HasTable(gooseTable) {
		return 0, nil
	}
	var v *int64
	if err := db.Table(gooseTable).Select("MAX(version_id)").Scan(&v).Error; err != nil {
		return 0, err
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// checkVersions refuses a database migrated by a newer build, by goose or
// by the old runner.
func checkVersions(db *gorm.DB) (int64, error) {
	for table, last := range oldRunnerTables {
		if !db.Migrator().HasTable(table) {
			continue
		}
		var v *int
		if err := db.Table(table).Select("MAX(version)").Scan(&v).Error; err != nil {
			return 0, err
		}
		if v != nil && *v > last {
			return 0, fmt.Errorf("%w: %s at %d, this build upgrades from %d", ErrSchemaTooNew, table, *v, last)
		}
	}
	v, err := schemaVersion(db)
	if err != nil {
		return 0, err
	}
	if v > SchemaVersion() {
		return v, fmt.Errorf("%w: database at %d, build knows %d", ErrSchemaTooNew, v, SchemaVersion())
	}
	return v, nil
}

// migrate applies every pending migration.
func migrate(ctx context.Context, db *gorm.DB, log *slog.Logger) ([]*goose.MigrationResult, error) {
	if _, err := checkVersions(db); err != nil {
		return nil, err
	}
	p, err := newProvider(db, log)
	if err != nil {
		return nil, fmt.Errorf("recorder: migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("recorder: migrate: %w", err)
	}
	for _, r := range res {
		log.Info("recorder: migrated", "version", r.Source.Version, "file", path.Base(r.Source.Path), "duration", r.Duration)
	}
	return res, nil
}

// MigrateUp applies the pending migrations of the database cfg selects and
// writes one line per applied file to w (for `backchannel migrate up`).
// Open does the same at start-up; this lets an operator do it first, e.g.
// right after a backup.
func MigrateUp(ctx context.Context, cfg Config, w io.Writer) error {
	cfg.ReadOnly = false
	db, err := openDB(cfg)
	if err != nil {
		return err
	}
	defer closeDB(db)
	res, err := migrate(ctx, db, discardLogger(cfg))
	for _, r := range res {
		fmt.Fprintln(w, r.String())
	}
	if err == nil {
		_, err = ensureSearchIndex(ctx, db, discardLogger(cfg), cfg.noFTS)
	}
	if err != nil {
		return err
	}
	if len(res) == 0 {
		fmt.Fprintf(w, "up to date at version %d\n", SchemaVersion())
	}
	return nil
}

// MigrateStatus writes, for each migration of this build, whether the
// database cfg selects has it applied (for `backchannel migrate status`).
// It changes nothing.
func MigrateStatus(ctx context.Context, cfg Config, w io.Writer) error {
	cfg.ReadOnly = true
	db, err := openDB(cfg)
	if err != nil {
		return err
	}
	defer closeDB(db)
	v, err := checkVersions(db)
	if err != nil {
		return err
	}
	applied := map[int64]string{}
	if db.Migrator().HasTable(gooseTable) {
		var rows []struct {
			VersionID int64
			Tstamp    string
		}
		if err := db.Table(gooseTable).Select("version_id, CAST(tstamp AS TEXT) AS tstamp").Scan(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			applied[r.VersionID] = r.Tstamp
		}
	}
	names, err := fs.Glob(migrationFiles, dialectDir(db)+"/*.sql")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "database version %d, this build's %d\n", v, SchemaVersion())
	for _, name := range names {
		n, _ := strconv.ParseInt(strings.SplitN(path.Base(name), "_", 2)[0], 10, 64)
		state := "pending"
		if at, ok := applied[n]; ok {
			state = "applied " + at
		}
		fmt.Fprintf(w, "%05d  %-40s %s\n", n, path.Base(name), state)
	}
	for _, t := range []string{"schema_migrations", "webhook_migrations"} {
		if db.Migrator().HasTable(t) {
			fmt.Fprintf(w, "old runner's %s present: the next start (or migrate up) upgrades it in place\n", t)
		}
	}
	return nil
}

func discardLogger(cfg Config) *slog.Logger {
	if cfg.Logger != nil {
		return cfg.Logger
	}
	return slog.New(slog.DiscardHandler)
}

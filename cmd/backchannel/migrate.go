package main

// `backchannel migrate status|up`: the database's schema, for operators.
// `serve` applies pending migrations at start-up too (under one lock on
// PostgreSQL); `migrate up` lets an operator do it first, right after a
// backup, and `status` says what a database has without changing it.

import (
	"context"
	"io"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/backchannel-rtc/backchannel/recorder"
)

func migrateCommand() *cli.Command {
	flags := func() []cli.Flag {
		return []cli.Flag{
			&cli.StringFlag{Name: "data", Value: "./data", Sources: env("data"), TakesFile: true, Usage: "folder holding the SQLite database"},
			&cli.StringFlag{Name: "database", Sources: env("database"), Usage: "postgres://… to migrate PostgreSQL instead of SQLite"},
		}
	}
	return &cli.Command{
		Name:  "migrate",
		Usage: "show or apply the database's schema migrations",
		Commands: []*cli.Command{
			{
				Name: "status", Usage: "list this build's migrations and whether the database has each (changes nothing)",
				Flags: flags(), Action: action(func(ctx context.Context, cmd *cli.Command) error {
					return migrateRun(ctx, cmd, recorder.MigrateStatus)
				}),
			},
			{
				Name: "up", Usage: "apply the pending migrations (serve does it at start-up too)",
				Flags: flags(), Action: action(func(ctx context.Context, cmd *cli.Command) error {
					return migrateRun(ctx, cmd, recorder.MigrateUp)
				}),
			},
		},
	}
}

func migrateRun(ctx context.Context, cmd *cli.Command, run func(context.Context, recorder.Config, io.Writer) error) error {
	data, database := cmd.String("data"), cmd.String("database")
	if database == "" {
		// Never create a data folder as a side effect: a missing SQLite
		// database is an operator's mistake (a wrong --data).
		if _, err := os.Stat(data); err != nil {
			return usagef("migrate: no data folder %s (set --data, or --database for PostgreSQL)", data)
		}
	}
	return run(ctx, recorder.Config{DSN: database, DataDir: data}, cmd.Root().Writer)
}

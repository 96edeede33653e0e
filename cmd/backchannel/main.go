// Command backchannel is the server binary: `serve` runs the SFU, chat,
// recorder and web client on one port; `token` mints an access token;
// `export` writes a meeting's or a session's chat as CSV; `bench` loads a
// server with chat; `version` says what was built.
//
// Every flag can also be given as an environment variable, BACKCHANNEL_
// and the flag's name (shown in --help), parsed as strictly as the flag.
// Exit codes: 0 done, 1 the command failed, 2 the command line (or the
// environment) was wrong.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v3"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}

// run executes a command line and returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := newApp(stdout, stderr).Run(ctx, args)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "backchannel:", strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
	if errors.As(err, new(failure)) {
		return 1
	}
	return 2
}

func newApp(stdout, stderr io.Writer) *cli.Command {
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version, commit and Go version", HideDefault: true, Local: true}
	cli.VersionPrinter = func(cmd *cli.Command) { fmt.Fprintln(cmd.Root().Writer, versionLine()) }
	root := &cli.Command{
		Name:    "backchannel",
		Usage:   "video meetings whose chat is kept",
		Version: buildInfo().Version,
		Writer:  stdout, ErrWriter: stderr,
		Commands: []*cli.Command{
			serveCommand(), tokenCommand(), exportCommand(), migrateCommand(), benchCommand(), versionCommand(),
		},
		EnableShellCompletion: true,
		ConfigureShellCompletionCommand: func(c *cli.Command) {
			c.Hidden = false
			c.Usage = "print a shell completion script (bash, zsh, fish, pwsh)"
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if cmd.NArg() > 0 {
				return usagef("unknown command %q (see backchannel --help)", cmd.Args().First())
			}
			return cli.ShowRootCommandHelp(cmd)
		},
		// Errors are printed once, on one line, by run; the library
		// neither exits nor prints help after a mistake.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
	}
	onUsageError(root)
	return root
}

// onUsageError makes every command's command-line mistakes a one-line
// usage error (exit code 2) naming the command's --help.
func onUsageError(cmd *cli.Command) {
	cmd.OnUsageError = func(_ context.Context, c *cli.Command, err error, _ bool) error {
		if c.Root() == c {
			return usagef("%v (see backchannel --help)", err)
		}
		return usagef("%s: %v (see %s --help)", c.Name, err, c.FullName())
	}
	for _, sub := range cmd.Commands {
		onUsageError(sub)
	}
}

// usageError is a mistake in the command line or the environment: exit
// code 2. Anything else that a command returns is a failure: exit code 1.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// failure is an error from a command's work (not its command line).
type failure struct{ err error }

func (f failure) Error() string { return f.err.Error() }
func (f failure) Unwrap() error { return f.err }

// action wraps a command's work: stray arguments are refused before it
// runs, and what it returns is a failure unless it is a usage error.
func action(f func(ctx context.Context, cmd *cli.Command) error) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		if cmd.NArg() > 0 {
			return usagef("%s: unexpected argument %q (flags start with --)", cmd.Name, cmd.Args().First())
		}
		err := f(ctx, cmd)
		if err == nil || errors.As(err, new(usageError)) {
			return err
		}
		return failure{err}
	}
}

// Command backchannel is the server binary: `serve` runs the SFU, chat,
// recorder and web client on one port; `token` mints an access token;
// `export` writes a session's chat as CSV.
package main

import (
	"fmt"
	"os"
)

const usage = `backchannel: video meetings whose chat is kept.

Usage:
  backchannel serve  [flags]   run the server (see backchannel serve -h)
  backchannel token  [flags]   print an access token
  backchannel export [flags]   write a session's chat as CSV to stdout
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = runServe(args)
	case "token":
		err = runToken(args, os.Stdout)
	case "export":
		err = runExport(args)
	case "bench":
		err = runBench(args)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "backchannel:", err)
		os.Exit(1)
	}
}

// envOr returns the environment variable's value, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

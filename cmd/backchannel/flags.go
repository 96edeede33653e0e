package main

// Flag helpers: every flag reads one environment variable, shown in --help
// as [$BACKCHANNEL_…] and parsed by the same rules as the flag (a bad
// value is refused, never replaced by the default).

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
)

// envSource is one environment variable. An empty one counts as unset:
// `BACKCHANNEL_X= backchannel …` gives the default, as for a variable
// that is not there.
type envSource string

func (e envSource) Lookup() (string, bool) {
	v := os.Getenv(string(e))
	return v, v != ""
}
func (e envSource) IsFromEnv() bool  { return true }
func (e envSource) Key() string      { return string(e) }
func (e envSource) String() string   { return "environment variable " + string(e) }
func (e envSource) GoString() string { return fmt.Sprintf("envSource(%q)", string(e)) }

// envName is the variable of a flag: BACKCHANNEL_ and the name in upper
// case with - as _. Flags only one of the helper commands has are named
// after it (envName("token-room") for token's --room); those serve shares
// with the others (--api-key, --data, ...) have serve's variable.
func envName(name string) string {
	return "BACKCHANNEL_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func env(name string) cli.ValueSourceChain {
	return cli.NewValueSourceChain(envSource(envName(name)))
}

// decimal is the integer syntax of every flag: base 10 (a leading zero
// is not octal).
var decimal = cli.IntegerConfig{Base: 10}

func validPort(p int) error {
	if p < 0 || p > 65535 {
		return fmt.Errorf("%d is not a port (0-65535)", p)
	}
	return nil
}

func nonNegative[T int | int64 | float64 | time.Duration](v T) error {
	if v < 0 {
		return fmt.Errorf("must not be negative")
	}
	return nil
}

func positive[T int | float64 | time.Duration](v T) error {
	if v <= 0 {
		return fmt.Errorf("must be more than zero")
	}
	return nil
}

func oneOf(values ...string) func(string) error {
	return func(s string) error {
		for _, v := range values {
			if s == v {
				return nil
			}
		}
		return fmt.Errorf("want %s", strings.Join(values, ", "))
	}
}

// list splits a comma-separated flag value.
func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

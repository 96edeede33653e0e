#!/usr/bin/env bash
# Chat load scenarios of issue 7 against a fresh server per run, on
# loopback only, bounded in time; then a Markdown summary (min / median /
# max per scenario and database). Used by `make bench`.
#
#   RUNS=3 SCENARIOS="a b c d e f" DBS="sqlite postgres" scripts/bench.sh
#
# Environment: RUNS (3), SCENARIOS (a b c d e f), DBS (sqlite, and postgres
# when 127.0.0.1:5432 answers), PG_URL (postgres://postgres@127.0.0.1:5432/
# backchannel_bench?sslmode=disable; the database is created if missing),
# BENCH_HTTP_PORT (17880), BENCH_UDP_PORT (17882), OUT (bin/bench-results),
# SERVER_ENV (extra environment for the server only, e.g. "GOGC=50").
# Nothing here changes sysctls: net.core.rmem_max/wmem_max are only read
# and reported.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SCENARIOS=${SCENARIOS:-"a b c d e f"}
HTTP_PORT=${BENCH_HTTP_PORT:-17880}
UDP_PORT=${BENCH_UDP_PORT:-17882}
OUT=${OUT:-bin/bench-results}
PG_URL=${PG_URL:-"postgres://postgres@127.0.0.1:5432/backchannel_bench?sslmode=disable"}
GO=${GO:-go}
BIN=bin/backchannel

if [ -z "${DBS:-}" ]; then
	DBS=sqlite
	if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then DBS="sqlite postgres"; fi
fi

mkdir -p "$OUT"
$GO build -o "$BIN" ./cmd/backchannel
# The server runs from a copy: the file the linker has just written maps
# into a process with 6-10 MiB more resident file pages than the same
# bytes copied (the page cache keeps it in larger pieces), which made the
# peak RSS depend on whether the build had relinked. A copy is how an installed binary sits on disk.
SERVER_BIN=bin/backchannel-bench-server
cp "$BIN" "$SERVER_BIN"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results="$OUT/results-$stamp.jsonl"
: >"$results"

if [[ " $DBS " == *" postgres "* ]]; then
	dbname=$(sed -E 's#^.*/([^/?]+)(\?.*)?$#\1#' <<<"$PG_URL")
	if command -v psql >/dev/null && ! psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='$dbname'" | grep -q 1; then
		createdb -h 127.0.0.1 -U postgres "$dbname"
	fi
fi

# scenario flags (15 s / 10 s measured phases, as the LiveKit figures)
args_for() {
	case $1 in
	a) echo "-n 10 --rate 10 --duration 15s" ;;
	b) echo "-n 50 --senders 5 --rate 10 --duration 15s" ;;
	c) echo "-n 10 --senders 1 --burst --duration 10s" ;;
	d) echo "-n 100 --senders 1 --rate 5 --duration 10s" ;;
	e) echo "-n 10 --senders 1 --rate 50 --private --duration 15s" ;;
	f) echo "-n 10 --rate 10 --slow 1 --duration 15s" ;; # a, with one slow receiver
	*) echo "unknown scenario $1" >&2; exit 2 ;;
	esac
}

server_pid=""
stop_server() {
	if [ -n "$server_pid" ]; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=""
	fi
}
trap stop_server EXIT

echo "bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; net.core.rmem_max $(cat /proc/sys/net/core/rmem_max)" >&2
for db in $DBS; do
	for sc in $SCENARIOS; do
		for run in $(seq 1 "$RUNS"); do
			data=$(mktemp -d "${TMPDIR:-/tmp}/bench-data.XXXXXX")
			dbflag=()
			[ "$db" = postgres ] && dbflag=(--database "$PG_URL")
			env ${SERVER_ENV:-} "$SERVER_BIN" serve --dev --chat-rate 0 --addr "127.0.0.1:$HTTP_PORT" --rtc-udp-port "$UDP_PORT" \
				--rtc-tcp-port 0 --rtc-bind 127.0.0.1 --data "$data" --log-level warn "${dbflag[@]}" \
				2>"$OUT/server-$sc-$db-$run.log" &
			server_pid=$!
			up=0
			for _ in $(seq 1 100); do
				kill -0 "$server_pid" 2>/dev/null || break
				curl -fs "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && { up=1; break; }
				sleep 0.1
			done
			if [ "$up" != 1 ]; then
				echo "bench: the server did not start:" >&2
				cat "$OUT/server-$sc-$db-$run.log" >&2
				exit 1
			fi
			label="$sc/$db"
			echo "bench: $label run $run: $(args_for "$sc")" >&2
			# shellcheck disable=SC2046
			if ! timeout 300 "$BIN" bench --url "ws://127.0.0.1:$HTTP_PORT" --pid "$server_pid" \
				--room "bench-$sc-$db-$run-$stamp" --label "$label" --json $(args_for "$sc") >>"$results"; then
				echo "bench: $label run $run reported a failure (see $results)" >&2
			fi
			stop_server
			rm -rf "$data"
		done
	done
done
echo "bench: load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo
echo "Results: $results"
echo
"$BIN" bench --summarize "$results"

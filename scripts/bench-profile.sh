#!/usr/bin/env bash
# CPU profile of the server during scenario c (1 sender → 9, burst), with
# the load clients in another process so that the profile is the server's
# alone. The server is internal/app run by bench.TestServeProfiled (a test
# binary, since the server exposes no pprof endpoint); loopback only.
#
#   scripts/bench-profile.sh [extra bench flags]     (DB=postgres for PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
OUT=${OUT:-bin/profile}
HTTP_PORT=${BENCH_HTTP_PORT:-17890}
UDP_PORT=${BENCH_UDP_PORT:-17892}
PG_URL=${PG_URL:-"postgres://postgres@127.0.0.1:5432/backchannel_bench?sslmode=disable"}
mkdir -p "$OUT"
$GO build -o bin/backchannel ./cmd/backchannel
$GO test -c -o bin/bench.test ./bench
db=()
[ "${DB:-sqlite}" = postgres ] && db=(BENCH_SERVE_DATABASE="$PG_URL")
prof="$OUT/server-c-${DB:-sqlite}.pprof"
env BENCH_SERVE_PROFILE="$prof" BENCH_SERVE_ADDR="127.0.0.1:$HTTP_PORT" BENCH_SERVE_UDP="127.0.0.1:$UDP_PORT" \
	BENCH_SERVE_MAX=3m "${db[@]}" ./bin/bench.test -test.run '^TestServeProfiled$' -test.timeout 4m &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
	curl -fs "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
timeout 120 bin/backchannel bench --url "ws://127.0.0.1:$HTTP_PORT" --pid "$pid" --room "profile-$(date +%s)" \
	-n 10 --senders 1 --burst --duration 10s --label "c/${DB:-sqlite}/profiled" "$@" | tee "$OUT/result-c.txt"
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT
echo
echo "profile: $prof (go tool pprof -http=127.0.0.1:0 bin/bench.test $prof)"
$GO tool pprof -top -nodecount=40 bin/bench.test "$prof" 2>/dev/null | head -50

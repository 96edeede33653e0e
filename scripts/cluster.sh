#!/usr/bin/env bash
# `make cluster`: three Backchannel nodes on loopback sharing the local
# PostgreSQL (a database of their own, created if missing), so you can
# watch rooms being placed, redirected and taken over. Open
# http://localhost:7880, :7883 or :7886: any of them serves any room.
# Ctrl-C drains and stops all three. Kill one (kill -9 <pid>) to see its
# rooms move after the lease TTL.
set -euo pipefail
BIN=${BIN:-bin/backchannel}
PG=${BACKCHANNEL_CLUSTER_PG:-postgres://postgres@127.0.0.1:5432}
DB=${BACKCHANNEL_CLUSTER_DB:-backchannel_cluster}
DATA=${BACKCHANNEL_CLUSTER_DATA:-./data-cluster}

if ! command -v psql >/dev/null; then
  echo "make cluster: psql not found (it creates the database); install the PostgreSQL client" >&2
  exit 1
fi
if ! psql "$PG/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
  echo "make cluster: PostgreSQL is not reachable at $PG (set BACKCHANNEL_CLUSTER_PG)" >&2
  exit 1
fi
psql "$PG/postgres" -Atqc "select 1 from pg_database where datname = '$DB'" | grep -q 1 ||
  psql "$PG/postgres" -qc "create database $DB" >/dev/null
# One shared folder: attachments must be reachable from every node.
mkdir -p "$DATA"

pids=()
stop() {
  echo "make cluster: draining the nodes"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait
}
trap stop INT TERM
for i in 0 1 2; do
  http=$((7880 + 3 * i))
  "$BIN" serve --dev --data "$DATA" --database "$PG/$DB?sslmode=disable" \
    --addr "127.0.0.1:$http" --rtc-bind 127.0.0.1 --rtc-udp-port $((http + 2)) --rtc-tcp-port $((http + 1)) \
    --node-url "http://localhost:$http" &
  pids+=($!)
  echo "make cluster: node $i on http://localhost:$http (pid $!)"
done
wait

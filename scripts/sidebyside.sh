#!/usr/bin/env bash
# The side-by-side run (`make bench LIVEKIT_BIN=…`): LiveKit, Backchannel
# and a bare upstream-Pion relay in one run, systems alternated, with
# ../shared/sidebyside (its README says how). LIVEKIT_BIN is a LiveKit
# v1.13.5 server you built from its public repository; nothing here
# fetches or builds LiveKit. The harnesses build from the module proxy.
#
#   LIVEKIT_BIN=/path/livekit-server REPS=3 SCEN="a b c d" scripts/sidebyside.sh
#
# Each cell (scenario, repetition, system) is one call of the shared run.sh,
# so that the systems alternate within every repetition and, when run as
# root with nft available, the server's UDP egress is counted per cell
# (nftables counters on the servers' UDP ports, read before and after):
# egress bytes per delivered message is the operator's bill.
#
#   BC_B=/path/other-backchannel   adds a second build of ours ("bcb"),
#                                  alternated with the first, for an A/B
#   DB=postgres                    runs our server on PostgreSQL (PG_URL)
#   DB_B=postgres                  runs the second build on PostgreSQL (with
#                                  BC_B=bin/backchannel: SQLite and PostgreSQL
#                                  of one build, alternated)
#   SYSTEMS="lk bc relay"          the systems to run (bcb is added by BC_B)
set -euo pipefail
cd "$(dirname "$0")/.."
SBS=${SIDEBYSIDE:-../shared/sidebyside}
: "${LIVEKIT_BIN:?set LIVEKIT_BIN to a LiveKit v1.13.5 server binary}"
if [ ! -x "$SBS/run.sh" ]; then
	echo "sidebyside: $SBS/run.sh not found (set SIDEBYSIDE)" >&2
	exit 1
fi
OUT=$(realpath -m "${OUT:-bin/sidebyside/$(date -u +%Y%m%dT%H%M%SZ)}")
mkdir -p bin/sidebyside "$OUT"
GO=${GO:-go}
BINDIR=$(pwd)/bin/sidebyside
(cd "$SBS/lkbench" && $GO build -o "$BINDIR/lkbench" .)
(cd "$SBS/pionlimit" && $GO build -o "$BINDIR/relay" ./relay && $GO build -o "$BINDIR/load" ./load)
$GO build -tags "${TAGS:-sqlite_fts5}" -o bin/backchannel ./cmd/backchannel
cp bin/backchannel "$BINDIR/backchannel" # run a copy: RSS does not depend on the linker's page cache
SYSTEMS=${SYSTEMS:-"lk bc relay"}
if [ -n "${BC_B:-}" ]; then
	cp "$BC_B" "$BINDIR/backchannel-b"
	SYSTEMS=$(echo "$SYSTEMS" | sed 's/\bbc\b/bc bcb/')
fi

# Our server on PostgreSQL: run.sh starts it with --data only, so a wrapper
# creates a fresh database per cell and execs the server in its place (the
# harness measures the server's own pid); the databases are dropped at exit.
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PGDBS=$OUT/pg-databases
wrap() { # wrap BINARY NAME DB: prints the path of the binary run.sh should start
	if [ "$3" != postgres ]; then
		echo "$1"
		return
	fi
	cat >"$BINDIR/$2-pg" <<EOF
#!/usr/bin/env bash
if [ "\$1" = serve ]; then
	shift
	db=sbs_\$\$
	echo "\$db" >>"$PGDBS"
	psql "$PG_URL/postgres" -qc "CREATE DATABASE \$db" >/dev/null || exit 1
	exec "$1" serve --database "$PG_URL/\$db?sslmode=disable" "\$@"
fi
exec "$1" "\$@"
EOF
	chmod +x "$BINDIR/$2-pg"
	echo "$BINDIR/$2-pg"
}
dropdbs() {
	[ -f "$PGDBS" ] || return 0
	while read -r db; do psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true; done <"$PGDBS"
	rm -f "$PGDBS"
}

meter=
if [ "$(id -u)" = 0 ] && command -v nft >/dev/null; then
	meter=sbs_egress_$$
	nft add table inet "$meter"
	nft add chain inet "$meter" out '{ type filter hook output priority 0; policy accept; }'
	nft add rule inet "$meter" out udp sport 17882 counter
	nft add rule inet "$meter" out udp sport 7882 counter
	trap 'nft delete table inet "$meter" 2>/dev/null || true; dropdbs' EXIT
else
	echo "sidebyside: not root or no nft: egress bytes are not counted" >&2
	trap dropdbs EXIT
fi
counted() { # datagrams and IP bytes the server ports sent so far
	if [ -z "$meter" ]; then
		echo "0 0"
		return
	fi
	nft -j list table inet "$meter" | python3 -c '
import json, sys
c = [x["counter"] for e in json.load(sys.stdin)["nftables"] if "rule" in e for x in e["rule"]["expr"] if "counter" in x]
print(sum(x["packets"] for x in c), sum(x["bytes"] for x in c))'
}
egress() { # egress LABEL JSONL LINES BEFORE: the server's UDP egress in this cell, beside the deliveries the harness counted
	[ -n "$meter" ] || return 0
	python3 -c '
import json, sys
label, jsonl, before, p0, b0, p1, b1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), *map(int, sys.argv[4:])
try:
    lines = open(jsonl).read().splitlines()
except OSError:
    lines = []
if len(lines) > before:  # the harness wrote its row: count what it received
    print(json.dumps({"label": label, "datagrams": p1 - p0, "udp_payload_bytes": (b1 - b0) - 28 * (p1 - p0),
                      "received": json.loads(lines[-1])["received"]}))' "$1" "$2" "$3" $4 $(counted) >>"$OUT/egress.jsonl"
}
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

BC_A=$(wrap "$BINDIR/backchannel" bc "${DB:-sqlite}")
BCB=$([ -n "${BC_B:-}" ] && wrap "$BINDIR/backchannel-b" bcb "${DB_B:-${DB:-sqlite}}" || true)
for sc in ${SCEN:-a b c d}; do
	for r in $(seq 1 "${REPS:-3}"); do
		for sys in $SYSTEMS; do
			run=$sys bc=$BC_A jsonl=$OUT/$sys/$sys.jsonl
			case $sys in
			bcb) run=bc bc=$BCB jsonl=$OUT/bcb/bc.jsonl ;;
			esac
			before=$(lines "$jsonl")
			c0=$(counted)
			LK="$LIVEKIT_BIN" LKBENCH="$BINDIR/lkbench" BC="$bc" RELAY="$BINDIR/relay" RLOAD="$BINDIR/load" \
				OUT="$OUT/$sys" REPS=1 SCEN="$sc" SYSTEMS="$run" bash "$SBS/run.sh" | grep -v '^done$' | sed "s/rep 1/rep $r/"
			egress "$sc/$sys" "$jsonl" "$before" "$c0"
		done
	done
done
python3 scripts/sidebyside-table.py "$OUT"

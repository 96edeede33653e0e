#!/usr/bin/env bash
# The side-by-side run (`make bench LIVEKIT_BIN=…`): LiveKit, Backchannel
# and a bare upstream-Pion relay in one run, systems alternated, with
# ../shared/sidebyside (its README says how). LIVEKIT_BIN is a LiveKit
# v1.13.5 server you built from its public repository; nothing here
# fetches or builds LiveKit. The harnesses build from the module proxy.
#
#   LIVEKIT_BIN=/path/livekit-server REPS=3 SCEN="a b c d" scripts/sidebyside.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SBS=${SIDEBYSIDE:-../shared/sidebyside}
: "${LIVEKIT_BIN:?set LIVEKIT_BIN to a LiveKit v1.13.5 server binary}"
if [ ! -x "$SBS/run.sh" ]; then
  echo "sidebyside: $SBS/run.sh not found (set SIDEBYSIDE)" >&2
  exit 1
fi
OUT=${OUT:-bin/sidebyside/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p bin/sidebyside "$OUT"
GO=${GO:-go}
BINDIR=$(pwd)/bin/sidebyside
(cd "$SBS/lkbench" && $GO build -o "$BINDIR/lkbench" .)
(cd "$SBS/pionlimit" && $GO build -o "$BINDIR/relay" ./relay && $GO build -o "$BINDIR/load" ./load)
$GO build -o bin/backchannel ./cmd/backchannel
cp bin/backchannel "$BINDIR/backchannel" # run a copy: RSS does not depend on the linker's page cache
LK="$LIVEKIT_BIN" LKBENCH="$BINDIR/lkbench" BC="$BINDIR/backchannel" RELAY="$BINDIR/relay" RLOAD="$BINDIR/load" \
  OUT="$OUT" REPS="${REPS:-3}" SCEN="${SCEN:-a b c d}" bash "$SBS/run.sh"
python3 "$SBS/table.py" "$OUT"

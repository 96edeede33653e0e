#!/usr/bin/env bash
# Says plainly which parts of the suite this machine cannot run. Under
# CI=true nothing may be skipped, so a missing part fails the run here.
set -uo pipefail
missing=0
say() { echo "make test: $*"; }

if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
	say "PostgreSQL at 127.0.0.1:5432: yes (recorder tests run on PostgreSQL and SQLite)"
elif (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
	say "PostgreSQL at 127.0.0.1:5432: yes"
else
	say "PostgreSQL at 127.0.0.1:5432: NOT reachable: the PostgreSQL tests will be SKIPPED"
	missing=1
fi

chrome=""
for c in chromium chromium-browser google-chrome; do
	if command -v "$c" >/dev/null 2>&1; then chrome=$(command -v "$c"); break; fi
done
if [ -n "$chrome" ]; then
	say "Chromium: $chrome (browser tests run)"
else
	say "Chromium: NOT installed: the browser tests will be SKIPPED (apt-get install chromium)"
	missing=1
fi

if command -v python3 >/dev/null 2>&1; then
	say "python3: yes (the CSV is also checked with Python's csv module)"
else
	say "python3: NOT installed: the Python CSV check will be SKIPPED"
	missing=1
fi

if [ "${CI:-}" = "true" ] && [ "$missing" -ne 0 ]; then
	say "CI=true and something above is missing: nothing may be skipped in CI"
	exit 1
fi
exit 0

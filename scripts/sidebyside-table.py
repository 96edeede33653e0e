#!/usr/bin/env python3
"""The table of a scripts/sidebyside.sh run: medians (min-max) per scenario
and system, the server's UDP egress per delivered message, and the ratios of
ours to LiveKit (and, with BC_B, of the two builds of ours).

usage: sidebyside-table.py OUTDIR [--json]"""
import json
import os
import statistics
import sys
from collections import defaultdict

out = sys.argv[1]
rows = defaultdict(list)  # "scenario/system" -> normalised rows


def harness_row(r):  # lkbench and the relay's load harness
    return dict(cpu=r["server_us_per_delivery"], p99=r["lat_p99_ms"], dps=r["delivered_per_s"],
                join=r["join_p50_ms"], rss=r["server_vmhwm_mb"], lost=r["loss"])


def bench_row(r):  # backchannel bench --json
    return dict(cpu=r["server_cpu_us_per_delivery"], p99=r["latency_ms"]["p99"], dps=r["delivered_per_sec"],
                join=r["join_ms"]["p50"], rss=r["server_peak_rss_bytes"] / 2**20,
                lost=r["lost"] + r.get("duplicates", 0) + r.get("leaked", 0))


for system, name, norm in (("lk", "lk.jsonl", harness_row), ("relay", "relay.jsonl", harness_row),
                           ("bc", "bc.jsonl", bench_row), ("bcb", "bc.jsonl", bench_row)):
    path = os.path.join(out, system, name)
    if os.path.exists(path):
        for line in open(path):
            r = json.loads(line)
            rows[r["label"].split("/")[0] + "/" + system].append(norm(r))

egress = defaultdict(list)  # UDP payload bytes the server sent per message delivered
path = os.path.join(out, "egress.jsonl")
if os.path.exists(path):
    for line in open(path):
        e = json.loads(line)
        if e["received"]:
            egress[e["label"]].append(e["udp_payload_bytes"] / e["received"])
for label, v in egress.items():
    for row, x in zip(rows.get(label, []), v):
        row["egress"] = x

cols = [("cpu", "srv µs/delivery", "{:.1f}"), ("p99", "p99 ms", "{:.2f}"), ("dps", "delivered/s", "{:.0f}"),
        ("join", "join p50 ms", "{:.1f}"), ("rss", "peak RSS MiB", "{:.0f}"), ("egress", "egress B/delivery", "{:.0f}"),
        ("lost", "lost+dup+leak", "{:.0f}")]
systems = ("lk", "bc", "bcb", "relay")
scenarios = sorted({label.split("/")[0] for label in rows})


def median(label, key):
    v = [r[key] for r in rows.get(label, []) if key in r]
    return statistics.median(v) if v else None


def cell(label, key, fmt):
    v = [r[key] for r in rows[label] if key in r]
    if not v:
        return "–"
    s = fmt.format(statistics.median(v))
    return s + (f" ({fmt.format(min(v))}–{fmt.format(max(v))})" if len(v) > 1 and key in ("cpu", "p99", "dps") else "")


print("| scenario | system | runs | " + " | ".join(c[1] for c in cols) + " |")
print("|---|---|---|" + "---|" * len(cols))
for sc in scenarios:
    for system in systems:
        label = f"{sc}/{system}"
        if label in rows:
            print(f"| {sc} | {system} | {len(rows[label])} | " + " | ".join(cell(label, k, f) for k, _, f in cols) + " |")

pairs = [(a, b) for a, b in (("bc", "lk"), ("bcb", "lk"), ("bc", "bcb"), ("bc", "relay"))]
print()
print("| scenario | ratio | CPU/delivery | p99 | delivered/s | join p50 | RSS | egress/delivery |")
print("|---|---|---|---|---|---|---|---|")
ratios = []
for sc in scenarios:
    for a, b in pairs:
        if f"{sc}/{a}" not in rows or f"{sc}/{b}" not in rows:
            continue
        r = {}
        for k in ("cpu", "p99", "dps", "join", "rss", "egress"):
            x, y = median(f"{sc}/{a}", k), median(f"{sc}/{b}", k)
            r[k] = x / y if x is not None and y else None
        ratios.append(dict(scenario=sc, ratio=f"{a}÷{b}", **r))
        print(f"| {sc} | {a}÷{b} | " + " | ".join("–" if r[k] is None else f"{r[k]:.2f}"
                                                  for k in ("cpu", "p99", "dps", "join", "rss", "egress")) + " |")
if "--json" in sys.argv:
    print(json.dumps(ratios))

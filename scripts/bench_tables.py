#!/usr/bin/env python3
"""Turns criterion's results (target/criterion/**/new/{benchmark,estimates}.json) into the
Markdown tables of BENCHMARKS.md: median per benchmark, and its ratio to the group's baseline
(the raw sqlx / SeaORM / tokio row when there is one).

    scripts/bench_tables.py [GROUP_PREFIX ...] > tables.md
"""
import json
import os
import sys
from collections import OrderedDict

root = "target/criterion"
prefixes = sys.argv[1:]
groups = OrderedDict()
for dirpath, _, files in sorted(os.walk(root)):
    if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
        continue
    bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
    est = json.load(open(os.path.join(dirpath, "estimates.json")))
    group = bench["group_id"]
    if prefixes and not any(group.startswith(p) for p in prefixes):
        continue
    name = bench["function_id"] or ""
    param = bench.get("value_str")
    groups.setdefault((group, param), []).append((name, est["median"]["point_estimate"]))

def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.1f} ns"

def baseline(rows, prefix):
    return next((t for n, t in rows if n.startswith(prefix)), None)

for (group, param), rows in groups.items():
    columns = [(p, baseline(rows, p)) for p in ("SeaORM", "raw sqlx")]
    columns = [(p, t) for p, t in columns if t is not None]
    if not columns:
        other = next((n for n, _ in rows if n.startswith(("tokio", "std thread"))), rows[0][0])
        columns = [(other, baseline(rows, other))]
    title = f"{group}" + (f" — {param}" if param else "")
    print(f"\n**{title}**\n")
    print("| variant | median | " + " | ".join(f"vs {p}" for p, _ in columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    order = {"raw sqlx": 0, "SeaORM": 1}
    for name, t in sorted(rows, key=lambda r: (order.get(r[0].split(" (")[0].split(" insert")[0], 9), r[0])):
        ratios = " | ".join(f"{t / b:.2f}×" for _, b in columns)
        print(f"| {name} | {fmt(t)} | {ratios} |")

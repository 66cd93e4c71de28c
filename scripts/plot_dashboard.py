#!/usr/bin/env python3
"""Draws the dashboard-vs-latency curve as an SVG (no plotting library needed).

    scripts/plot_dashboard.py [target/bench-results/dashboard_latency.csv] [docs/dashboard_latency.svg]

Input: the CSV written by `cargo bench --bench dashboard`.
"""
import csv
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "target/bench-results/dashboard_latency.csv"
dst = sys.argv[2] if len(sys.argv) > 2 else "docs/dashboard_latency.svg"

rows = list(csv.DictReader(open(src)))
series = [
    ("blocking_serial_ms", "blocking, serial", "#d62728"),
    ("async_serial_ms", "async, serial", "#ff7f0e"),
    ("async_concurrent_ms", "async, concurrent", "#2ca02c"),
    ("one_query_ms", "one query (physical limit)", "#7f7f7f"),
]
backends = sorted({r["backend"] for r in rows})
dashes = {b: ("" if i == 0 else "6,4") for i, b in enumerate(backends)}

W, H, L, R, T, B = 760, 460, 70, 230, 40, 60
xs = sorted({float(r["latency_ms"]) for r in rows})
ymax = max(float(r[k]) for r in rows for k, _, _ in series) * 1.05
x_of = lambda v: L + (W - L - R) * (xs.index(v) / (len(xs) - 1 or 1))
y_of = lambda v: H - B - (H - T - B) * v / ymax

out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{L}" y="24" font-size="15">5-query dashboard vs one-way network latency (median ms)</text>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
       f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>']
for v in xs:
    out.append(f'<text x="{x_of(v):.1f}" y="{H-B+18}" text-anchor="middle">{v:g} ms</text>')
for i in range(6):
    v = ymax * i / 5
    out.append(f'<line x1="{L-4}" y1="{y_of(v):.1f}" x2="{W-R}" y2="{y_of(v):.1f}" stroke="#ddd"/>')
    out.append(f'<text x="{L-8}" y="{y_of(v)+4:.1f}" text-anchor="end">{v:.0f}</text>')
out.append(f'<text x="{(L+W-R)/2:.0f}" y="{H-15}" text-anchor="middle">one-way latency added by the proxy (x axis not to scale)</text>')
legend_y = T + 10
for backend in backends:
    pts = sorted((float(r["latency_ms"]), r) for r in rows if r["backend"] == backend)
    for key, label, color in series:
        path = " ".join(f"{x_of(x):.1f},{y_of(float(r[key])):.1f}" for x, r in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dashes[backend]}"/>')
        for x, r in pts:
            out.append(f'<circle cx="{x_of(x):.1f}" cy="{y_of(float(r[key])):.1f}" r="3" fill="{color}"/>')
        out.append(f'<line x1="{W-R+15}" y1="{legend_y}" x2="{W-R+40}" y2="{legend_y}" stroke="{color}" stroke-width="2" stroke-dasharray="{dashes[backend]}"/>')
        out.append(f'<text x="{W-R+45}" y="{legend_y+4}">{backend}: {label}</text>')
        legend_y += 18
out.append("</svg>")
open(dst, "w").write("\n".join(out) + "\n")
print(f"wrote {dst}")

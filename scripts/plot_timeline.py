#!/usr/bin/env python3
"""Plots a run's queue lengths over the day as an SVG (standard library only).

usage: scripts/plot_timeline.py RUN_DIR [OUT.svg] [--title TEXT]
Reads RUN_DIR/timeline.csv (queue per lane per minute) and draws one line per gate (the sum of its
lanes' queues) and the staff queues dashed. Writes RUN_DIR/timeline.svg by default.
"""
import csv
import os
import sys

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def main(argv):
    title = None
    if "--title" in argv:
        i = argv.index("--title")
        title = argv[i + 1]
        del argv[i:i + 2]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    run_dir = argv[0]
    out = argv[1] if len(argv) > 1 else os.path.join(run_dir, "timeline.svg")
    with open(os.path.join(run_dir, "timeline.csv"), newline="") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], rows[1:]
    minutes = [int(r[0][:2]) * 60 + int(r[0][3:5]) for r in data]
    series = {}
    for c, name in enumerate(header[1:], start=1):
        if name.startswith("queue:"):
            key = name[6:].split("/")[0]
        else:
            key = "staff " + name.split(":")[1]
        vals = [int(r[c]) for r in data]
        series.setdefault(key, [0] * len(vals))
        series[key] = [a + b for a, b in zip(series[key], vals)]
    # Show the busiest gates only, so the plot stays readable for sub-districts with many gates.
    gates = sorted((k for k in series if not k.startswith("staff")), key=lambda k: -max(series[k]))[:8]
    staff = sorted((k for k in series if k.startswith("staff")), key=lambda k: -max(series[k]))[:2]
    W, H, L, R, T, B = 900, 360, 60, 170, 40, 40
    x0, x1 = minutes[0], max(minutes[-1], minutes[0] + 60)
    ymax = max([1] + [max(series[k]) for k in gates + staff])
    sx = lambda m: L + (m - x0) * (W - L - R) / (x1 - x0)
    sy = lambda v: H - B - v * (H - T - B) / ymax
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
             f'<rect width="{W}" height="{H}" fill="white"/>']
    parts.append(f'<text x="{L}" y="22" font-size="15">{title or "Queue length over the day"}</text>')
    for h in range(x0 // 60, x1 // 60 + 1):
        x = sx(h * 60)
        if L <= x <= W - R:
            parts.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H-B}" stroke="#eee"/>')
            parts.append(f'<text x="{x:.1f}" y="{H-B+16}" text-anchor="middle">{h:02d}:00</text>')
    step = max(1, round(ymax / 5))
    for v in range(0, ymax + 1, step):
        parts.append(f'<line x1="{L}" y1="{sy(v):.1f}" x2="{W-R}" y2="{sy(v):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{L-6}" y="{sy(v)+4:.1f}" text-anchor="end">{v}</text>')
    parts.append(f'<text x="14" y="{(H)/2}" transform="rotate(-90 14 {H/2})" text-anchor="middle">people waiting</text>')
    for i, k in enumerate(gates + staff):
        pts = " ".join(f"{sx(m):.1f},{sy(v):.1f}" for m, v in zip(minutes, series[k]))
        dash = ' stroke-dasharray="4 3"' if k.startswith("staff") else ""
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} points="{pts}"/>')
        y = T + 14 + 18 * i
        parts.append(f'<line x1="{W-R+12}" y1="{y-4}" x2="{W-R+32}" y2="{y-4}" stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{W-R+38}" y="{y}">{k}</text>')
    parts.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(parts) + "\n")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

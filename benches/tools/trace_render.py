#!/usr/bin/env python3
"""Renders a gort execution trace (Chrome trace-event JSON, gort::trace) as an HTML page with
an SVG timeline, for a screenshot where no trace viewer is reachable (chrome://tracing needs
the file loaded through its UI; ui.perfetto.dev needs the network).

It draws what Perfetto and chrome://tracing draw for this trace: one row per thread track
(P0, P1, ..., the M rows of blocking calls, sysmon, the runtime), complete events ("X") as
boxes coloured by G, instant events ("i") as ticks, and the GOMAXPROCS counter.

    benches/tools/trace_render.py TRACE.json OUT.html [--from MS] [--to MS]
    chromium --headless --no-sandbox --disable-gpu --window-size=1600,900 \
        --screenshot=docs/trace-demo.png OUT.html
"""
import colorsys
import html
import json
import sys


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    src, out = args[0], args[1]
    t_from = float(args[args.index("--from") + 1]) * 1000 if "--from" in args else None
    t_to = float(args[args.index("--to") + 1]) * 1000 if "--to" in args else None
    d = json.load(open(src))
    evs = d["traceEvents"] if isinstance(d, dict) else d
    names = {}
    order = {}
    for e in evs:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[e["tid"]] = e["args"]["name"]
        if e.get("ph") == "M" and e.get("name") == "thread_sort_index":
            order[e["tid"]] = e["args"]["sort_index"]
    timed = [e for e in evs if e.get("ph") in ("X", "i")]
    if not timed:
        sys.exit("no events")
    lo = min(e["ts"] for e in timed) if t_from is None else t_from
    hi = max(e["ts"] + e.get("dur", 0) for e in timed) if t_to is None else t_to
    timed = [e for e in timed if e["ts"] + e.get("dur", 0) >= lo and e["ts"] <= hi]
    tids = sorted({e.get("tid", 0) for e in timed if "tid" in e}, key=lambda t: (order.get(t, t), t))
    width, left, row_h, top = 1500, 170, 34, 60
    height = top + row_h * len(tids) + 60
    scale = (width - left - 20) / max(hi - lo, 1e-9)
    x = lambda t: left + (t - lo) * scale

    def color(goid):
        h = (goid * 0.6180339887) % 1.0
        r, g, b = colorsys.hls_to_rgb(h, 0.55, 0.55)
        return "#%02x%02x%02x" % (int(r * 255), int(g * 255), int(b * 255))

    svg = []
    for i, t in enumerate(tids):
        y = top + i * row_h
        svg.append(f'<rect x="0" y="{y}" width="{width}" height="{row_h}" fill="{"#f6f6f6" if i % 2 else "#ffffff"}"/>')
        svg.append(f'<text x="8" y="{y + row_h * 0.62}" font-size="13" font-family="sans-serif">{html.escape(names.get(t, str(t)))}</text>')
    row = {t: i for i, t in enumerate(tids)}
    for e in timed:
        if "tid" not in e:
            continue
        y = top + row[e["tid"]] * row_h
        goid = e.get("args", {}).get("goid", 0)
        title = html.escape(f'{e["name"]} @ {e["ts"]:.3f} us' + (f' dur {e["dur"]:.3f} us' if "dur" in e else "") + (f' {e["args"]}' if "args" in e else ""))
        if e["ph"] == "X":
            x0, x1 = x(max(e["ts"], lo)), x(min(e["ts"] + e["dur"], hi))
            w = max(x1 - x0, 0.6)
            svg.append(f'<rect x="{x0:.2f}" y="{y + 4}" width="{w:.2f}" height="{row_h - 12}" fill="{color(goid)}" stroke="#333" stroke-width="{0.3 if w > 3 else 0}"><title>{title}</title></rect>')
            if w > 60:
                svg.append(f'<text x="{x0 + 3:.1f}" y="{y + row_h * 0.58}" font-size="10" font-family="sans-serif" fill="#000">{html.escape(e["name"])}</text>')
        else:
            xi = x(e["ts"])
            c = {"create": "#2a7", "ready": "#27c", "steal": "#c22", "handoff": "#e80", "netpoll": "#808", "timer": "#a60", "procs": "#000"}.get(e.get("cat"), "#555")
            svg.append(f'<line x1="{xi:.2f}" y1="{y + row_h - 7}" x2="{xi:.2f}" y2="{y + row_h - 1}" stroke="{c}" stroke-width="1"><title>{title}</title></line>')
    # Time axis.
    span = hi - lo
    step = 10 ** max(0, len(str(int(span / 8))) - 1)
    t = (lo // step + 1) * step
    ybot = top + row_h * len(tids)
    while t < hi:
        xt = x(t)
        svg.append(f'<line x1="{xt:.1f}" y1="{top}" x2="{xt:.1f}" y2="{ybot + 5}" stroke="#ccc"/>')
        svg.append(f'<text x="{xt:.1f}" y="{ybot + 20}" font-size="11" text-anchor="middle" font-family="sans-serif">{(t - lo) / 1000:.1f} ms</text>')
        t += step
    legend = "slices: G run on a P, coloured by G (hover: name, why it ended); ticks: create (green), ready (blue), steal (red), handoff (orange), timer (brown), GOMAXPROCS (black)"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>gort trace</title></head>
<body style="margin:0">
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">
<text x="8" y="24" font-size="16" font-family="sans-serif" font-weight="bold">gort execution trace: {html.escape(src.split('/')[-1])} ({len(timed)} events, {span / 1000:.1f} ms)</text>
<text x="8" y="44" font-size="12" font-family="sans-serif">{html.escape(legend)}</text>
{''.join(svg)}
</svg></body></html>"""
    open(out, "w").write(page)
    print(f"wrote {out}: {len(tids)} tracks, {len(timed)} events")


main()

"""The HTML report's pictures of a watch, as inline SVG (no script, no fetch: the page's Content-Security-Policy
stays default-src 'none'): a timeline, rounds across and results down, each cell coloured by status with the
round and code in its tooltip; and latency over time for the TCP connects and TLS handshakes."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from reports import watchview

COLOURS = {"p": "#2da44e", "w": "#d4a72c", "f": "#cf222e", "e": "#8250df", "s": "#afb8c1", ".": "#ffffff"}
NAMES = {"p": "pass", "w": "warn", "f": "fail", "e": "error", "s": "skip", ".": "not in this round"}
LINE_COLOURS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf3989", "#9a6700", "#57606a", "#1b7c83")
LABEL_WIDTH = 330
MAX_LATENCY_LINES = 8


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def timeline(watch: Mapping[str, Any]) -> str:
    views = watchview.series(watch)[: watchview.MAX_TIMELINE_ROWS]
    columns = watch.get("columns") or []
    if not views or not columns:
        return "<p>No round finished.</p>"
    times = watchview.column_times(watch)
    cell_w = max(3, min(24, 860 // max(1, len(columns))))
    cell_h, top = 14, 22
    grid = max(cell_w * len(columns), 200)  # room for the first and last round's times above it
    width = LABEL_WIDTH + grid + 10
    height = top + cell_h * len(views) + 6
    parts = [
        f"<svg class='timeline' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='timeline: rounds across, results down'>",
        f"<text x='{LABEL_WIDTH}' y='14' font-size='11'>{_e(times[0])} UTC</text>",
        f"<text x='{LABEL_WIDTH + grid}' y='14' font-size='11' text-anchor='end'>{_e(times[-1])}</text>",
    ]
    for row, view in enumerate(views):
        y = top + row * cell_h
        label = view.label if len(view.label) <= 52 else view.label[:51] + "…"
        parts.append(f"<text x='2' y='{y + 11}' font-size='11'><title>{_e(view.label)}</title>{_e(label)}</text>")
        for col, letter in enumerate(view.timeline):
            column = columns[col]
            rounds = (
                f"round {column['first']}"
                if column["first"] == column["last"]
                else (f"rounds {column['first']}-{column['last']}")
            )
            codes = _codes_in(view.codes, int(column["first"]), int(column["last"]))
            tip = f"{view.label}, {rounds} ({times[col]} UTC): {NAMES.get(letter, letter)}{codes}"
            parts.append(
                f"<rect x='{LABEL_WIDTH + col * cell_w}' y='{y}' width='{cell_w - 1}' height='{cell_h - 2}' "
                f"fill='{COLOURS.get(letter, '#000')}' data-status='{_e(NAMES.get(letter, letter))}'>"
                f"<title>{_e(tip)}</title></rect>"
            )
    parts.append("</svg>")
    legend = " ".join(
        f"<span class='tag' style='background:{COLOURS[k]};color:{'#000' if k in 's.' else '#fff'}'>{NAMES[k]}</span>"
        for k in "pwfes"
    )
    return f"<div class='scroll'>{''.join(parts)}</div><p>{legend}</p>"


def _codes_in(codes: Mapping[str, Mapping[str, Any]], first: int, last: int) -> str:
    found = [code for code, seen in codes.items() if any(first <= int(n) <= last for n in seen.get("rounds") or ())]
    return f" ({', '.join(found)})" if found else ""


def latency_chart(watch: Mapping[str, Any]) -> str:
    """Mean latency per column for the TCP connects and TLS handshakes (the slowest first), a line each."""
    views = [
        v for v in watchview.series(watch) if v.check in ("tcp.connect", "tls.handshake") and v.latency.get("count")
    ]
    views.sort(key=lambda v: -float(v.latency.get("p90_ms") or 0))
    views = views[:MAX_LATENCY_LINES]
    columns = watch.get("columns") or []
    if not views or len(columns) < 1:
        return ""
    means = [[(c[0] / c[1]) if c[1] else None for c in v.latency_columns] for v in views]
    highest = max((m for line in means for m in line if m is not None), default=1.0) or 1.0
    width, height, left, bottom = 900, 220, 60, 24
    plot_w, plot_h = width - left - 10, height - bottom - 10
    step = plot_w / max(1, len(columns) - 1)
    parts = [
        f"<svg class='latency' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='latency per round'>",
        f"<line x1='{left}' y1='10' x2='{left}' y2='{10 + plot_h}' stroke='#8c959f'/>",
        f"<line x1='{left}' y1='{10 + plot_h}' x2='{left + plot_w}' y2='{10 + plot_h}' stroke='#8c959f'/>",
        f"<text x='{left - 4}' y='16' font-size='11' text-anchor='end'>{highest:.3g} ms</text>",
        f"<text x='{left - 4}' y='{10 + plot_h}' font-size='11' text-anchor='end'>0</text>",
    ]
    times = watchview.column_times(watch)
    parts.append(f"<text x='{left}' y='{height - 6}' font-size='11'>{_e(times[0])} UTC</text>")
    parts.append(f"<text x='{left + plot_w}' y='{height - 6}' font-size='11' text-anchor='end'>{_e(times[-1])}</text>")
    for number, line in enumerate(means):
        colour = LINE_COLOURS[number % len(LINE_COLOURS)]
        for segment in _segments(line):
            points = " ".join(
                f"{left + i * step:.1f},{10 + plot_h - (value / highest) * plot_h:.1f}" for i, value in segment
            )
            if len(segment) == 1:
                x, y = points.split(",")
                parts.append(f"<circle cx='{x}' cy='{y}' r='2' fill='{colour}'/>")
            else:
                parts.append(f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='1.5'/>")
    parts.append("</svg>")
    legend = "".join(
        f"<li><span style='color:{LINE_COLOURS[n % len(LINE_COLOURS)]}'>&#9632;</span> {_e(v.label)}: "
        f"{_e(watchview.latency_text(v))}</li>"
        for n, v in enumerate(views)
    )
    return f"<div class='scroll'>{''.join(parts)}</div><ul class='legend'>{legend}</ul>"


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The runs of columns with a value (a gap where a round measured nothing)."""
    out: list[list[tuple[int, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            if out[-1]:
                out.append([])
            continue
        out[-1].append((index, value))
    return [s for s in out if s]

"""Inline SVG charts rendered on the server: no JavaScript, no library, colours from the
stylesheet (classes), every label escaped."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

PALETTE = 8  # .c0 ... .c7 in app.css


def _empty() -> Markup:
    return Markup('<p class="muted chart-empty">No data yet.</p>')


def _num(value: float | Decimal) -> str:
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:,.2f}"


CHAR_W = 7.5  # width of one character of the 13px axis and value labels, in SVG units
LINE_H = 13.0
LABEL_MAX = 10  # a longer x label is cut with an ellipsis


def _short(label: str, limit: int = LABEL_MAX) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(
    items: Sequence[tuple[str, float | Decimal]],
    title: str,
    mono: bool = False,
    fmt: Callable[[Any], str] | None = None,
) -> Markup:
    """Vertical bars (e.g. VPS by country); `mono`: one colour for a time series; `fmt`
    formats the values (tooltips and labels). X labels never overlap: they stay level while
    they fit their slot, else they are cut, turned 45 degrees and thinned to every k-th
    (the last one always shown); values above the bars only when they fit their slot (the
    tooltip always has it)."""
    if not items:
        return _empty()
    fmt = fmt or _num
    n = len(items)
    names = [label or "Unknown" for label, _ in items]
    top = float(max(c for _, c in items))
    axis = [_num(round(top * frac)) for frac in (0, 0.5, 1)]
    pad_left = max(36.0, max(len(a) for a in axis) * CHAR_W + 10)
    width, height, pad_top = max(320, min(600, 70 * n + 60)), 240, 16
    slot = (width - pad_left - 8) / n
    bar = min(48.0, slot * 0.7)
    level = max(len(name) for name in names) * CHAR_W <= slot - 4
    if level:
        step, pad_bottom = 1, 28.0
        shown = names
    else:
        shown = [_short(name) for name in names]
        step = max(1, math.ceil((LINE_H * 1.5) / slot))
        pad_bottom = 16 + max(len(x) for x in shown) * CHAR_W * 0.71
    height = int(height + pad_bottom - 28)
    values = [fmt(c) for _, c in items]
    show_values = max(len(v) for v in values) * CHAR_W <= slot
    plot_h = height - pad_bottom - pad_top
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    for frac, text in zip((0, 0.5, 1), axis, strict=True):
        y = pad_top + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{pad_left:.0f}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{pad_left - 6:.0f}" y="{y + 4:.1f}" text-anchor="end">'
            f"{text}</text>"
        )
    base_y = height - pad_bottom
    for i, (_, count) in enumerate(items):
        h = plot_h * float(count) / top if top else 0
        x = pad_left + slot * i + (slot - bar) / 2
        y = pad_top + plot_h - h
        cx = x + bar / 2
        parts.append(
            f"<g><title>{escape(names[i])}: {escape(values[i])}</title>"
            f'<rect class="bar c{0 if mono else i % PALETTE}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{bar:.1f}" height="{h:.1f}" rx="3"/>'
        )
        if show_values:
            parts.append(
                f'<text class="value" x="{cx:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                f"{escape(values[i])}</text>"
            )
        if (n - 1 - i) % step == 0:
            label = escape(shown[i])
            if level:
                parts.append(
                    f'<text class="axis" x="{cx:.1f}" y="{height - 10}" text-anchor="middle">'
                    f"{label}</text>"
                )
            else:
                ly = base_y + 14
                parts.append(
                    f'<text class="axis" x="{cx:.1f}" y="{ly:.1f}" text-anchor="end" '
                    f'transform="rotate(-45 {cx:.1f} {ly:.1f})">{label}</text>'
                )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def hbar_chart(items: list[tuple[str, int]], title: str) -> Markup:
    """Horizontal bars (e.g. VPS by provider); height max(200, 36 x rows)."""
    if not items:
        return _empty()
    row: float
    width, label_w, row = 600, 150, 36
    height = max(200, row * len(items))
    top = max(c for _, c in items) or 1
    row = height / len(items)
    plot_w = width - label_w - 40
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height:.0f}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    for i, (label, count) in enumerate(items):
        y = i * row + row * 0.2
        h = row * 0.6
        w = plot_w * count / top
        name = escape(label or "Unknown")
        short = escape((label or "Unknown")[:20] + ("…" if len(label or "") > 20 else ""))
        parts.append(
            f"<g><title>{name}: {count}</title>"
            f'<text class="axis" x="{label_w - 8}" y="{y + h / 2 + 4:.1f}" text-anchor="end">'
            f"{short}</text>"
            f'<rect class="bar c{(i + 3) % PALETTE}" x="{label_w}" y="{y:.1f}" '
            f'width="{max(w, 2):.1f}" height="{h:.1f}" rx="3"/>'
            f'<text class="value" x="{label_w + max(w, 2) + 6:.1f}" y="{y + h / 2 + 4:.1f}">'
            f"{count}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


STATUS_CLASS = {
    "active": "s-active",
    "provisioning": "s-provisioning",
    "retiring": "s-retiring",
    "retired": "s-retired",
    "suspended": "s-suspended",
}


def pie_chart(items: list[tuple[str, int]], title: str) -> Markup:
    """A pie with `name: value` labels in a legend (e.g. VPS by status)."""
    items = [(label, count) for label, count in items if count > 0]
    if not items:
        return _empty()
    total = sum(c for _, c in items)
    size, r = 220, 100
    cx = cy = size / 2
    parts = [
        f'<div class="pie"><svg class="chart pie-svg" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    angle = -math.pi / 2
    for i, (label, count) in enumerate(items):
        cls = STATUS_CLASS.get(label, f"c{i % PALETTE}")
        name = escape(label or "Unknown")
        if count == total:
            parts.append(
                f"<g><title>{name}: {count}</title>"
                f'<circle class="slice {cls}" cx="{cx}" cy="{cy}" r="{r}"/></g>'
            )
            break
        sweep = 2 * math.pi * count / total
        x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
        angle += sweep
        x2, y2 = cx + r * math.cos(angle), cy + r * math.sin(angle)
        large = 1 if sweep > math.pi else 0
        parts.append(
            f'<g><title>{name}: {count}</title><path class="slice {cls}" '
            f'd="M{cx},{cy} L{x1:.2f},{y1:.2f} A{r},{r} 0 {large} 1 {x2:.2f},{y2:.2f} Z"/></g>'
        )
    parts.append('</svg><ul class="legend">')
    for i, (label, count) in enumerate(items):
        cls = STATUS_CLASS.get(label, f"c{i % PALETTE}")
        parts.append(
            f'<li><span class="swatch {cls}"></span>{escape(label or "Unknown")}: {count}</li>'
        )
    parts.append("</ul></div>")
    return Markup("".join(parts))


def line_chart(
    series: Sequence[tuple[str, Sequence[tuple[float, float | None]]]],
    title: str,
    unit: str = "",
    x_labels: Sequence[tuple[float, str]] = (),
) -> Markup:
    """Lines over time (e.g. latency per carrier): `series` are (name, [(x, y)]) with x a
    timestamp in seconds and y None for a gap (no answer in that bucket); `x_labels` are
    (x, text) ticks. A legend names each line; every point has a tooltip."""
    drawn = [(name, pts) for name, pts in series if any(y is not None for _, y in pts)]
    if not drawn:
        return _empty()
    xs = [x for _, pts in drawn for x, _ in pts]
    ys = [y for _, pts in drawn for _, y in pts if y is not None]
    x0, x1 = min(xs), max(xs)
    top = max(ys) or 1.0
    width, height, pad_left, pad_top, pad_bottom = 600, 220, 48.0, 12.0, 28.0
    plot_w, plot_h = width - pad_left - 8, height - pad_top - pad_bottom

    def px(x: float) -> float:
        return pad_left + (plot_w * (x - x0) / (x1 - x0) if x1 > x0 else plot_w / 2)

    def py(y: float) -> float:
        return pad_top + plot_h * (1 - y / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    for frac in (0, 0.5, 1):
        y = pad_top + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{pad_left:.0f}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{pad_left - 6:.0f}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_num(round(top * frac)))}{escape(unit)}</text>"
        )
    for x, text in x_labels:
        if x0 <= x <= x1:
            parts.append(
                f'<text class="axis" x="{px(x):.1f}" y="{height - 8}" text-anchor="middle">'
                f"{escape(text)}</text>"
            )
    for i, (name, pts) in enumerate(drawn):
        runs: list[list[tuple[float, float]]] = [[]]
        for at, value in pts:
            if value is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((px(at), py(value)))
        cls = f"c{i % PALETTE}"
        for run in runs:
            if len(run) > 1:
                d = " ".join(f"{a:.1f},{b:.1f}" for a, b in run)
                parts.append(f'<polyline class="line s{cls}" points="{d}"/>')
            elif run:
                a, b = run[0]
                parts.append(f'<circle class="dot {cls}" cx="{a:.1f}" cy="{b:.1f}" r="2.5"/>')
        last = [(x, y) for x, y in pts if y is not None][-1]
        parts.append(
            f"<g><title>{escape(name)}: {escape(_num(last[1]))}{escape(unit)} (latest)</title>"
            f'<circle class="dot {cls}" cx="{px(last[0]):.1f}" cy="{py(last[1]):.1f}" r="3"/></g>'
        )
    parts.append('</svg><ul class="legend">')
    for i, (name, _) in enumerate(drawn):
        parts.append(f'<li><span class="swatch c{i % PALETTE}"></span>{escape(name)}</li>')
    parts.append("</ul>")
    return Markup("".join(parts))


def per_source(
    history: Any,
    span: Any,
    title: str,
    value: str = "latency_avg",
    unit: str = " ms",
    tick_format: str = "%H:%M",
) -> Markup:
    """A line per probe source of a check history (one IP's or the fleet's): its ICMP series,
    else its first; ticks at the quarters of `span` (a timedelta) up to `history.until`."""
    by_source: dict[str, Any] = {}
    for s in history.series:
        if s.source not in by_source or s.check == "icmp":
            by_source[s.source] = s
    lines = [
        (
            f"{s.source} ({s.carrier})" if s.carrier else s.source,
            [(p.t.timestamp(), getattr(p, value)) for p in s.points],
        )
        for s in by_source.values()
    ]
    ticks = [
        (t.timestamp(), t.strftime(tick_format))
        for t in (history.until - span * k / 4 for k in range(4, -1, -1))
    ]
    return line_chart(lines, title, unit, ticks)

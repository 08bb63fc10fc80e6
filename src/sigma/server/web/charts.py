"""Inline SVG charts rendered on the server: no JavaScript, no library, colours from the
stylesheet (classes), every label escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = 8  # .c0 ... .c7 in app.css


def _empty() -> Markup:
    return Markup('<p class="muted chart-empty">No data yet.</p>')


def _num(value: float) -> str:
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:,.2f}"


def bar_chart(items: Sequence[tuple[str, float]], title: str, mono: bool = False) -> Markup:
    """Vertical bars (e.g. VPS by country); `mono`: one colour for a time series."""
    if not items:
        return _empty()
    n = len(items)
    width, height, pad_left, pad_bottom, pad_top = max(320, min(600, 70 * n + 60)), 240, 36, 28, 16
    top = max(c for _, c in items)
    slot = (width - pad_left - 8) / n
    bar = min(48.0, slot * 0.7)
    plot_h = height - pad_bottom - pad_top
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    for frac in (0, 0.5, 1):
        y = pad_top + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{pad_left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{pad_left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_num(round(top * frac))}</text>"
        )
    for i, (label, count) in enumerate(items):
        h = plot_h * count / top if top else 0
        x = pad_left + slot * i + (slot - bar) / 2
        y = pad_top + plot_h - h
        name = escape(label or "Unknown")
        parts.append(
            f"<g><title>{name}: {_num(count)}</title>"
            f'<rect class="bar c{0 if mono else i % PALETTE}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{bar:.1f}" height="{h:.1f}" rx="3"/>'
            f'<text class="value" x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
            f"{_num(count)}</text>"
            f'<text class="axis" x="{x + bar / 2:.1f}" y="{height - 10}" text-anchor="middle">'
            f"{name}</text></g>"
        )
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

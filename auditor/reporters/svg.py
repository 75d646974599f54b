"""Small inline SVG charts built with :func:`auditor.reporters.html.h` (so every label is escaped).

Colours come from CSS classes (``sev-high``, ``bar``...) defined in :data:`CHART_CSS`; the
charts carry a ``<title>`` and ``aria-label`` so they read without sight as well.
Attribute names are lower-case; the HTML parser restores ``viewBox`` for inline SVG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from auditor.model import Severity
from auditor.reporters.html import Child, Markup, h

SEVERITY_COLOURS = {
    "critical": "#991b1b", "high": "#c2410c", "medium": "#a16207", "low": "#1d4ed8", "info": "#4b5563",
}
CHART_CSS = "".join(
    f"svg .sev-{name} {{ fill: {colour}; }} " for name, colour in SEVERITY_COLOURS.items()
) + """
svg.chart { background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; }
svg .axis { stroke: #d1d5db; stroke-width: 1; }
svg .label { fill: #374151; font-size: 11px; font-family: system-ui, sans-serif; }
svg .value { fill: #111827; font-size: 11px; font-weight: 600; font-family: system-ui, sans-serif; }
svg .bar { fill: #6366f1; }
svg .spark { fill: none; stroke: #111827; stroke-width: 2; }
svg .spark-dot { fill: #111827; }
svg .new { fill: #dc2626; } svg .resolved { fill: #16a34a; } svg .unchanged { fill: #9ca3af; }
"""


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def stacked_severity_bars(
    columns: Sequence[tuple[str, Mapping[str, int]]], *, title: str, width: int = 560, height: int = 200
) -> Markup:
    """One bar per column (a run), stacked by severity, the total above it, the label below."""
    top, bottom, left, right = 20, 34, 8, 8
    plot_height = height - top - bottom
    peak = max((sum(counts.values()) for _, counts in columns), default=0) or 1
    slot = (width - left - right) / max(len(columns), 1)
    bar_width = min(40.0, slot * 0.7)
    shapes: list[Child] = [h("title", title)]
    shapes.append(h("line", x1=left, y1=top + plot_height, x2=width - right, y2=top + plot_height, class_="axis"))
    for index, (label, counts) in enumerate(columns):
        x = left + slot * index + (slot - bar_width) / 2
        y = float(top + plot_height)
        for severity in Severity:  # info at the bottom, critical on top
            count = counts.get(severity.value, 0)
            if not count:
                continue
            bar_height = plot_height * count / peak
            y -= bar_height
            shapes.append(
                h("rect", h("title", f"{label}: {count} {severity.value}"), x=_fmt(x), y=_fmt(y),
                  width=_fmt(bar_width), height=_fmt(bar_height), class_=f"sev-{severity.value}")
            )
        total = sum(counts.values())
        shapes.append(h("text", str(total), x=_fmt(x + bar_width / 2), y=_fmt(y - 4), text_anchor="middle",
                        class_="value"))
        shapes.append(h("text", label, x=_fmt(x + bar_width / 2), y=height - bottom + 16, text_anchor="middle",
                        class_="label"))
    return h("svg", shapes, viewbox=f"0 0 {width} {height}", width=width, height=height, role="img",
             aria_label=title, class_="chart")


def horizontal_bars(
    items: Sequence[tuple[str, int, str]], *, title: str, width: int = 420, row_height: int = 22
) -> Markup:
    """``(label, value, css class)`` rows: label on the left, bar and value to the right."""
    label_width, right = 170, 40
    height = row_height * max(len(items), 1) + 8
    peak = max((value for _, value, _ in items), default=0) or 1
    shapes: list[Child] = [h("title", title)]
    for index, (label, value, css_class) in enumerate(items):
        y = 4 + index * row_height
        bar = (width - label_width - right) * value / peak
        shapes.append(h("text", label, x=label_width - 8, y=_fmt(y + row_height * 0.68), text_anchor="end",
                        class_="label"))
        shapes.append(h("rect", h("title", f"{label}: {value}"), x=label_width, y=y + 3, width=_fmt(max(bar, 1)),
                        height=row_height - 6, class_=css_class))
        shapes.append(h("text", str(value), x=_fmt(label_width + max(bar, 1) + 4), y=_fmt(y + row_height * 0.68),
                        class_="value"))
    return h("svg", shapes, viewbox=f"0 0 {width} {height}", width=width, height=height, role="img",
             aria_label=title, class_="chart")


def sparkline(values: Sequence[int], *, title: str, width: int = 160, height: int = 40) -> Markup:
    """A line through the values (oldest first), the last point marked."""
    pad = 4
    peak = max(values, default=0) or 1
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [
        (pad + step * index, height - pad - (height - 2 * pad) * value / peak) for index, value in enumerate(values)
    ]
    shapes: list[Child] = [h("title", title)]
    if len(points) > 1:
        shapes.append(h("polyline", points=" ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in points), class_="spark"))
    if points:
        last_x, last_y = points[-1]
        shapes.append(h("circle", cx=_fmt(last_x), cy=_fmt(last_y), r=3, class_="spark-dot"))
    return h("svg", shapes, viewbox=f"0 0 {width} {height}", width=width, height=height, role="img",
             aria_label=title, class_="spark-chart")

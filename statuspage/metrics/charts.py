"""Server-rendered graphs of metric series: no JavaScript, no external assets, readable in any
browser, small enough to inline into the published page.

A graph is an SVG plot (the line, grid lines, the thresholds) framed by HTML axis labels: the
labels are text of the page, so they keep their size on a phone instead of shrinking with
the drawing. The y axis runs from 0 (or the lowest value) to a round number above the highest
value, in the metric's unit; a metric whose values are all whole numbers (a count: runs,
requests) is labelled in whole numbers. A threshold far above the values does not flatten the
line: it is left off the scale and named under the graph. The graph says no "now" value of its
own: the caption beside it gives the one latest value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape


@dataclass(frozen=True)
class Bucket:
    """One slice of a graphed series."""

    start: datetime
    value: float | None  # the highest (or, for "below" metrics, lowest) value in the bucket


# A threshold is drawn on the scale when it is at most this many times the highest value;
# further up it would squash the line into the bottom of the graph.
THRESHOLD_SCALE_LIMIT = 1.5


def is_count(values: list[float]) -> bool:
    """Whole numbers only (runs, requests, …): labelled without decimals."""
    return all(float(v).is_integer() for v in values)


def format_value(value: float, *, integral: bool, unit: str = "") -> str:
    """A value as the page shows it: whole numbers for counts, else at most two decimals
    (trailing zeros dropped)."""
    if integral:
        text = f"{round(value)}"
    else:
        text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text}{unit}"


def _nice_ceiling(value: float) -> float:
    """The round number at or above `value` an axis ends on (1, 2, 2.5, 5 × 10ⁿ)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value - 1e-12:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _time_label(at: datetime, span: timedelta) -> str:
    return f"{at:%-d %b}" if span > timedelta(hours=48) else f"{at:%H:%M}"


def series_svg(
    buckets: list[Bucket],
    *,
    title: str,
    unit: str = "",
    width: int = 600,
    height: int = 140,
    warning: float | None = None,
    critical: float | None = None,
) -> str:
    """A line graph of the buckets with its axes, the thresholds as dashed lines and an
    accessible title and summary (HTML; every text is escaped)."""
    known = [b.value for b in buckets if b.value is not None]
    if not known:
        body = (
            f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
            f'class="chart-empty">No data</text>'
        )
        return _frame(
            _svg(body, title=title, label=f"{title}: no data", width=width, height=height)
        )
    integral = is_count(known)
    data_top = max(known)
    thresholds = [
        (n, v) for n, v in (("warning", warning), ("critical", critical)) if v is not None
    ]
    on_scale = [
        (n, v) for n, v in thresholds if v <= max(data_top, 0) * THRESHOLD_SCALE_LIMIT or v <= 0
    ]
    off_scale = [(n, v) for n, v in thresholds if (n, v) not in on_scale]
    bottom = min(0.0, *known, *(v for _, v in on_scale))
    top = _nice_ceiling(max([data_top, *(v for _, v in on_scale)]) - bottom) + bottom
    if integral and top - bottom < 2:
        top = bottom + 2
    pad = 6
    plot_h = height - 2 * pad
    scale = plot_h / ((top - bottom) or 1.0)
    step = width / max(len(buckets) - 1, 1)

    def y(value: float) -> float:
        return pad + plot_h - (value - bottom) * scale

    middle = (top + bottom) / 2
    parts = [
        f'<line class="chart-grid" x1="0" x2="{width}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
        for v in (top, middle, bottom)
    ]
    paths, current = [], []
    for i, bucket in enumerate(buckets):
        if bucket.value is None:
            if current:
                paths.append(current)
            current = []
            continue
        current.append(f"{i * step:.1f},{y(bucket.value):.1f}")
    if current:
        paths.append(current)
    parts.extend(
        f'<polyline class="chart-line" fill="none" points="{" ".join(p)}"/>' for p in paths
    )
    for name, value in on_scale:
        parts.append(
            f'<line class="chart-{name}" x1="0" x2="{width}" y1="{y(value):.1f}" '
            f'y2="{y(value):.1f}" stroke-dasharray="6 4"/>'
        )
    for name, _value in off_scale:
        # Above the scale: a short dashed mark on the top edge says it is there.
        parts.append(
            f'<line class="chart-{name}" x1="{width - 60}" x2="{width}" y1="1" y2="1" '
            f'stroke-dasharray="6 4"/>'
        )
    fmt = lambda v: format_value(v, integral=integral, unit=unit)  # noqa: E731
    label = (
        f"{title}: from {fmt(min(known))} to {fmt(data_top)}, latest {fmt(known[-1])}"
        + "".join(f"; {name} threshold {fmt(value)}" for name, value in thresholds)
    )
    svg = _svg("".join(parts), title=title, label=label, width=width, height=height)
    start = buckets[0].start
    span = (
        buckets[-1].start - start + (buckets[1].start - start if len(buckets) > 1 else timedelta())
    )
    y_axis = "".join(f"<span>{escape(fmt(v))}</span>" for v in (top, middle, bottom))
    x_axis = (
        f"<span>{_time_label(start, span)}</span>"
        f"<span>{_time_label(start + span / 2, span)}</span>"
        f"<span>{_time_label(start + span, span)} UTC</span>"
    )
    note = ""
    if off_scale:
        note = (
            '<p class="chart-note">'
            + "; ".join(
                f"{name.capitalize()} threshold {escape(fmt(value))}: above the scale"
                for name, value in off_scale
            )
            + "</p>"
        )
    return _frame(svg, y_axis=y_axis, x_axis=x_axis) + note


def _frame(svg: str, *, y_axis: str = "", x_axis: str = "") -> str:
    return (
        '<div class="chart-box">'
        f'<div class="chart-y" aria-hidden="true">{y_axis}</div>{svg}'
        f'<div class="chart-x" aria-hidden="true">{x_axis}</div></div>'
    )


def _svg(body: str, *, title: str, label: str, width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )

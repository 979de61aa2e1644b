"""Server-rendered SVG graphs of metric series: no JavaScript, no external assets, readable in
any browser, small enough to inline into the published page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape


@dataclass(frozen=True)
class Bucket:
    """One slice of a graphed series."""

    start: datetime
    value: float | None  # the highest (or, for "below" metrics, lowest) value in the bucket


def series_svg(
    buckets: list[Bucket],
    *,
    title: str,
    unit: str = "",
    width: int = 600,
    height: int = 120,
    warning: float | None = None,
    critical: float | None = None,
) -> str:
    """A line graph of the buckets, with the thresholds as dashed lines and an accessible title."""
    known = [b.value for b in buckets if b.value is not None]
    pad_top, pad_bottom = 8, 18
    plot_h = height - pad_top - pad_bottom
    if not known:
        body = (
            f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
            f'class="chart-empty">No data</text>'
        )
        return _svg(body, title=title, width=width, height=height)
    lines = [v for v in (warning, critical) if v is not None]
    top = max([*known, *lines]) or 1.0
    bottom = min(0.0, *known)
    scale = plot_h / ((top - bottom) or 1.0)
    step = width / max(len(buckets) - 1, 1)

    def y(value: float) -> float:
        return pad_top + plot_h - (value - bottom) * scale

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
    parts = [f'<polyline class="chart-line" fill="none" points="{" ".join(p)}"/>' for p in paths]
    for name, value in (("warning", warning), ("critical", critical)):
        if value is not None:
            parts.append(
                f'<line class="chart-{name}" x1="0" x2="{width}" y1="{y(value):.1f}" '
                f'y2="{y(value):.1f}" stroke-dasharray="4 3"/>'
            )
    last = known[-1]
    parts.append(
        f'<text x="{width - 4}" y="{height - 4}" text-anchor="end" class="chart-label">'
        f"now {last:g}{escape(unit)} · max {max(known):g}{escape(unit)}</text>"
    )
    return _svg("".join(parts), title=title, width=width, height=height)


def _svg(body: str, *, title: str, width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )

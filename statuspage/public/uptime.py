"""Uptime, computed from the component status history (never stored).

## The formula

For each component and each UTC day, the *observed time* runs from the later of midnight UTC
and the moment the component started being tracked, to the earlier of the next midnight and
now. Within it:

- `major_outage` counts as fully down;
- `partial_outage` counts as 30 % down (`PARTIAL_OUTAGE_WEIGHT`): some requests or some runs
  fail, most do not;
- `degraded_performance` and `under_maintenance` count as up (slow is not down, and
  maintenance is announced in advance);
- `operational` is up.

uptime = 1 − downtime / observed time. A day with no observed time (before the component
existed, or after now) has no data and is left out. Aggregates (a service over its regions, a
region over its services, a component over 90 days) add up observed time and downtime before
dividing, so they weigh each component-day by how long it was observed.

A component starts being tracked at the earliest of its creation, its `start_date` (midnight
UTC) and its first recorded status change (history imported for a component created later).

Durations are integer microseconds (exact `timedelta` arithmetic) and ratios are `Decimal`,
so nothing drifts through float sums. Percentages are rounded *down* (99.9996 % shows as
99.999 %, never as 100 %).

## Cost

`component_uptime` makes two queries whatever the number of components and days: the status
changes from the start of the window onwards, and each component's first change. The status
at the start of the window is the `old_status` of the first change inside it (or the current
status when nothing changed), so no query per component or per day is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from statuspage.models import Component, ComponentStatus, ComponentStatusChange
from statuspage.status import worse_status

DAYS = 90
PARTIAL_OUTAGE_WEIGHT = Decimal("0.3")
FORMULA = gettext_noop(
    # xgettext:no-python-format
    "Uptime = 1 − downtime ÷ observed time, per UTC day. A major outage counts as fully "
    "down, a partial outage as 30% down; degraded performance and maintenance count as up. "
    "Days before a component existed have no data. Service and region figures add up the "
    "observed time and downtime of their components."
)

_MICRO = timedelta(microseconds=1)


def _us(delta: timedelta) -> int:
    """A duration in whole microseconds (exact)."""
    return delta // _MICRO


def _percent(ratio: Decimal | None, places: int) -> str | None:
    if ratio is None:
        return None
    return str((ratio * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN))


@dataclass
class DayUptime:
    """One UTC day of one component (or the sum of several)."""

    day: date
    observed_us: int = 0
    major_us: int = 0
    partial_us: int = 0
    worst: str | None = None  # worst status seen while observed; None = no data

    @property
    def has_data(self) -> bool:
        return self.observed_us > 0

    @property
    def downtime_us(self) -> Decimal:
        return Decimal(self.major_us) + Decimal(self.partial_us) * PARTIAL_OUTAGE_WEIGHT

    @property
    def uptime(self) -> Decimal | None:
        if not self.observed_us:
            return None
        return 1 - self.downtime_us / Decimal(self.observed_us)

    @property
    def percent(self) -> str | None:
        """Daily uptime with 2 decimals, e.g. "99.58"; None when there is no data."""
        return _percent(self.uptime, 2)

    def add(self, other: DayUptime) -> None:
        self.observed_us += other.observed_us
        self.major_us += other.major_us
        self.partial_us += other.partial_us
        self.worst = worse_status(self.worst, other.worst)


@dataclass
class UptimeSeries:
    """Consecutive days (oldest first) and their total."""

    days: list[DayUptime] = field(default_factory=list)

    @property
    def observed_us(self) -> int:
        return sum(d.observed_us for d in self.days)

    @property
    def downtime_us(self) -> Decimal:
        return sum((d.downtime_us for d in self.days), Decimal(0))

    @property
    def uptime(self) -> Decimal | None:
        observed = self.observed_us
        if not observed:
            return None
        return 1 - self.downtime_us / Decimal(observed)

    @property
    def percent(self) -> str | None:
        """Uptime over the whole series with 3 decimals, e.g. "99.874"."""
        return _percent(self.uptime, 3)


def series_sum(series: Iterable[UptimeSeries]) -> UptimeSeries:
    """Add series day by day (weighting each by its observed time)."""
    series = list(series)
    if not series:
        return UptimeSeries()
    total = UptimeSeries(days=[DayUptime(day=d.day) for d in series[0].days])
    for one in series:
        for mine, theirs in zip(total.days, one.days, strict=True):
            mine.add(theirs)
    return total


def window_days(*, now: datetime, days: int = DAYS) -> list[date]:
    """The `days` UTC dates ending today, oldest first."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=i) for i in range(days - 1, -1, -1)]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _tracked_since(component: Component, first_change: datetime | None) -> datetime:
    start = component.created_at
    if component.start_date is not None:
        start = min(start, _midnight(component.start_date))
    if first_change is not None:
        start = min(start, first_change)
    return start


def _component_series(
    *,
    days: Sequence[date],
    now: datetime,
    tracked_since: datetime,
    initial: str,
    changes: Sequence[tuple[datetime, str]],
) -> UptimeSeries:
    """Integrate one component's status timeline over each day.

    `initial` is the status at the start of the window; `changes` are (time, new status)
    in time order, possibly beyond now (ignored from now on).
    """
    window_start = _midnight(days[0])
    # Segments [start, end) with a status, from the window start to now.
    segments: list[tuple[datetime, datetime, str]] = []
    current_start, current = window_start, initial
    for at, status in changes:
        if at >= now:
            break
        at = max(at, window_start)
        if at > current_start:
            segments.append((current_start, at, current))
        current_start, current = at, status
    if now > current_start:
        segments.append((current_start, now, current))

    result = UptimeSeries()
    index = 0
    for day in days:
        entry = DayUptime(day=day)
        day_start = max(_midnight(day), tracked_since)
        day_end = min(_midnight(day + timedelta(days=1)), now)
        if day_end > day_start:
            while index < len(segments) and segments[index][1] <= day_start:
                index += 1
            j = index
            while j < len(segments) and segments[j][0] < day_end:
                seg_start, seg_end, status = segments[j]
                overlap = _us(min(seg_end, day_end) - max(seg_start, day_start))
                if overlap > 0:
                    entry.observed_us += overlap
                    entry.worst = worse_status(entry.worst, status)
                    if status == ComponentStatus.MAJOR_OUTAGE:
                        entry.major_us += overlap
                    elif status == ComponentStatus.PARTIAL_OUTAGE:
                        entry.partial_us += overlap
                j += 1
        result.days.append(entry)
    return result


def component_uptime(
    *, components: Sequence[Component], now: datetime | None = None, days: int = DAYS
) -> dict[int, UptimeSeries]:
    """Daily uptime of each component over the `days` UTC days ending today, keyed by pk.

    Two queries in all (see the module docstring), whatever the number of components.
    """
    now = now or timezone.now()
    dates = window_days(now=now, days=days)
    window_start = _midnight(dates[0])
    ids = [c.pk for c in components]
    timelines: dict[int, list[tuple[datetime, str, str]]] = {pk: [] for pk in ids}
    rows = (
        ComponentStatusChange.objects.filter(component_id__in=ids, created_at__gte=window_start)
        .order_by("component_id", "created_at", "id")
        .values_list("component_id", "created_at", "old_status", "new_status")
    )
    for component_id, at, old, new in rows:
        timelines[component_id].append((at, old, new))
    first_changes = dict(
        ComponentStatusChange.objects.filter(component_id__in=ids)
        .values("component_id")
        .annotate(first=Min("created_at"))
        .values_list("component_id", "first")
    )
    result: dict[int, UptimeSeries] = {}
    for component in components:
        timeline = timelines[component.pk]
        initial = timeline[0][1] if timeline else component.status
        result[component.pk] = _component_series(
            days=dates,
            now=now,
            tracked_since=_tracked_since(component, first_changes.get(component.pk)),
            initial=initial,
            changes=[(at, new) for at, _old, new in timeline],
        )
    return result


def format_duration(microseconds: int | Decimal) -> str:
    """A short human duration: "3h 12m", "45m", "under 1m"."""
    minutes = int(Decimal(microseconds) / Decimal(60_000_000))
    if minutes < 1:
        return gettext("under 1m")
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return gettext("%(hours)dh %(minutes)dm") % {"hours": hours, "minutes": minutes}
    if hours:
        return gettext("%(hours)dh") % {"hours": hours}
    return gettext("%(minutes)dm") % {"minutes": minutes}

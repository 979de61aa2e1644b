"""Uptime arithmetic from the status history (statuspage.public.uptime).

The history is written through the real service functions with `at`/`display_at` times, and
uptime is evaluated at a chosen `now` (days after the components were created), so "a
component created 10 days ago" needs no row edited by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from incidents.services import incident_declare, incident_post_update, incident_resolve
from statuspage.public.uptime import (
    DAYS,
    DayUptime,
    UptimeSeries,
    component_uptime,
    format_duration,
    series_sum,
)
from statuspage.services import component_set_status

HOUR = 3600 * 10**6  # microseconds


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_of(series: UptimeSeries, day: date) -> DayUptime:
    return next(d for d in series.days if d.day == day)


@pytest.fixture
def day0(catalogue) -> date:
    """The day the catalogue's components were created (today, in real time)."""
    return catalogue["api_global"].created_at.date()


def test_change_exactly_at_midnight_belongs_to_the_new_day(catalogue, actor, day0):
    api = catalogue["api_global"]
    day2 = day0 + timedelta(days=2)
    component_set_status(
        component=api, status="major_outage", actor=actor, at=midnight(day2) - timedelta(hours=2)
    )
    component_set_status(component=api, status="operational", actor=actor, at=midnight(day2))
    component_set_status(
        component=api,
        status="partial_outage",
        actor=actor,
        at=midnight(day2 + timedelta(days=1)),
    )
    now = midnight(day2 + timedelta(days=1)) + timedelta(hours=12)

    series = component_uptime(components=[api], now=now)[api.pk]

    assert len(series.days) == DAYS
    before = day_of(series, day2 - timedelta(days=1))
    assert before.observed_us == 24 * HOUR
    assert before.major_us == 2 * HOUR
    assert before.worst == "major_outage"
    assert before.percent == "91.66"  # 22/24 = 91.666…, rounded down
    at_midnight = day_of(series, day2)
    assert at_midnight.observed_us == 24 * HOUR
    assert at_midnight.major_us == 0 and at_midnight.partial_us == 0
    assert at_midnight.worst == "operational"  # the outage ended exactly at its midnight
    assert at_midnight.percent == "100.00"
    today = series.days[-1]
    assert today.day == day2 + timedelta(days=1)
    assert today.observed_us == 12 * HOUR  # partially observed: midnight to now
    assert today.partial_us == 12 * HOUR
    assert today.uptime == Decimal("0.7")  # partial outage counts 30 % down


def test_component_created_ten_days_ago_has_no_data_before(catalogue, actor, day0):
    api = catalogue["api_global"]
    created = api.created_at
    now = created + timedelta(days=10)
    partial_day = day0 + timedelta(days=3)
    component_set_status(
        component=api,
        status="partial_outage",
        actor=actor,
        at=midnight(partial_day) + timedelta(hours=6),
    )
    component_set_status(
        component=api,
        status="operational",
        actor=actor,
        at=midnight(partial_day) + timedelta(hours=11),
    )

    series = component_uptime(components=[api], now=now)[api.pk]

    with_data = [d for d in series.days if d.has_data]
    assert [d.day for d in with_data] == [day0 + timedelta(days=i) for i in range(11)]
    assert all(d.percent is None and d.worst is None for d in series.days[: DAYS - 11])
    first = with_data[0]
    assert first.observed_us == (midnight(day0 + timedelta(days=1)) - created) // timedelta(
        microseconds=1
    )
    assert series.observed_us == 10 * 24 * HOUR  # exactly the ten days since creation
    assert day_of(series, partial_day).percent == "93.75"  # 1 - 0.3*5/24
    # 1 - 1.5 h / 240 h = 0.99375
    assert series.uptime == Decimal(1) - Decimal(15 * HOUR // 10) / Decimal(240 * HOUR)
    assert series.percent == "99.375"


def test_overlapping_incidents_and_aggregates_weighted_by_observed_time(catalogue, actor, day0):
    runs_us, runs_eu = catalogue["runs_us"], catalogue["runs_eu"]
    day = day0 + timedelta(days=2)
    t = midnight(day)
    a = incident_declare(
        name="A: us-east-1 down",
        body="down",
        actor=actor,
        impact="critical",
        component_statuses={runs_us: "major_outage"},
        display_at=t + timedelta(hours=1),
    )
    b = incident_declare(
        name="B: both regions",
        body="also",
        actor=actor,
        impact="major",
        component_statuses={runs_us: "partial_outage", runs_eu: "major_outage"},
        display_at=t + timedelta(hours=2),
    )
    incident_resolve(incident=a, actor=actor, display_at=t + timedelta(hours=3))
    incident_post_update(
        incident=b,
        status="resolved",
        body="fixed",
        actor=actor,
        display_at=t + timedelta(hours=5),
    )
    now = t + timedelta(days=1, hours=1)

    series = component_uptime(components=[runs_us, runs_eu], now=now)
    us_day = day_of(series[runs_us.pk], day)
    eu_day = day_of(series[runs_eu.pk], day)
    assert (us_day.major_us, us_day.partial_us) == (1 * HOUR, 1 * HOUR)
    assert (eu_day.major_us, eu_day.partial_us) == (3 * HOUR, 0)
    assert us_day.percent == "94.58"  # 1 - 1.3/24
    assert eu_day.percent == "87.50"  # 1 - 3/24

    service = series_sum([series[runs_us.pk], series[runs_eu.pk]])
    service_day = day_of(service, day)
    assert service_day.observed_us == 48 * HOUR
    assert service_day.downtime_us == Decimal(43 * HOUR) / 10
    assert service_day.percent == "91.04"  # 1 - 4.3/48 = 0.910416…
    assert service_day.worst == "major_outage"
    # Aggregates divide summed downtime by summed observed time, not average percentages.
    assert service.uptime == 1 - (
        (series[runs_us.pk].downtime_us + series[runs_eu.pk].downtime_us)
        / (series[runs_us.pk].observed_us + series[runs_eu.pk].observed_us)
    )


def test_today_partially_observed_and_ongoing_outage_counts_up_to_now(catalogue, actor, day0):
    api = catalogue["api_global"]
    day = day0 + timedelta(days=5)
    component_set_status(
        component=api,
        status="major_outage",
        actor=actor,
        at=midnight(day) + timedelta(hours=3),
    )
    now = midnight(day) + timedelta(hours=6)

    today = component_uptime(components=[api], now=now)[api.pk].days[-1]

    assert today.day == day
    assert today.observed_us == 6 * HOUR
    assert today.major_us == 3 * HOUR
    assert today.percent == "50.00"


def test_degraded_and_maintenance_count_as_up_but_colour_the_day(catalogue, actor, day0):
    api = catalogue["api_global"]
    day = day0 + timedelta(days=2)
    component_set_status(
        component=api, status="degraded_performance", actor=actor, at=midnight(day)
    )
    component_set_status(
        component=api,
        status="under_maintenance",
        actor=actor,
        at=midnight(day) + timedelta(hours=4),
    )
    component_set_status(
        component=api, status="operational", actor=actor, at=midnight(day) + timedelta(hours=8)
    )
    series = component_uptime(components=[api], now=midnight(day) + timedelta(days=1))[api.pk]
    entry = day_of(series, day)
    assert entry.percent == "100.00"
    assert entry.worst == "degraded_performance"


def test_status_before_the_window_comes_from_the_first_change_in_it(catalogue, actor, day0):
    """A component in major outage since before the 90-day window is down on its first days."""
    api = catalogue["api_global"]
    component_set_status(component=api, status="major_outage", actor=actor, at=api.created_at)
    recovery = midnight(day0 + timedelta(days=DAYS + 5)) + timedelta(hours=6)
    component_set_status(component=api, status="operational", actor=actor, at=recovery)
    now = recovery + timedelta(hours=18)

    series = component_uptime(components=[api], now=now)[api.pk]

    assert series.days[0].percent == "0.00"
    assert series.days[0].observed_us == 24 * HOUR
    assert day_of(series, recovery.date()).percent == "75.00"  # 6 h down of 24
    # now is exactly midnight: today has not been observed yet.
    assert series.days[-1].day == now.date() and series.days[-1].percent is None


def test_bounded_number_of_queries(catalogue, actor, django_assert_num_queries):
    for component in (catalogue["runs_us"], catalogue["runs_eu"], catalogue["api_global"]):
        component_set_status(component=component, status="partial_outage", actor=actor)
    components = [catalogue["runs_us"], catalogue["runs_eu"], catalogue["api_global"]]
    with django_assert_num_queries(2):
        result = component_uptime(components=components)
    assert set(result) == {c.pk for c in components}


def test_percentages_round_down_and_durations_read_well():
    day = date(2026, 6, 22)
    almost = DayUptime(day=day, observed_us=10**9, major_us=4)  # 99.9999996 %
    assert almost.percent == "99.99"
    assert UptimeSeries(days=[almost]).percent == "99.999"
    assert DayUptime(day=day).percent is None
    assert format_duration(3 * HOUR + 12 * 60 * 10**6) == "3h 12m"
    assert format_duration(45 * 60 * 10**6) == "45m"
    assert format_duration(10**6) == "under 1m"

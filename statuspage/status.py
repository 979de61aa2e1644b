"""The severity of component statuses and the one rule for the page's overall status.

Both are plain functions over plain values, so every reader applies the same rule to what it
already loaded: the snapshot (page banner, /api/v2), the v1 API and the notifier, which stamps
each event with the status of the page at the moment of the event. The database read that
feeds the rule is `incidents.selectors.page_status`.

## Severity of component statuses

Best first: operational < under_maintenance < degraded_performance < partial_outage <
major_outage. `worst_status` picks the most severe (the colour of a day's uptime bar, the
status of a component group).

## The overall status rule

The indicator is the most severe of:
- the worst component status: `major_outage` → critical, `partial_outage` → major,
  `degraded_performance` → minor, `under_maintenance` → maintenance, otherwise none;
- the impact of every open incident (investigating, identified, monitoring):
  critical, major, minor (none adds nothing);
- `maintenance` while a maintenance is in progress or verifying.

Severity order: none < maintenance < minor < major < critical. So an outage during a
maintenance window shows as the outage, and an open incident whose components are all
operational again (monitoring) still shows its impact until it is resolved.

Descriptions: none "All Systems Operational", maintenance "Service Under Maintenance",
minor "Minor Service Outage" ("Partially Degraded Service" when only degraded performance is
the cause), major "Partial System Outage", critical "Major System Outage".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce

from statuspage.models import ComponentStatus

# Component statuses, best first.
STATUS_SEVERITY = [
    ComponentStatus.OPERATIONAL,
    ComponentStatus.UNDER_MAINTENANCE,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.MAJOR_OUTAGE,
]

# Overall indicators, best first.
INDICATOR_SEVERITY = ["none", "maintenance", "minor", "major", "critical"]

COMPONENT_INDICATOR = {
    ComponentStatus.OPERATIONAL: "none",
    ComponentStatus.UNDER_MAINTENANCE: "maintenance",
    ComponentStatus.DEGRADED_PERFORMANCE: "minor",
    ComponentStatus.PARTIAL_OUTAGE: "major",
    ComponentStatus.MAJOR_OUTAGE: "critical",
}

DESCRIPTIONS = {
    "none": "All Systems Operational",
    "maintenance": "Service Under Maintenance",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
DEGRADED_DESCRIPTION = "Partially Degraded Service"


_STATUS_RANK = {status: rank for rank, status in enumerate(STATUS_SEVERITY)}


def worse_status(a: str | None, b: str | None) -> str | None:
    """The more severe of two statuses; None (no status) loses to any status. Pairwise and
    cheap: uptime calls it for every component, day and change of the 90-day window."""
    if a is None:
        return b
    if b is None or _STATUS_RANK[a] >= _STATUS_RANK[b]:
        return a
    return b


def worst_status(statuses: Iterable[str | None]) -> str | None:
    """The most severe of `statuses` (None entries are ignored); None when there is none."""
    return reduce(worse_status, statuses, None)


@dataclass(frozen=True)
class OverallStatus:
    indicator: str
    description: str


def _worst_indicator(indicators: Iterable[str]) -> str:
    return max(indicators, key=INDICATOR_SEVERITY.index, default="none")


def overall_status(
    *,
    component_statuses: Iterable[str],
    open_incident_impacts: Iterable[str],
    maintenance_in_progress: bool,
) -> OverallStatus:
    """Apply the overall status rule (see the module docstring) to plain values."""
    from_components = _worst_indicator(COMPONENT_INDICATOR[s] for s in component_statuses)
    from_incidents = _worst_indicator(i for i in open_incident_impacts if i in INDICATOR_SEVERITY)
    candidates = [from_components, from_incidents]
    if maintenance_in_progress:
        candidates.append("maintenance")
    indicator = _worst_indicator(candidates)
    description = DESCRIPTIONS[indicator]
    if indicator == "minor" and from_components == "minor" and from_incidents != "minor":
        description = DEGRADED_DESCRIPTION
    return OverallStatus(indicator=indicator, description=description)

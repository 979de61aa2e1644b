"""The severity of component statuses and the one rule for the page's status language.

Both are plain functions over plain values, so every reader applies the same rule to what it
already loaded: the snapshot (page banner, incident badges, /api/v2), the v1 API, the console
and the notifier, which stamps each event with the status of the page at the moment of the
event. The database read that feeds the rule is `incidents.selectors.page_status`.

## Severity of component statuses

Best first: operational < under_maintenance < degraded_performance < partial_outage <
major_outage. `worst_status` picks the most severe (the colour of a day's uptime bar, the
status of a component group).

## One level, one word, one colour

Every status the page shows is one of five levels, and each level has one word and one colour
wherever it appears (the banner, an incident's impact badge, a cell of the matrix, a day bar):

| level (indicator) | component status     | incident impact | word on the page      | colour |
| ----------------- | -------------------- | --------------- | --------------------- | ------ |
| none              | operational          | none            | Operational/No impact | green  |
| maintenance       | under_maintenance    | (maintenance)   | Under maintenance     | blue   |
| minor             | degraded_performance | minor           | Degraded performance  | amber  |
| major             | partial_outage       | major           | Partial outage        | orange |
| critical          | major_outage         | critical        | Major outage          | red    |

So an incident of "critical" impact wears a red "Major outage" badge, like the matrix cell of a
component in major outage, and the banner above them is red too.

## The overall status rule

The indicator is the most severe of:
- the worst component status (the table above);
- the impact of every open incident (investigating, identified, monitoring): critical, major,
  minor (none adds nothing);
- `maintenance` while a maintenance is in progress or verifying.

Severity order: none < maintenance < minor < major < critical. So an outage during a
maintenance window shows as the outage, and an open incident whose components are all
operational again (monitoring) still shows its impact until it is resolved. A visitor checks it
by eye: the banner is never better than any cell of the matrix or any open incident's badge,
and is as bad as the worst of them.

Descriptions (the banner's headline, and `status.description` in /api/v2 as status-page
consumers expect): none "All Systems Operational", maintenance "Service Under Maintenance",
minor "Partially Degraded Service" when a component is in degraded performance, else (an open
incident of minor impact alone) "Minor Service Outage", major "Partial System Outage",
critical "Major System Outage". Under the headline the page says in a sentence what causes it
(`status_sentence`): which components are in which state, and whether an open incident keeps
the level up; never a raw indicator.

## An incident's impact

When the commander does not choose one, an incident takes the impact of the worst component
status it sets (`impact_for_component_statuses`): major outage → critical, partial outage →
major, degraded performance → minor; minor when it sets no outage or degradation at all
(something is wrong, no component says what). The console, the admin and the v1 API apply it;
the commander can override it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce

from django.utils.translation import get_language, gettext, gettext_noop, ngettext

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

# The words below are English, as /api/v2 and the v1 API carry them (status-page consumers
# expect `status.description` in English); they are marked (gettext_noop) so that the
# catalogues have them, and a page or message translates them when it shows them
# (`{% translate overall.description %}`, `gettext(word)`).
DESCRIPTIONS = {
    "none": gettext_noop("All Systems Operational"),
    "maintenance": gettext_noop("Service Under Maintenance"),
    "minor": gettext_noop("Minor Service Outage"),
    "major": gettext_noop("Partial System Outage"),
    "critical": gettext_noop("Major System Outage"),
}
DEGRADED_DESCRIPTION = gettext_noop("Partially Degraded Service")

# The word of each level on the page (see the table in the module docstring).
LEVEL_WORDS = {
    "none": gettext_noop("Operational"),
    "maintenance": gettext_noop("Under maintenance"),
    "minor": gettext_noop("Degraded performance"),
    "major": gettext_noop("Partial outage"),
    "critical": gettext_noop("Major outage"),
}
# An incident's impact badge: the word of its level ("none" says so plainly).
IMPACT_WORDS = {
    **LEVEL_WORDS,
    "none": gettext_noop("No impact"),
    "maintenance": gettext_noop("Maintenance"),
}

# The impact an incident takes from the worst component status it sets.
STATUS_IMPACT = {
    ComponentStatus.MAJOR_OUTAGE: "critical",
    ComponentStatus.PARTIAL_OUTAGE: "major",
    ComponentStatus.DEGRADED_PERFORMANCE: "minor",
}
DEFAULT_IMPACT = "minor"


# How a sentence says components are in each status ({names}: one or a list of names), in
# the language active when it is built.
def _status_phrase(status: str, names: list[str]) -> str:
    count = len(names)
    joined = _names(names)
    if status == ComponentStatus.UNDER_MAINTENANCE:
        text = ngettext(
            "%(names)s is under maintenance.", "%(names)s are under maintenance.", count
        )
    elif status == ComponentStatus.DEGRADED_PERFORMANCE:
        text = ngettext(
            "%(names)s has degraded performance.", "%(names)s have degraded performance.", count
        )
    elif status == ComponentStatus.PARTIAL_OUTAGE:
        text = ngettext(
            "%(names)s has a partial outage.", "%(names)s have a partial outage.", count
        )
    else:
        text = ngettext("%(names)s has a major outage.", "%(names)s have a major outage.", count)
    return text % {"names": joined}


_PHRASED = {
    ComponentStatus.UNDER_MAINTENANCE,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.MAJOR_OUTAGE,
}
NAMES_PER_SENTENCE = 3


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
    if indicator == "minor" and from_components == "minor":
        description = DEGRADED_DESCRIPTION
    return OverallStatus(indicator=indicator, description=description)


def impact_for_component_statuses(statuses: Iterable[str]) -> str:
    """The impact an incident takes when none is chosen: the level of the worst component
    status it sets (see the module docstring); `DEFAULT_IMPACT` when it sets no outage or
    degradation."""
    impacts = [STATUS_IMPACT[s] for s in statuses if s in STATUS_IMPACT]
    return _worst_indicator(impacts) if impacts else DEFAULT_IMPACT


def impact_raised(current: str, statuses: Iterable[str]) -> str:
    """The impact of an open incident after an update that sets `statuses`: raised to the
    level of the worst outage or degradation they set when that is worse, never lowered (a
    recovery keeps the impact until the commander changes it)."""
    impacts = [STATUS_IMPACT[s] for s in statuses if s in STATUS_IMPACT]
    if not impacts or current not in INDICATOR_SEVERITY:
        return current
    return _worst_indicator([current, *impacts])


def _names(names: list[str]) -> str:
    shown = names[:NAMES_PER_SENTENCE]
    rest = len(names) - len(shown)
    if rest:
        return ngettext("%(names)s and %(count)d more", "%(names)s and %(count)d more", rest) % {
            "names": gettext(", ").join(shown),
            "count": rest,
        }
    if len(shown) == 1:
        return shown[0]
    return gettext("%(names)s and %(last)s") % {
        "names": gettext(", ").join(shown[:-1]),
        "last": shown[-1],
    }


def status_sentence(
    *,
    components: Iterable[tuple[str, str]],
    open_incident_impacts: Iterable[str],
    maintenance_in_progress: bool,
) -> str:
    """What causes the page's status, in plain words, for the line under the banner's headline.

    `components` are (name, status) pairs in page order. Says which components are in which
    state, worst first (a few names each), and, when an open incident or a maintenance keeps
    the level above what the components show, says that too. Never a raw indicator."""
    by_status: dict[str, list[str]] = {}
    for name, status in components:
        if status in _PHRASED:
            by_status.setdefault(status, []).append(name)
    sentences = []
    for status in reversed(STATUS_SEVERITY):
        names = by_status.get(status)
        if names:
            sentences.append(_status_phrase(status, names))
    impacts = [i for i in open_incident_impacts if i in INDICATOR_SEVERITY]
    from_components = _worst_indicator(COMPONENT_INDICATOR[s] for s in by_status)
    from_incidents = _worst_indicator(i for i in impacts)
    count = len(impacts)
    worst = gettext(IMPACT_WORDS[from_incidents])
    if get_language() in (None, "en"):
        worst = worst.lower()  # mid-sentence in English; German nouns keep their capital
    if not sentences:
        if count and from_incidents != "none":
            sentences.append(
                ngettext(
                    "Every component is operational; the open incident (impact: %(worst)s) "
                    "is shown until it is resolved.",
                    "Every component is operational; %(count)d open incidents (worst impact: "
                    "%(worst)s) are shown until they are resolved.",
                    count,
                )
                % {"count": count, "worst": worst}
            )
        elif maintenance_in_progress:
            sentences.append(gettext("Maintenance is in progress; every component is operational."))
        else:
            sentences.append(gettext("Every component is operational."))
    elif count:
        if INDICATOR_SEVERITY.index(from_incidents) > INDICATOR_SEVERITY.index(from_components):
            sentences.append(
                ngettext(
                    "%(count)d open incident (impact: %(worst)s).",
                    "%(count)d open incidents (worst impact: %(worst)s).",
                    count,
                )
                % {"count": count, "worst": worst}
            )
        else:
            sentences.append(
                ngettext("%(count)d open incident.", "%(count)d open incidents.", count)
                % {"count": count}
            )
    elif maintenance_in_progress and ComponentStatus.UNDER_MAINTENANCE not in by_status:
        sentences.append(gettext("Maintenance is in progress."))
    return " ".join(sentences)

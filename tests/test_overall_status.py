"""The overall status rule (statuspage.selectors): the banner never contradicts the
components or the open incidents it is derived from."""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import combinations_with_replacement

import pytest
from django.utils import timezone

from incidents.selectors import page_status as page_overall_status
from incidents.services import (
    incident_declare,
    incident_post_update,
    incident_resolve,
    maintenance_schedule,
    maintenance_start,
)
from statuspage.public.snapshot import snapshot_publish
from statuspage.services import component_set_status
from statuspage.status import (
    COMPONENT_INDICATOR,
    IMPACT_WORDS,
    LEVEL_WORDS,
    impact_for_component_statuses,
    impact_raised,
    overall_status,
    status_sentence,
)
from statuspage.status import INDICATOR_SEVERITY as SEVERITY

STATUSES = list(COMPONENT_INDICATOR)
IMPACTS = ["none", "minor", "major", "critical"]


@pytest.mark.parametrize(
    ("statuses", "impacts", "maintenance", "indicator", "description"),
    [
        ([], [], False, "none", "All Systems Operational"),
        (["operational"] * 3, [], False, "none", "All Systems Operational"),
        (["operational", "degraded_performance"], [], False, "minor", "Partially Degraded Service"),
        # Degraded components and a minor incident: the words follow what the matrix shows
        # (issue 12: one status language; was "Minor Service Outage").
        (["degraded_performance"], ["minor"], False, "minor", "Partially Degraded Service"),
        (["operational"], ["minor"], False, "minor", "Minor Service Outage"),
        (["partial_outage", "operational"], [], False, "major", "Partial System Outage"),
        (["major_outage", "partial_outage"], ["minor"], False, "critical", "Major System Outage"),
        (["under_maintenance"], [], True, "maintenance", "Service Under Maintenance"),
        (["operational"], [], True, "maintenance", "Service Under Maintenance"),
        # An outage during a maintenance window shows as the outage.
        (["under_maintenance", "major_outage"], [], True, "critical", "Major System Outage"),
        # Monitoring: components back to operational, the incident's impact still shows.
        (["operational"], ["major"], False, "major", "Partial System Outage"),
        (["operational"], ["none"], False, "none", "All Systems Operational"),
    ],
)
def test_rule_table(statuses, impacts, maintenance, indicator, description):
    result = overall_status(
        component_statuses=statuses,
        open_incident_impacts=impacts,
        maintenance_in_progress=maintenance,
    )
    assert (result.indicator, result.description) == (indicator, description)


def test_never_contradicts_components_or_incidents_exhaustively():
    """For every mix of up to three component statuses, two open incidents and maintenance:
    the indicator is at least as severe as each input and equal to the worst of them, and an
    "all operational" description only appears when every input says so."""
    checked = 0
    for statuses in combinations_with_replacement(STATUSES, 3):
        for impacts in combinations_with_replacement(IMPACTS, 2):
            for maintenance in (False, True):
                for n_impacts in (0, 1, 2):
                    chosen = list(impacts[:n_impacts])
                    result = overall_status(
                        component_statuses=statuses,
                        open_incident_impacts=chosen,
                        maintenance_in_progress=maintenance,
                    )
                    rank = SEVERITY.index(result.indicator)
                    inputs = [COMPONENT_INDICATOR[s] for s in statuses] + [
                        i for i in chosen if i != "none"
                    ]
                    if maintenance:
                        inputs.append("maintenance")
                    assert all(SEVERITY.index(i) <= rank for i in inputs)
                    assert result.indicator == max(inputs, key=SEVERITY.index, default="none")
                    if result.description == "All Systems Operational":
                        assert set(statuses) == {"operational"} and not maintenance
                        assert all(i == "none" for i in chosen)
                    checked += 1
    assert checked == 35 * 10 * 2 * 3  # status triples × impact pairs × maintenance × 0–2


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("impact", IMPACTS)
def test_single_component_and_incident_pairs(status, impact):
    for maintenance in (False, True):
        result = overall_status(
            component_statuses=[status],
            open_incident_impacts=[impact],
            maintenance_in_progress=maintenance,
        )
        assert SEVERITY.index(result.indicator) >= SEVERITY.index(COMPONENT_INDICATOR[status])
        if impact != "none":
            assert SEVERITY.index(result.indicator) >= SEVERITY.index(impact)


def test_from_the_database_follows_the_incident_lifecycle(catalogue, actor):
    runs_us = catalogue["runs_us"]
    assert page_overall_status().indicator == "none"

    incident = incident_declare(
        name="Runs not starting",
        body="Investigating",
        actor=actor,
        impact="critical",
        component_statuses={runs_us: "partial_outage"},
    )
    # The component says major (partial outage); the incident's impact is critical.
    assert page_overall_status().indicator == "critical"

    incident_post_update(
        incident=incident,
        status="monitoring",
        body="Recovered, watching",
        actor=actor,
        component_statuses={runs_us: "operational"},
    )
    # Components are all operational, but the incident is still open: no "all operational".
    status = page_overall_status()
    assert status.indicator == "critical"
    assert status.description == "Major System Outage"

    incident_resolve(incident=incident, actor=actor)
    assert page_overall_status().indicator == "none"

    component_set_status(
        component=catalogue["api_global"], status="degraded_performance", actor=actor
    )
    assert page_overall_status().description == "Partially Degraded Service"


def test_maintenance_in_progress(catalogue, actor):
    now = timezone.now()
    maintenance = maintenance_schedule(
        name="Database upgrade",
        body="Planned",
        actor=actor,
        scheduled_for=now + timedelta(hours=1),
        scheduled_until=now + timedelta(hours=2),
        components=[catalogue["api_global"]],
    )
    assert page_overall_status().indicator == "none"  # scheduled is not in progress
    maintenance_start(incident=maintenance, actor=actor)
    assert page_overall_status().indicator == "maintenance"


def test_published_status_agrees_with_published_components(catalogue, actor, settings, tmp_path):
    """The snapshot derives status.json and components.json from the same read, so they can
    never disagree."""
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    runs = catalogue["runs"]
    for component, status in zip(
        runs.components.all(), ["major_outage", "degraded_performance"], strict=True
    ):
        component_set_status(component=component, status=status, actor=actor)
    snapshot_publish()
    documents = {}
    for path in ("status.json", "components.json"):
        manifest = json.loads((tmp_path / "snapshot" / "manifest.json").read_text())
        sha = manifest["documents"][f"/api/v2/{path}"]["sha256"]
        documents[path] = json.loads((tmp_path / "snapshot" / "blobs" / sha).read_bytes())
    worst = max(
        (c["status"] for c in documents["components.json"]["components"] if not c["group"]),
        key=lambda s: SEVERITY.index(COMPONENT_INDICATOR[s]),
    )
    assert documents["status.json"]["status"]["indicator"] == COMPONENT_INDICATOR[worst]
    assert documents["status.json"]["status"] == {
        "indicator": "critical",
        "description": "Major System Outage",
    }


def test_every_component_status_maps_to_an_indicator():
    assert set(COMPONENT_INDICATOR) == {
        "operational",
        "degraded_performance",
        "partial_outage",
        "major_outage",
        "under_maintenance",
    }
    assert all(indicator in SEVERITY for indicator in COMPONENT_INDICATOR.values())


# --- One status language (issue 12): impact from components, words, the sentence -------------


@pytest.mark.parametrize(
    ("statuses", "impact"),
    [
        ([], "minor"),
        (["operational"], "minor"),
        (["under_maintenance"], "minor"),
        (["degraded_performance"], "minor"),
        (["degraded_performance", "partial_outage"], "major"),
        (["partial_outage", "major_outage", "operational"], "critical"),
    ],
)
def test_impact_follows_the_worst_component_status(statuses, impact):
    assert impact_for_component_statuses(statuses) == impact


def test_impact_is_raised_never_lowered():
    assert impact_raised("minor", ["major_outage"]) == "critical"
    assert impact_raised("critical", ["degraded_performance"]) == "critical"
    assert impact_raised("none", ["operational"]) == "none"
    assert impact_raised("major", []) == "major"


def test_every_level_has_one_word_for_components_and_impacts():
    # A critical incident and a component in major outage are called the same.
    assert IMPACT_WORDS["critical"] == LEVEL_WORDS["critical"] == "Major outage"
    assert IMPACT_WORDS["major"] == LEVEL_WORDS["major"] == "Partial outage"
    assert IMPACT_WORDS["minor"] == LEVEL_WORDS["minor"] == "Degraded performance"


@pytest.mark.parametrize(
    ("components", "impacts", "maintenance", "sentence"),
    [
        ([("API", "operational")], [], False, "Every component is operational."),
        (
            [("Runs (us-east-1)", "major_outage"), ("API", "operational")],
            ["critical"],
            False,
            "Runs (us-east-1) has a major outage. 1 open incident.",
        ),
        (
            [("A", "partial_outage"), ("B", "partial_outage"), ("C", "degraded_performance")],
            [],
            False,
            "A and B have a partial outage. C has degraded performance.",
        ),
        (
            [(name, "partial_outage") for name in "ABCDE"],
            [],
            False,
            "A, B, C and 2 more have a partial outage.",
        ),
        (
            [("API", "operational")],
            ["major"],
            False,
            "Every component is operational; the open incident (impact: partial outage) is "
            "shown until it is resolved.",
        ),
        (
            [("API", "degraded_performance")],
            ["critical", "minor"],
            False,
            "API has degraded performance. 2 open incidents (worst impact: major outage).",
        ),
        (
            [("API", "operational")],
            [],
            True,
            "Maintenance is in progress; every component is operational.",
        ),
    ],
)
def test_the_sentence_under_the_banner(components, impacts, maintenance, sentence):
    assert (
        status_sentence(
            components=components,
            open_incident_impacts=impacts,
            maintenance_in_progress=maintenance,
        )
        == sentence
    )

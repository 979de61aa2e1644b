"""The `heliograph` command against the live test server: the issue's declare command, update,
resolve, bulk status, maintenance, a metric point, credits, --json and --dry-run, and the
exit codes scripts rely on (in-process with click's runner, and once as a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner
from heliograph_client.cli import cli
from sdk_helpers import PYTHON_SDK

from incidents.credits.models import CreditReport
from incidents.models import Incident
from statuspage.metrics.models import MetricPoint
from statuspage.models import Component, ComponentStatusChange

DECLARE = [
    "incident",
    "declare",
    "Runs not starting in us-east-1",
    "--component",
    "run-execution@us-east-1=major_outage",
    "--message",
    "Investigating",
]


@pytest.fixture
def heliograph(cli_env):
    """Run `heliograph ARGS…` with the live server's URL and token in the environment."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(
            cli, list(args), env={**cli_env, **(env or {})}, catch_exceptions=False
        )

    return run


def test_declare_update_and_resolve_the_issues_incident(heliograph, site):
    declared = heliograph(*DECLARE)
    assert declared.exit_code == 0, declared.output
    incident = Incident.objects.get()
    assert incident.name == "Runs not starting in us-east-1"
    assert incident.status == "investigating" and incident.impact == "critical"
    assert incident.updates.get().body == "Investigating"
    assert Component.objects.get(pk=site["runs_us"].pk).status == "major_outage"
    assert declared.output.startswith(f"Declared {incident.public_id}: Runs not starting")

    status = heliograph("status", "--json")
    assert status.exit_code == 0
    shown = json.loads(status.output)
    assert [i["id"] for i in shown["incidents"]] == [incident.public_id]
    assert [c["name"] for c in shown["components"]] == ["Run execution (us-east-1)"]
    table = heliograph("status").output
    assert "Runs not starting in us-east-1" in table and "major_outage" in table
    page = httpx.get(f"{site['url']}/").text  # the public page, from the snapshot
    assert "Runs not starting in us-east-1" in page

    # A component named without a status is added to the affected ones, not put instead.
    updated = heliograph(
        "incident",
        "update",
        incident.public_id,
        "--status",
        "identified",
        "-m",
        "Bad deploy",
        "-c",
        "api",
    )
    assert updated.exit_code == 0, updated.output
    assert set(incident.components.all()) == {site["runs_us"], site["api_global"]}
    resolved = heliograph("incident", "resolve", incident.public_id, "-m", "Runs start again.")
    assert resolved.exit_code == 0, resolved.output
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert list(incident.updates.order_by("pk").values_list("status", "body")) == [
        ("investigating", "Investigating"),
        ("identified", "Bad deploy"),
        ("resolved", "Runs start again."),
    ]
    assert Component.objects.get(pk=site["runs_us"].pk).status == "operational"
    assert json.loads(heliograph("incident", "list", "--json").output) == []


def test_components_are_named_service_at_region(heliograph, site):
    result = heliograph("components", "--json")
    assert result.exit_code == 0
    rows = {r["spec"]: r for r in json.loads(result.output)}
    assert set(rows) == {"run-execution@us-east-1", "run-execution@eu-central-1", "api"}
    assert rows["run-execution@eu-central-1"]["id"] == site["runs_eu"].public_id
    assert rows["api"]["region"] is None
    only_us = heliograph("components", "--region", "us-east-1").output
    assert "run-execution@us-east-1" in only_us and "eu-central-1" not in only_us


def test_bulk_status_maintenance_and_metric_push(heliograph, site):
    bulk = heliograph("bulk-status", "--region", "us-east-1", "major_outage", "--reason", "AZ")
    assert bulk.exit_code == 0, bulk.output
    assert "1 of 1 components set to major_outage" in bulk.output
    assert Component.objects.get(pk=site["runs_us"].pk).status == "major_outage"
    assert ComponentStatusChange.objects.filter(component=site["runs_us"], reason="AZ").exists()
    by_service = heliograph("bulk-status", "degraded_performance", "--service", "run-execution")
    assert by_service.exit_code == 0
    assert set(Component.objects.filter(service=site["runs"]).values_list("status", flat=True)) == {
        "degraded_performance"
    }

    start = datetime.now(UTC) + timedelta(days=2)
    scheduled = heliograph(
        "maintenance",
        "schedule",
        "Database upgrade",
        "--start",
        start.isoformat(),
        "--end",
        (start + timedelta(hours=1)).isoformat(),
        "--component",
        "api",
        "--json",
    )
    assert scheduled.exit_code == 0, scheduled.output
    maintenance = Incident.objects.get(public_id=json.loads(scheduled.output)["id"])
    assert maintenance.kind == "maintenance" and maintenance.status == "scheduled"
    assert list(maintenance.components.all()) == [site["api_global"]]

    pushed = heliograph("metric", "push", "queue-depth-us-east-1", "125000", "--at", "1782158400")
    assert pushed.exit_code == 0, pushed.output
    point = MetricPoint.objects.get(metric=site["metric"])
    assert point.value == 125000 and point.at.timestamp() == 1782158400


ACCOUNTS = "account_id,name,plan,paying,currency\nacme,Acme,pro,true,USD\nbig,Big,team,true,USD\n"
SPEND = (
    "account_id,amount,currency,occurred_at,period_start,period_end,region,kind\n"
    "acme,3.50,USD,2026-06-22T10:00:00Z,,,us-east-1,usage\n"
    "big,120.25,USD,2026-06-21T01:00:00Z,,,us-east-1,usage\n"
)


def test_credits_report_shows_totals_and_writes_its_csv(heliograph, client, tmp_path):
    # Accounts, spend and the policy through the SDK (the command only runs and reads reports).
    assert client.account_imports.create(csv=ACCOUNTS)["created"] == 2
    assert client.spend_imports.create(csv=SPEND)["lines"] == 2
    policy = client.credit_policies.create(
        name="June outage",
        window_start="2026-06-21T00:00:00Z",
        window_end=datetime(2026, 6, 24, tzinfo=UTC),
        rules=[{"currency": "USD", "minimum": "10.00"}],
    )
    listed = heliograph("credits", "policies")
    assert listed.exit_code == 0 and "June outage" in listed.output

    target = tmp_path / "credits.csv"
    report = heliograph("credits", "report", policy["id"], "--csv", str(target))
    assert report.exit_code == 0, report.output
    assert f"of policy {policy['id']}: done, 2 credited account(s)" in report.output
    assert "USD       2         123.75  130.25" in report.output  # acme's 3.50 raised to 10.00
    rows = target.read_text().splitlines()
    assert rows[0].startswith("account_id,") and len(rows) == 3
    report_id = CreditReport.objects.get().pk
    shown = json.loads(heliograph("credits", "show", str(report_id), "--json").output)
    assert shown["status"] == "done" and shown["lines"] == 2


def test_dry_run_prints_the_request_and_sends_nothing(heliograph, site):
    result = heliograph(*DECLARE, "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    request = json.loads(result.output)
    assert request["method"] == "POST"
    assert request["url"].endswith("/v1/pages/heliograph/incidents")
    assert request["headers"]["Authorization"] == "OAuth hg_…"  # never the token itself
    assert request["body"] == {
        "incident": {
            "name": "Runs not starting in us-east-1",
            "status": "investigating",
            "body": "Investigating",
            "components": {site["runs_us"].public_id: "major_outage"},
            "deliver_notifications": True,
        }
    }
    text = heliograph("bulk-status", "--region", "us-east-1", "major_outage", "--dry-run")
    assert text.output.startswith("POST http://")
    assert not Incident.objects.exists()
    assert Component.objects.get(pk=site["runs_us"].pk).status == "operational"


def test_it_exits_with_the_documented_codes(heliograph, site, make_token, tmp_path):
    missing = heliograph("incident", "update", "nope", "--status", "resolved")
    assert missing.exit_code == 4 and "Unknown incident: nope" in missing.stderr
    refused = heliograph("incident", "declare", "")
    assert refused.exit_code == 5 and "name: is required." in refused.stderr
    stranger = heliograph("status", env={"HELIOGRAPH_TOKEN": "hg_not_a_token"})
    assert stranger.exit_code == 3
    reader = heliograph(*DECLARE, env={"HELIOGRAPH_TOKEN": make_token("reader", ["read"])})
    assert reader.exit_code == 3 and "'incidents' scope" in reader.stderr
    unknown = heliograph("incident", "declare", "x", "-c", "nosuch@us-east-1=major_outage")
    assert unknown.exit_code == 4 and "run-execution" in unknown.stderr  # names the known ones
    elsewhere = heliograph("incident", "declare", "x", "-c", "run-execution@mars-1")
    assert elsewhere.exit_code == 4 and "us-east-1" in elsewhere.stderr
    ambiguous = heliograph("incident", "declare", "x", "-c", "run-execution=major_outage")
    assert ambiguous.exit_code == 2 and "run-execution@eu-central-1" in ambiguous.stderr
    bad_status = heliograph("incident", "declare", "x", "-c", "api=down")
    assert bad_status.exit_code == 2
    no_selection = heliograph("bulk-status", "major_outage")
    assert no_selection.exit_code == 2
    no_url = heliograph("status", env={"HELIOGRAPH_URL": ""})
    assert no_url.exit_code == 2 and "HELIOGRAPH_URL" in no_url.stderr
    unreachable = heliograph(
        "--retries", "0", "status", env={"HELIOGRAPH_URL": "http://127.0.0.1:9"}
    )
    assert unreachable.exit_code == 6
    assert not Incident.objects.exists()


def test_it_reads_the_config_file_and_the_environment_wins(heliograph, site, token, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'url = "{site["url"]}"\ntoken = "{token}"\n')
    result = heliograph(
        "components",
        env={"HELIOGRAPH_URL": "", "HELIOGRAPH_TOKEN": "", "HELIOGRAPH_CONFIG": str(config)},
    )
    assert result.exit_code == 0 and "run-execution@us-east-1" in result.output
    # The environment wins over the file.
    overridden = heliograph(
        "components",
        env={"HELIOGRAPH_TOKEN": "hg_not_a_token", "HELIOGRAPH_CONFIG": str(config)},
    )
    assert overridden.exit_code == 3


def test_the_command_as_a_process(cli_env, site):
    """`python -m heliograph_client` is the installed `heliograph`: real exit codes."""
    env = {**os.environ, **cli_env, "PYTHONPATH": str(PYTHON_SDK)}
    declared = subprocess.run(
        [sys.executable, "-m", "heliograph_client", *DECLARE, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert declared.returncode == 0, declared.stderr
    assert json.loads(declared.stdout)["name"] == "Runs not starting in us-east-1"
    missing = subprocess.run(
        [sys.executable, "-m", "heliograph_client", "incident", "show", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 4
    completion = subprocess.run(
        [sys.executable, "-m", "heliograph_client", "completion", "bash"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completion.returncode == 0 and "_HELIOGRAPH_COMPLETE" in completion.stdout

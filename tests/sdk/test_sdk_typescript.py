"""The TypeScript SDK: `npm ci` (when node_modules is stale), `npm run build` (tsc) and its
own tests (`node --test`) with the live server's URL and a token in the environment; then
what its live tests did is checked in the database. Nothing in it may be skipped."""

from __future__ import annotations

import os
import re
import subprocess

from sdk_helpers import TYPESCRIPT, npm_ready

from incidents.models import Incident
from statuspage.metrics.models import MetricPoint
from statuspage.models import AuditEntry, Component


def test_typescript_sdk_builds_and_passes_its_tests_against_the_live_server(site, token):
    npm_ready()
    build = subprocess.run(
        ["npm", "run", "build"], cwd=TYPESCRIPT, capture_output=True, text=True, timeout=300
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert (TYPESCRIPT / "dist" / "index.js").exists()
    assert (TYPESCRIPT / "dist" / "index.d.ts").exists()

    env = {**os.environ, "HELIOGRAPH_URL": site["url"], "HELIOGRAPH_TOKEN": token}
    env.pop("HELIOGRAPH_PAGE_ID", None)
    run = subprocess.run(
        ["npm", "test"], cwd=TYPESCRIPT, env=env, capture_output=True, text=True, timeout=300
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report

    def count(name: str) -> int:
        match = re.search(rf"^# {name} (\d+)$", report, re.MULTILINE)
        assert match, f"no '# {name}' line in:\n{report}"
        return int(match.group(1))

    assert count("fail") == 0 and count("skipped") == 0 and count("todo") == 0
    assert count("pass") >= 14, report

    # What the live tests did, as the database saw it.
    incident = Incident.objects.get(name="Runs not starting in us-east-1")
    assert incident.status == "resolved"
    assert list(incident.updates.order_by("pk").values_list("status", flat=True)) == [
        "investigating",
        "identified",
        "resolved",
    ]
    assert Component.objects.get(pk=site["runs_eu"].pk).status == "degraded_performance"
    assert MetricPoint.objects.filter(metric=site["metric"], value=125000).exists()
    assert AuditEntry.objects.filter(actor_name="api:sdk-test", action="incident.declare").exists()

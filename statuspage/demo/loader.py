"""Demo data: the catalogue, history and incident of the seed report (22–23 June 2026).

`load_demo()` is what `manage.py load_demo` (and `make run`) calls. Everything is written
through the service functions, so the demo exercises the same write path as production:
status history rows come from `component_set_status(at=…)`, the June incident and its
timeline from `incident_declare` / `incident_post_update` with the report's UTC times as
`display_at`. Events are applied in time order, so each component's history is consistent
(every change starts from the status the previous one left).

It can run any number of times: each part is looked up by its natural key first (region slug,
group name, service slug, template name, incident name, the `admin` user) and only what is
missing is created, through the same services (`service_group_create`, `template_create`, …). The history and the June incident are written in one transaction together, so an
interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from incidents.credits.demo import load_demo_credits
from incidents.models import Incident, IncidentKind, IncidentTemplate
from incidents.services import (
    incident_declare,
    incident_post_update,
    incident_resolve,
    maintenance_schedule,
    postmortem_publish,
    template_create,
)
from statuspage.metrics.demo import load_demo_metrics
from statuspage.models import Component, Region, Service, ServiceGroup
from statuspage.public.snapshot import snapshot_publish
from statuspage.services import (
    Actor,
    component_set_status,
    component_update,
    region_create,
    service_create,
    service_group_create,
)

ACTOR = Actor.system("demo")
HISTORY_DAYS = 90
# Components exist from here on (uptime is computed from their history since then).
CATALOGUE_SINCE = datetime(2026, 6, 1, tzinfo=UTC)
US_WEST_2_SINCE = datetime(2026, 7, 20, tzinfo=UTC)

REGIONS = [
    ("us-east-1", "US East (N. Virginia)"),
    ("eu-central-1", "EU Central (Frankfurt)"),
    ("us-west-2", "US West (Oregon)"),
]
GROUPS = ["Runs", "Platform"]
ALL = [slug for slug, _ in REGIONS]


@dataclass(frozen=True)
class DemoService:
    name: str
    slug: str
    group: str
    description: str
    regions: list[str] = field(default_factory=list)  # empty: a global service


SERVICES = [
    DemoService(
        "Run execution",
        "run-execution",
        "Runs",
        "Dequeuing runs and starting them on workers (cold and warm starts).",
        ALL,
    ),
    DemoService(
        "Scheduled runs", "scheduled-runs", "Runs", "Runs triggered by cron schedules.", ALL
    ),
    DemoService(
        "Container image registry",
        "container-image-registry",
        "Runs",
        "Stores and serves the images your tasks run in.",
        ALL,
    ),
    DemoService(
        "Realtime",
        "realtime",
        "Runs",
        "Live run status streamed to your app and the dashboard.",
        ALL,
    ),
    # The API is served from each region (runs are triggered where they run), so it can fail
    # in one region while the others answer: per region, like the seed report's services.
    DemoService("API", "api", "Platform", "Trigger and manage runs from your code.", ALL),
    DemoService("Dashboard", "dashboard", "Platform", "The web app: runs, logs, settings."),
    DemoService(
        "Bulk actions",
        "bulk-actions",
        "Platform",
        "Replay or cancel many runs at once, including between regions.",
    ),
]

TEMPLATES = [
    {
        "name": "Region down: runs not starting",
        "title": "Runs not starting in us-east-1",
        "status": "investigating",
        "impact": "critical",
        "component_status": "major_outage",
        "body": (
            "New runs are not starting in this region. Runs that are already executing keep "
            "running and queued runs are not lost: they will start once the region recovers.\n\n"
            "We are investigating and will post an update within 30 minutes."
        ),
    },
    {
        "name": "Degraded dequeuing",
        "title": "Runs slow to start",
        "status": "investigating",
        "impact": "minor",
        "component_status": "degraded_performance",
        "body": (
            "Runs are taking longer than usual to start (slow dequeuing). Nothing is lost; "
            "queued runs will execute. We are investigating."
        ),
    },
    {
        "name": "Resolved",
        "title": "",
        "status": "resolved",
        "impact": "none",
        "component_status": "operational",
        "body": (
            "This incident has been resolved. Every region is dequeuing at full speed and the "
            "backlog is draining. A postmortem will follow."
        ),
    },
]

JUNE_NAME = "Runs not starting in us-east-1 and eu-central-1"
JUNE_START = datetime(2026, 6, 22, 0, 0, tzinfo=UTC)
JUNE_END = datetime(2026, 6, 24, 0, 0, tzinfo=UTC)


def _at(day: int, hh: int, mm: int) -> datetime:
    return datetime(2026, 6, day, hh, mm, tzinfo=UTC)


# (time, status, impact or None, body, {(service slug, region slug): component status})
RE, SR, REG = "run-execution", "scheduled-runs", "container-image-registry"
JUNE_TIMELINE: list[tuple[datetime, str, str | None, str, dict[tuple[str, str], str]]] = [
    (
        _at(22, 19, 0),
        "investigating",
        "minor",
        "Runs in **us-east-1** are slow to start. About 10,000 runs are queued while we wait "
        "for AWS to provide worker capacity, which is short in every availability zone. "
        "Runs already executing are not affected.",
        {(RE, "us-east-1"): "degraded_performance"},
    ),
    (
        _at(22, 20, 9),
        "identified",
        "critical",
        "The Kubernetes control plane of us-east-1 is down: a large batch of new worker nodes "
        "joined at once, just as the top-of-the-hour scheduled runs fired, and its coordination "
        "database (etcd) lost quorum. **New runs are not starting in us-east-1.** Runs that "
        "were executing keep running; queued runs stay queued and are not lost.",
        {(RE, "us-east-1"): "major_outage", (SR, "us-east-1"): "major_outage"},
    ),
    (
        _at(22, 20, 20),
        "identified",
        None,
        "Recovery has begun. The control plane comes back briefly and then falls over again "
        "under the storm of reconnecting nodes. If you can, trigger new runs in eu-central-1.",
        {},
    ),
    (
        _at(22, 22, 0),
        "identified",
        None,
        "We raised the disk I/O limit of the coordination database and brought etcd back up in "
        "isolation. Defragmenting it took it from about 5 GB to about 600 MB.",
        {},
    ),
    (
        _at(23, 1, 45),
        "identified",
        None,
        "With every component throttled hard, the control plane is holding for the first time "
        "and a healthy three-node setup is restored. We are now raising its request limits one "
        "node at a time, checking it stays healthy at each step.",
        {},
    ),
    (
        _at(23, 3, 30),
        "identified",
        None,
        "The run queue's backing store is the next bottleneck: the backlog pins its CPU. "
        "We are scaling it up.",
        {},
    ),
    (
        _at(23, 4, 44),
        "identified",
        None,
        "An oversized query from one of our internal tools briefly re-flooded the recovering "
        "control plane (04:20–04:44). We stopped it and the control plane recovered.",
        {},
    ),
    (
        _at(23, 5, 28),
        "identified",
        None,
        "etcd had grown again to about 4 GB under the ongoing churn. A second defragmentation, "
        "one node at a time and without losing quorum, brought it down to about 300 MB.",
        {},
    ),
    (
        _at(23, 6, 8),
        "identified",
        None,
        "We paused dequeuing in us-east-1 to take the last of the pressure off the run queue's "
        "backing store, and are resizing the control plane onto larger machines, node by node.",
        {},
    ),
    (
        _at(23, 6, 53),
        "monitoring",
        None,
        "The resize is complete. **us-east-1 is back to full dequeuing speed** and the backlog "
        "is draining; runs may start later than usual until it has drained.",
        {(RE, "us-east-1"): "degraded_performance", (SR, "us-east-1"): "operational"},
    ),
    (
        _at(23, 8, 38),
        "identified",
        None,
        "**eu-central-1 has lost its control plane the same way**: new runs are not starting "
        "in eu-central-1. A separate failure of the container image registry is causing image "
        "pull failures there. No runs are lost.",
        {
            (RE, "eu-central-1"): "major_outage",
            (SR, "eu-central-1"): "major_outage",
            (REG, "eu-central-1"): "partial_outage",
        },
    ),
    (
        _at(23, 10, 11),
        "identified",
        None,
        "eu-central-1's etcd quorum is restored and runs are starting again, slowly. The image "
        "registry has recovered without data loss.",
        {
            (RE, "eu-central-1"): "partial_outage",
            (SR, "eu-central-1"): "partial_outage",
            (REG, "eu-central-1"): "operational",
        },
    ),
    (
        _at(23, 12, 18),
        "monitoring",
        None,
        "eu-central-1's control plane now runs on larger machines and dequeuing is ramping up.",
        {(RE, "eu-central-1"): "degraded_performance", (SR, "eu-central-1"): "operational"},
    ),
]
JUNE_RESOLVED_AT = _at(23, 13, 13)
JUNE_RESOLVED_BODY = (
    "A post-recovery cascade in core components has been cleared. **Both regions have fully "
    "recovered** and are dequeuing at full speed; the backlogs are draining. No runs were lost. "
    "A postmortem will follow."
)

JUNE_POSTMORTEM = """\
## Summary

From about 19:00 UTC on 22 June to 13:13 UTC on 23 June 2026, new runs started slowly or not
at all, first in **us-east-1** and then in **eu-central-1**. Runs that were already executing
kept running, and no queued run was lost: every one of them ran once capacity came back. But
the delays were very long, and moving work to another region was harder than it should have
been. We are sorry.

Every paying customer is credited what they spent from 00:00 on 21 June to 23:59 on 23 June
(UTC), with a minimum of $10 per account, on the June invoice.

## What happened

1. AWS could not provide worker capacity in any us-east-1 availability zone, so work queued up.
2. When capacity freed up, a large batch of nodes joined the cluster at once, right as the
   top-of-the-hour scheduled runs fired. Their registrations drove the three control-plane
   nodes to 100% CPU.
3. etcd, the database behind the control plane, fell behind, lost quorum at about 20:09 and
   could not form a stable one again for hours: it had grown large, shared a rate-limited disk
   with the operating system, and our own automation re-flooded the control plane every time
   it came back.
4. We pointed customers at eu-central-1. It was smaller, had the same weaknesses, and took the
   combined load: it failed the same way at 08:38 on 23 June.

## Timeline (UTC)

| Time | What happened |
| --- | --- |
| 22 Jun 19:00 | ~10,000 runs queued in us-east-1; AWS cannot provide worker capacity |
| 22 Jun 19:56–20:03 | Capacity frees up; many nodes join at once with the scheduled runs |
| 22 Jun 20:00 | Control plane at 100% CPU; etcd drops internal messages |
| 22 Jun 20:09 | us-east-1 loses etcd quorum; new runs stop starting |
| 22 Jun 20:20 | Recovery begins; the control plane repeatedly comes back and collapses |
| 22 Jun 22:00 | etcd disk I/O limit raised; etcd defragmented (~5 GB → ~600 MB) |
| 23 Jun 01:10–01:45 | Control plane holds with everything throttled; three healthy nodes |
| 23 Jun 02:00–02:30 | Request limits raised one node at a time |
| 23 Jun 03:30 | Run queue's backing store pinned at 100% CPU; scaled up |
| 23 Jun 04:20–04:44 | An internal tool's oversized query re-floods the control plane |
| 23 Jun 05:18 | etcd bloated again to ~4 GB |
| 23 Jun 05:28 | Second defragmentation (~300 MB) without losing quorum |
| 23 Jun 06:08 | Dequeuing paused to relieve the run queue's backing store |
| 23 Jun 06:40 | Control plane resized onto larger machines, node by node |
| 23 Jun 06:53 | us-east-1 back to full dequeuing speed; backlog draining |
| 23 Jun 08:38 | eu-central-1 loses its control plane the same way |
| 23 Jun 10:11 | eu-central-1 etcd quorum restored |
| 23 Jun 12:18 | eu-central-1 control plane resized onto larger machines |
| 23 Jun 13:13 | Post-recovery cascade cleared; both regions fully recovered |

## What made it worse

- **Queued runs held on to concurrency.** Runs waiting in one region's worker queue counted
  against the concurrency limit, so customers who moved to eu-central-1 found their
  concurrency already used up by stuck us-east-1 work.
- **Failover was not smooth.** eu-central-1 had to scale up under the same capacity shortage,
  images were not cached there, and bulk replay could not move runs between regions until
  late in the incident.
- **We forgot backpressure twice.** The load-shedding mechanism was in observation mode in
  us-east-1 and was not switched on during the eu-central-1 recovery.

## What we are changing

1. More than one isolated cluster per region, with automatic failover between them.
2. A new **us-west-2** region.
3. Self-serve bulk moves of runs between regions, in the dashboard, API and SDK.
4. Runs that have not started no longer lock concurrency to an unhealthy region.
5. Backpressure switched on permanently in every region.
6. A hardened etcd: its own fast disk, alarms on its size, tuned compaction, scheduled
   defragmentation.
7. New clusters on managed Kubernetes, where the provider runs the control plane.
8. Practised region recovery, with a break-glass path into an overloaded control plane.
9. Earlier detection from control-plane CPU, etcd size and write latency, and queue depth.
10. Queue metrics in the dashboard.
11. This status page: per region and per service, with updates pushed to email, Slack and
    Discord.
"""

# Short incidents inside the last 90 days, days ago from today (deterministic, like blips).
RECENT_INCIDENTS = [
    {
        "days_ago": 41,
        "start": time(14, 5),
        "minutes": 38,
        "name": "Dashboard slow to load",
        "impact": "minor",
        "components": {("dashboard", None): "degraded_performance"},
        "body": "Dashboard pages are loading slowly. Runs are not affected.",
        "resolved": "A slow database query has been fixed; the dashboard is fast again.",
    },
    {
        "days_ago": 9,
        "start": time(15, 40),
        "minutes": 47,
        "name": "API errors in eu-central-1",
        "impact": "major",
        "components": {("api", "eu-central-1"): "partial_outage"},
        "body": "Some API requests to eu-central-1 fail with 503 errors; the other regions are "
        "not affected. Retrying, or triggering runs in another region, works.",
        "resolved": "A faulty load balancer node in eu-central-1 was replaced; API requests "
        "succeed again.",
    },
    {
        "days_ago": 17,
        "start": time(9, 12),
        "minutes": 55,
        "name": "Delayed scheduled runs in eu-central-1",
        "impact": "minor",
        "components": {("scheduled-runs", "eu-central-1"): "partial_outage"},
        "body": "Some scheduled runs in eu-central-1 start a few minutes late. We are "
        "investigating.",
        "resolved": "The scheduler has caught up and scheduled runs start on time again.",
    },
]

MAINTENANCE_NAME = "Hardened etcd: dedicated disks for the us-east-1 control plane"


def _report(out, message: str) -> None:
    if out is not None:
        out.write(message)


# --- Catalogue ---------------------------------------------------------------------------------


def ensure_catalogue(out=None) -> dict:
    """Regions, service groups and services (with their components); missing ones only."""
    regions: dict[str, Region] = {}
    for position, (slug, name) in enumerate(REGIONS, start=1):
        region = Region.objects.filter(slug=slug).first()
        if region is None:
            region = region_create(slug=slug, name=name, actor=ACTOR, position=position)
            _report(out, f"region {slug} created")
        regions[slug] = region
    groups: dict[str, ServiceGroup] = {}
    for position, name in enumerate(GROUPS, start=1):
        group = ServiceGroup.objects.filter(name=name).first()
        if group is None:
            group = service_group_create(name=name, position=position, actor=ACTOR)
            _report(out, f"service group {name} created")
        groups[name] = group
    for position, spec in enumerate(SERVICES, start=1):
        if Service.objects.filter(slug=spec.slug).exists():
            continue
        service = service_create(
            name=spec.name,
            slug=spec.slug,
            description=spec.description,
            position=position,
            group=groups[spec.group],
            regions=[regions[r] for r in spec.regions] or None,
            actor=ACTOR,
        )
        # The demo tells a story that began months ago: the components' start_date says since
        # when they exist (uptime counts from it), before the history below is written.
        for component in service.components.select_related("region"):
            since = (
                US_WEST_2_SINCE
                if component.region and component.region.slug == "us-west-2"
                else CATALOGUE_SINCE
            )
            component_update(component=component, actor=ACTOR, start_date=since.date())
        _report(out, f"service {spec.name} created")
    return regions


def ensure_templates(out=None) -> None:
    for spec in TEMPLATES:
        if IncidentTemplate.objects.filter(name=spec["name"]).exists():
            continue
        template_create(actor=ACTOR, **spec)
        _report(out, f"template {spec['name']} created")


def ensure_admin(out=None) -> tuple[str, bool]:
    """The staff superuser `admin`; its password is set only when the user is created.

    Created only when HELIOGRAPH_ADMIN_PASSWORD is non-empty: in development (DEBUG=1) it
    defaults to `heliograph`; with DEBUG=0 it must be set explicitly, so that demo data loaded
    into a real deployment does not open it with a published password."""
    password = settings.HELIOGRAPH_ADMIN_PASSWORD
    user_model = get_user_model()
    if user_model.objects.filter(username="admin").exists():
        return password, False
    if not password:
        _report(
            out,
            "no admin login created: DEBUG=0 and HELIOGRAPH_ADMIN_PASSWORD is not set "
            "(set it, or run manage.py createsuperuser)",
        )
        return "", False
    user_model.objects.create_superuser("admin", "admin@localhost", password)
    _report(out, "staff superuser admin created")
    return password, True


# --- History -----------------------------------------------------------------------------------


def _component(service_slug: str, region_slug: str | None) -> Component:
    return (
        Component.objects.select_related("service", "region").get(
            service__slug=service_slug,
            region__slug=region_slug,
        )
        if region_slug
        else Component.objects.select_related("service").get(
            service__slug=service_slug, region__isnull=True
        )
    )


@dataclass(frozen=True)
class Blip:
    """A short status change of one component (no incident), and its return to operational."""

    start: datetime
    end: datetime
    service_slug: str
    region_slug: str | None
    status: str
    reason: str


BLIP_REASONS = {
    "degraded_performance": [
        "Elevated dequeue latency",
        "Slow cold starts while images were pulled",
        "Higher error rate from an upstream provider",
    ],
    "partial_outage": ["Some requests failing after a deploy; rolled back"],
}


def demo_blips(today: date) -> list[Blip]:
    """A handful of short, realistic blips over the last 90 days (seeded: same day, same list)."""
    rng = random.Random(20260622)
    candidates = [
        ("run-execution", "us-east-1"),
        ("run-execution", "eu-central-1"),
        ("run-execution", "us-west-2"),
        ("realtime", "us-east-1"),
        ("container-image-registry", "us-east-1"),
        ("api", "us-east-1"),
        ("dashboard", None),
    ]
    # Not on the days of the recent incidents, so a blip never interleaves with one.
    days = [
        d for d in range(3, HISTORY_DAYS - 1) if d not in {i["days_ago"] for i in RECENT_INCIDENTS}
    ]
    blips = []
    for day in sorted(rng.sample(days, 9), reverse=True):
        service_slug, region_slug = rng.choice(candidates)
        status = "partial_outage" if rng.random() < 0.25 else "degraded_performance"
        start = datetime.combine(
            today - timedelta(days=day), time(rng.randrange(1, 22), rng.randrange(60)), UTC
        )
        end = start + timedelta(minutes=rng.randrange(8, 75))
        blips.append(
            Blip(start, end, service_slug, region_slug, status, rng.choice(BLIP_REASONS[status]))
        )
    return blips


def _apply_blip(blip: Blip) -> None:
    component = _component(blip.service_slug, blip.region_slug)
    if component.region and component.region.slug == "us-west-2" and blip.start < US_WEST_2_SINCE:
        return
    component_set_status(
        component=component, status=blip.status, actor=ACTOR, reason=blip.reason, at=blip.start
    )
    component_set_status(
        component=component,
        status="operational",
        actor=ACTOR,
        reason=f"{blip.reason}: recovered",
        at=blip.end,
    )


def _statuses(spec: dict) -> dict[Component, str]:
    return {_component(s, r): status for (s, r), status in spec.items()}


def create_june_incident() -> Incident:
    """The incident of the seed report, in both regions, with the report's UTC times."""
    first_at, status, impact, body, changes = JUNE_TIMELINE[0]
    incident = incident_declare(
        name=JUNE_NAME,
        body=body,
        impact=impact or "minor",
        status=status,
        component_statuses=_statuses(changes),
        deliver_notifications=False,
        display_at=first_at,
        actor=ACTOR,
    )
    for at, status, impact, body, changes in JUNE_TIMELINE[1:]:
        incident_post_update(
            incident=incident,
            status=status,
            body=body,
            impact=impact,
            component_statuses=_statuses(changes),
            deliver_notifications=False,
            display_at=at,
            actor=ACTOR,
        )
    incident_resolve(
        incident=incident,
        body=JUNE_RESOLVED_BODY,
        deliver_notifications=False,
        display_at=JUNE_RESOLVED_AT,
        actor=ACTOR,
    )
    postmortem_publish(incident=incident, body=JUNE_POSTMORTEM, actor=ACTOR)
    return incident


def _create_recent_incident(spec: dict, today: date) -> None:
    start = datetime.combine(today - timedelta(days=spec["days_ago"]), spec["start"], UTC)
    incident = incident_declare(
        name=spec["name"],
        body=spec["body"],
        impact=spec["impact"],
        component_statuses={_component(s, r): st for (s, r), st in spec["components"].items()},
        deliver_notifications=False,
        display_at=start,
        actor=ACTOR,
    )
    incident_resolve(
        incident=incident,
        body=spec["resolved"],
        deliver_notifications=False,
        display_at=start + timedelta(minutes=spec["minutes"]),
        actor=ACTOR,
    )


@transaction.atomic
def create_history(*, now: datetime | None = None) -> bool:
    """Write the status history, the June incident and the recent incidents, in time order.

    Returns False (writing nothing) when the June incident exists: the history was loaded.
    """
    if Incident.objects.filter(kind=IncidentKind.INCIDENT, name=JUNE_NAME).exists():
        return False
    now = now or timezone.now()
    today = now.date()
    events: list[tuple[datetime, object]] = [(JUNE_START, "june")]
    for blip in demo_blips(today):
        overlaps_june = blip.start < JUNE_END and blip.end > JUNE_START
        if blip.end < now and not overlaps_june:
            events.append((blip.start, blip))
    for spec in RECENT_INCIDENTS:
        start = datetime.combine(today - timedelta(days=spec["days_ago"]), spec["start"], UTC)
        if start > JUNE_END:
            events.append((start, spec))
    events.sort(key=lambda event: event[0])
    # Blips must not overlap an incident on the same component (its history would interleave).
    for _, event in events:
        if event == "june":
            create_june_incident()
        elif isinstance(event, Blip):
            _apply_blip(event)
        else:
            _create_recent_incident(event, today)  # type: ignore[arg-type]
    return True


def ensure_upcoming_maintenance(*, now: datetime | None = None) -> Incident | None:
    """One upcoming maintenance, a week ahead (once: looked up by name)."""
    if Incident.objects.filter(kind=IncidentKind.MAINTENANCE, name=MAINTENANCE_NAME).exists():
        return None
    now = now or timezone.now()
    start = datetime.combine(now.date() + timedelta(days=7), time(2, 0), UTC)
    return maintenance_schedule(
        name=MAINTENANCE_NAME,
        body=(
            "We are moving etcd, the database behind the us-east-1 control plane, onto its own "
            "fast disk. Runs keep executing; new runs may take a little longer to start during "
            "the window."
        ),
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=[
            _component("run-execution", "us-east-1"),
            _component("scheduled-runs", "us-east-1"),
        ],
        deliver_notifications=False,
        actor=ACTOR,
    )


def load_demo(out=None) -> dict:
    """Load everything (idempotent) and publish the snapshot. Returns what was done."""
    # One transaction: one snapshot rebuild after commit, and nothing half-loaded on failure.
    with transaction.atomic():
        ensure_catalogue(out)
        ensure_templates(out)
        history = create_history()
        if history:
            _report(
                out, "90 days of status history, the June 2026 incident and its postmortem created"
            )
        maintenance = ensure_upcoming_maintenance()
        if maintenance is not None:
            _report(out, f"maintenance {maintenance.name} scheduled")
    password, admin_created = ensure_admin(out)
    load_demo_credits()
    if load_demo_metrics():
        _report(out, "demo metrics with a week of points created")
    snapshot_publish()
    return {
        "history": history,
        "admin_password": password,
        "admin_created": admin_created,
        "admin_exists": get_user_model().objects.filter(username="admin").exists(),
    }

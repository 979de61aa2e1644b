"""Writes of the public app: snapshot releases (for web nodes without a shared disk) and the
state of the publish targets. Each function is one transaction.

These rows are the publish's own bookkeeping, written by the system after a commit, not a
person's action: a release is not audited (one per publish); a target that starts failing
or recovers is, since staff act on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from statuspage.public.models import PublishTarget, SnapshotBlob, SnapshotRelease
from statuspage.services import Actor, audit_record

RELEASES_KEPT = 5  # older releases (and the bodies only they use) are deleted
PRUNE_ABOVE = 10  # prune once there are this many, not at every publish
BLOB_GRACE = timedelta(minutes=10)  # a body younger than this may belong to a release in flight
IN_CHUNK = 500  # ids per IN (...) query: SQLite limits a query's parameters


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


@transaction.atomic
def snapshot_release_store(
    *, manifest: dict, failures: dict[str, str], read_blob: Callable[[str], bytes]
) -> SnapshotRelease:
    """Store a published manifest and the bodies it references that the database lacks
    (`read_blob(sha256)` gives a body). Every web node then copies it into its own snapshot
    directory (statuspage.public.replication)."""
    digests = sorted({entry["sha256"] for entry in manifest["documents"].values()})
    present: set[str] = set()
    for chunk in _chunks(digests):
        present.update(
            SnapshotBlob.objects.filter(sha256__in=chunk).values_list("sha256", flat=True)
        )
    SnapshotBlob.objects.bulk_create(
        [SnapshotBlob(sha256=d, body=read_blob(d)) for d in digests if d not in present],
        ignore_conflicts=True,  # another host stored the same body meanwhile
        batch_size=100,
    )
    release = SnapshotRelease.objects.create(
        generated_at=manifest["generated_at"],
        manifest=json.dumps(manifest, separators=(",", ":")),
        failures=json.dumps(failures),
    )
    if SnapshotRelease.objects.count() > PRUNE_ABOVE:
        _releases_prune()
    return release


def _releases_prune() -> None:
    """Keep the newest releases and the bodies they reference (a node may be copying one of
    them right now); bodies stored in the last minutes are kept too, as a release storing
    them may not have committed yet."""
    kept = list(SnapshotRelease.objects.all()[:RELEASES_KEPT])
    SnapshotRelease.objects.exclude(pk__in=[r.pk for r in kept]).delete()
    referenced: set[str] = set()
    for release in kept:
        documents = json.loads(release.manifest)["documents"]
        referenced.update(entry["sha256"] for entry in documents.values())
    stale = SnapshotBlob.objects.filter(created_at__lt=timezone.now() - BLOB_GRACE).values_list(
        "sha256", flat=True
    )
    unused = [digest for digest in stale if digest not in referenced]
    for chunk in _chunks(unused):
        SnapshotBlob.objects.filter(sha256__in=chunk).delete()


@transaction.atomic
def publish_target_succeeded(*, target: str, host: str = "") -> PublishTarget:
    """An export to `target` succeeded: clear its failure (audited when it was failing)."""
    row, _ = PublishTarget.objects.select_for_update().get_or_create(target=target, host=host)
    was_failing = row.failing_since is not None
    row.ok_at = timezone.now()
    row.failing_since = None
    row.error = ""
    row.attempts = 0
    row.save()
    if was_failing:
        audit_record(
            actor=Actor.system("publish"),
            action="publish_target.recovered",
            obj=row,
            summary=f"The public site is exported to {row} again",
        )
    return row


@transaction.atomic
def publish_target_failed(*, target: str, error: str, host: str = "") -> PublishTarget:
    """An export to `target` failed: record since when and why (audited when it starts)."""
    row, _ = PublishTarget.objects.select_for_update().get_or_create(target=target, host=host)
    started = row.failing_since is None
    if started:
        row.failing_since = timezone.now()
    row.error = error[:500]
    row.attempts += 1
    row.save()
    if started:
        audit_record(
            actor=Actor.system("publish"),
            action="publish_target.failing",
            obj=row,
            summary=f"The public site could not be exported to {row}: {row.error}",
        )
    return row

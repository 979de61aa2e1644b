"""What the public app keeps in the database: the published snapshot, for web nodes that do
not share a disk, and the state of each publish target.

The snapshot is rendered once per change by whichever process committed the change; it is
written to that host's `SNAPSHOT_DIR` and stored here as a release (its manifest) plus the
content-addressed bodies it references. Every web node copies the newest release into its
own `SNAPSHOT_DIR` (`statuspage.public.replication`) and serves from there, so reading the
page never touches the database, and keeps working while it is down.
"""

from __future__ import annotations

from django.db import models


class SnapshotRelease(models.Model):
    """One published snapshot: its manifest (see `statuspage.public.snapshot`), as JSON.

    The newest is the one with the latest `generated_at` (the moment its render started), not
    the latest row: two hosts may publish at once, and the one that read the database last
    must win even if it finished first."""

    generated_at = models.FloatField(db_index=True)  # epoch seconds, as in the manifest
    manifest = models.TextField()
    failures = models.TextField(default="{}")  # documents that failed to render: path → error
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-generated_at", "-id"]

    def __str__(self) -> str:
        return f"snapshot release {self.pk} ({self.generated_at:.3f})"


class SnapshotBlob(models.Model):
    """A document body, by its SHA-256 (shared by every release that references it)."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.sha256


class PublishTarget(models.Model):
    """The state of one publish target (HELIOGRAPH_PUBLISH_TARGETS) as last exported to.

    A directory belongs to the host that writes it, so its `host` is that host's name; a
    bucket is shared by every host (`host` empty). A row whose `failing_since` is set is shown
    on the console dashboard and tried again by beat."""

    target = models.CharField(max_length=500)
    host = models.CharField(max_length=255, blank=True, default="")
    ok_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)  # failed attempts since failing_since

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["target", "host"], name="public_target_host_unique")
        ]

    def __str__(self) -> str:
        return f"{self.target} on {self.host}" if self.host else self.target

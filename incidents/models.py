"""Incidents and scheduled maintenance, their timeline of updates, postmortems and templates.

A scheduled maintenance is an incident of kind `maintenance` with a window, as in the
status-page JSON that consumers already read (a scheduled_maintenance is an incident plus
scheduled_for / scheduled_until). Rows are written only by `incidents.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from statuspage.models import ComponentStatus, new_public_id


class IncidentKind(models.TextChoices):
    INCIDENT = "incident", _("Incident")
    MAINTENANCE = "maintenance", _("Scheduled maintenance")


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", _("Investigating")
    IDENTIFIED = "identified", _("Identified")
    MONITORING = "monitoring", _("Monitoring")
    RESOLVED = "resolved", _("Resolved")
    POSTMORTEM = "postmortem", _("Postmortem")
    SCHEDULED = "scheduled", _("Scheduled")
    IN_PROGRESS = "in_progress", _("In progress")
    VERIFYING = "verifying", _("Verifying")
    COMPLETED = "completed", _("Completed")


INCIDENT_STATUSES = ["investigating", "identified", "monitoring", "resolved"]
MAINTENANCE_STATUSES = ["scheduled", "in_progress", "verifying", "completed"]
OPEN_INCIDENT_STATUSES = ["investigating", "identified", "monitoring"]
ACTIVE_MAINTENANCE_STATUSES = ["in_progress", "verifying"]
CLOSED_STATUSES = ["resolved", "postmortem", "completed"]


class Impact(models.TextChoices):
    NONE = "none", pgettext_lazy("impact", "None")
    MINOR = "minor", pgettext_lazy("impact", "Minor")
    MAJOR = "major", pgettext_lazy("impact", "Major")
    CRITICAL = "critical", pgettext_lazy("impact", "Critical")
    MAINTENANCE = "maintenance", pgettext_lazy("impact", "Maintenance")


class Incident(models.Model):
    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    kind = models.CharField(
        max_length=16, choices=IncidentKind.choices, default=IncidentKind.INCIDENT, db_index=True
    )
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=IncidentStatus.choices, db_index=True)
    impact = models.CharField(max_length=16, choices=Impact.choices, default=Impact.MINOR)
    components = models.ManyToManyField(
        "statuspage.Component", blank=True, related_name="incidents"
    )
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    monitoring_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Maintenance window (kind=maintenance only).
    scheduled_for = models.DateTimeField(null=True, blank=True)
    scheduled_until = models.DateTimeField(null=True, blank=True)
    scheduled_auto_in_progress = models.BooleanField(default=True)
    scheduled_auto_completed = models.BooleanField(default=True)
    # A maintenance called off (`maintenance_cancel`): closed like a completed one, and shown
    # as cancelled in the calendars, which must remove it rather than lose track of it.
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The revision of what the public sees of it: raised by every service that changes it
    # (`incidents.services`), never lowered, so a calendar (the iCalendar SEQUENCE of
    # /maintenance.ics) knows that a reschedule, a rename or a cancellation replaces what it
    # has. `updated_at` cannot serve: a backdated update leaves it as it was.
    sequence = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("run_console", "Can use the incident console")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"/incidents/{self.public_id}"

    @property
    def is_maintenance(self) -> bool:
        return self.kind == IncidentKind.MAINTENANCE

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES


class IncidentUpdate(models.Model):
    """One entry of an incident's timeline. Append-only apart from edits of the body text.

    The component status changes an update made are `ComponentStatusChange` rows pointing
    at it (old → new), so the JSON's affected_components is derived, never stored twice.
    """

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=16, choices=IncidentStatus.choices)
    body = models.TextField(help_text="Markdown")
    body_html = models.TextField(editable=False, help_text="Sanitized HTML rendered from body")
    display_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    deliver_notifications = models.BooleanField(default=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-display_at", "-id"]

    def __str__(self) -> str:
        return f"{self.incident}: {self.status} at {self.display_at:%Y-%m-%d %H:%M}"


class UpdateTranslation(models.Model):
    """A staff-written translation of an update's text into one of the page's languages
    (`statuspage.languages`): optional, shown to that language's visitors and sent to its
    subscribers instead of the text the update was written in."""

    update = models.ForeignKey(
        IncidentUpdate, on_delete=models.CASCADE, related_name="translations"
    )
    language = models.CharField(max_length=8)
    body = models.TextField(help_text="Markdown")
    body_html = models.TextField(editable=False, help_text="Sanitized HTML rendered from body")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["update", "language"], name="one_translation_per_language"
            )
        ]
        ordering = ["language"]

    def __str__(self) -> str:
        return f"{self.update} ({self.language})"


class Postmortem(models.Model):
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    body = models.TextField(help_text="Markdown")
    body_html = models.TextField(editable=False)
    published_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Postmortem: {self.incident}"


class IncidentTemplate(models.Model):
    """Prepared text a commander starts from (e.g. "Region down: runs not starting")."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(
        max_length=16, choices=IncidentKind.choices, default=IncidentKind.INCIDENT
    )
    title = models.CharField(max_length=255, blank=True, help_text="Incident name")
    status = models.CharField(
        max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.INVESTIGATING
    )
    impact = models.CharField(max_length=16, choices=Impact.choices, default=Impact.MINOR)
    component_status = models.CharField(
        max_length=32,
        choices=ComponentStatus.choices,
        blank=True,
        help_text="Status suggested for the affected components",
    )
    body = models.TextField(help_text="Markdown")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

"""The catalogue: regions, services, components (a service in a region, or a global service),
the history of every component status change, and the audit trail of staff actions.

Rows here are written only by the service functions in `statuspage.services` and
`incidents.services`; everything else reads.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def new_public_id() -> str:
    """A short opaque id, as status-page JSON consumers expect (never the database key)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


class ComponentStatus(models.TextChoices):
    OPERATIONAL = "operational", _("Operational")
    DEGRADED_PERFORMANCE = "degraded_performance", _("Degraded performance")
    PARTIAL_OUTAGE = "partial_outage", _("Partial outage")
    MAJOR_OUTAGE = "major_outage", _("Major outage")
    UNDER_MAINTENANCE = "under_maintenance", _("Under maintenance")


class Region(models.Model):
    slug = models.SlugField(max_length=64, unique=True, help_text="e.g. us-east-1")
    name = models.CharField(max_length=200, help_text='e.g. "US East (N. Virginia)"')
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return self.slug


class ServiceGroup(models.Model):
    """An optional heading that services are listed under on the public page."""

    name = models.CharField(max_length=200, unique=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """Something customers use: run execution, the API, the dashboard.

    A service is offered in one or more regions (one component per region) or globally
    (one component with no region).
    """

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=255, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    group = models.ForeignKey(
        ServiceGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="services"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Component(models.Model):
    """A service in a region, or a global service (region is null). It carries a status."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="components")
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.PROTECT, related_name="components"
    )
    status = models.CharField(
        max_length=32, choices=ComponentStatus.choices, default=ComponentStatus.OPERATIONAL
    )
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    showcase = models.BooleanField(default=True)
    only_show_if_degraded = models.BooleanField(default=False)
    start_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service__position", "service__name", "region__position", "region__slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "region"], name="component_unique_service_region"
            ),
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(region__isnull=True),
                name="component_unique_global_service",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        if self.region_id is None:
            return self.service.name
        return f"{self.service.name} ({self.region.slug})"


class ComponentStatusChange(models.Model):
    """One row per status change of a component: the history uptime is computed from.

    Append-only. `actor_name` keeps who did it even for API tokens and beat (no user row).
    """

    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="status_changes"
    )
    old_status = models.CharField(max_length=32, choices=ComponentStatus.choices)
    new_status = models.CharField(max_length=32, choices=ComponentStatus.choices)
    created_at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="status_changes",
    )
    incident_update = models.ForeignKey(
        "incidents.IncidentUpdate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="status_changes",
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["component", "created_at"])]

    def __str__(self) -> str:
        return f"{self.component}: {self.old_status} → {self.new_status}"


class AuditEntry(models.Model):
    """Who did what, when: one row per staff, API or beat action, written by the services."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=200)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name}: {self.action}"

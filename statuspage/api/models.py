"""Models of the automation API: API tokens. Registered with the statuspage app.

A token is shown once when it is created; only the SHA-256 of it is stored, so a database
leak does not leak working tokens. The recognisable prefix (`hg_`) lets secret scanners and
humans spot a Heliograph token pasted where it should not be.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = ["ApiScope", "ApiToken"]


class ApiScope(models.TextChoices):
    """What a token may do. `read` covers every GET; each other scope covers the writes of
    its area (and does not imply `read`)."""

    READ = "read", "Read everything but credits"
    INCIDENTS = "incidents", "Incidents, updates, maintenance, postmortems"
    COMPONENTS = "components", "Regions, services, components and their statuses"
    SUBSCRIBERS = "subscribers", "Subscribers and channels"
    CREDITS = "credits", "Credit policies, credit reports, spend"


class ApiToken(models.Model):
    name = models.CharField(max_length=200, help_text="Who uses it, e.g. deploy-bot")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=16, editable=False, help_text="The first characters, to recognise the token"
    )
    scopes = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "statuspage_apitoken"
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])

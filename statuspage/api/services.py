"""Writes of the automation API: tokens, and the bulk actions.

The bulk actions compose the ordinary service functions (component_set_status,
incident_post_update) inside ONE transaction after validating every item first, so either
every change is made — with its history, audit entry and notifications — or none is.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import CLOSED_STATUSES, Incident, IncidentUpdate
from incidents.services import incident_post_update
from statuspage.api.models import ApiScope, ApiToken
from statuspage.models import Component
from statuspage.services import (
    Actor,
    audit_record,
    component_set_status,
    validate_component_status,
)

if TYPE_CHECKING:
    pass

TOKEN_PREFIX = "hg_"
# Audit and history rows keep "api:<name>" in 200 characters.
MAX_TOKEN_NAME = 190
# last_used_at is written at most this often per token, so a busy script does not turn every
# request into a row update.
LAST_USED_RESOLUTION = timedelta(seconds=60)
MAX_BULK_ITEMS = 10000


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(
    *, name: str, actor: Actor, scopes: Iterable[str] | None = None
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is not stored and cannot be shown
    again. All scopes when `scopes` is None."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "The token needs a name."})
    if len(name) > MAX_TOKEN_NAME:
        raise ValidationError({"name": f"The name is longer than {MAX_TOKEN_NAME} characters."})
    scope_list = list(ApiScope.values) if scopes is None else list(dict.fromkeys(scopes))
    unknown = [s for s in scope_list if s not in ApiScope.values]
    if unknown:
        raise ValidationError(
            {"scopes": f"Unknown scope {', '.join(unknown)}; use " + ", ".join(ApiScope.values)}
        )
    if not scope_list:
        raise ValidationError({"scopes": "A token needs at least one scope."})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            name=name,
            token_hash=token_hash(raw),
            prefix=raw[:10],
            scopes=scope_list,
            created_by=actor.user if getattr(actor.user, "pk", None) else None,
        )
        audit_record(
            actor=actor,
            action="api_token.create",
            obj=token,
            summary=f"{name}: {', '.join(scope_list)}",
        )
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: Actor) -> ApiToken:
    """Revoke a token: every later request with it gets 401."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="api_token.revoke", obj=token, summary=token.name)
    return token


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The active token with this secret, or None. Records when it was last used."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.filter(token_hash=token_hash(raw), revoked_at__isnull=True).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def components_set_status_bulk(
    *, components: list[Component], status: str, actor: Actor, reason: str = ""
) -> int:
    """Set many components to one status, all or nothing. Returns how many changed."""
    validate_component_status(status)
    if not components:
        raise ValidationError({"component_ids": "No component matches."})
    if len(components) > MAX_BULK_ITEMS:
        raise ValidationError({"component_ids": f"At most {MAX_BULK_ITEMS} components at once."})
    changed = 0
    with transaction.atomic():
        for component in components:
            if (
                component_set_status(component=component, status=status, actor=actor, reason=reason)
                is not None
            ):
                changed += 1
        audit_record(
            actor=actor,
            action="component.bulk_set_status",
            summary=f"{len(components)} components → {status} ({changed} changed)",
            data={"components": [c.public_id for c in components], "reason": reason},
        )
    return changed


def incidents_post_update_bulk(
    *,
    incidents: list[Incident],
    status: str,
    body: str,
    actor: Actor,
    deliver_notifications: bool = True,
) -> list[IncidentUpdate]:
    """Post the same update to several incidents (e.g. resolve them all), all or nothing.

    Every incident is checked before anything is written, so a closed one among them refuses
    the whole call with its id named.
    """
    if not incidents:
        raise ValidationError({"incident_ids": "No incident given."})
    if len(incidents) > MAX_BULK_ITEMS:
        raise ValidationError({"incident_ids": f"At most {MAX_BULK_ITEMS} incidents at once."})
    closed = [i.public_id for i in incidents if i.status in CLOSED_STATUSES]
    if closed:
        raise ValidationError(
            {"incident_ids": f"Already closed, takes no more updates: {', '.join(closed)}"}
        )
    kinds = {i.kind for i in incidents}
    if len(kinds) > 1:
        raise ValidationError(
            {"incident_ids": "Incidents and maintenances cannot take the same update."}
        )
    with transaction.atomic():
        updates = [
            incident_post_update(
                incident=incident,
                status=status,
                body=body,
                actor=actor,
                deliver_notifications=deliver_notifications,
            )
            for incident in incidents
        ]
        audit_record(
            actor=actor,
            action="incident.bulk_update",
            summary=f"{len(incidents)} incidents → {status}",
            data={"incidents": [i.public_id for i in incidents]},
        )
    return updates


def subscriber_change_audited(*, actor: Actor, action: str, change: Any, **kwargs: Any) -> Any:
    """Run a notifier subscriber function (subscribe, update preferences, unsubscribe — made
    for the public pages, so they write no audit entry) and audit it as the API token, in one
    transaction."""
    with transaction.atomic():
        result = change(**kwargs)
        subscriber = result if result is not None else kwargs.get("subscriber")
        audit_record(
            actor=actor,
            action=action,
            obj=subscriber,
            summary=str(subscriber) if subscriber is not None else kwargs.get("email", ""),
        )
    return result

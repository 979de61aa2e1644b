"""Writes of the automation API's own rows: API tokens (create, revoke, authenticate).

What the API's handlers change in the catalogue, incidents, the notifier, metrics and
credits is written by those apps' services; this module only keeps the tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from statuspage.api.models import ApiScope, ApiToken
from statuspage.services import Actor, audit_record
from statuspage.text import clean_text

TOKEN_PREFIX = "hg_"
# Audit and history rows keep "api:<name>" in 200 characters.
MAX_TOKEN_NAME = 190
# last_used_at is written at most this often per token, so a busy script does not turn every
# request into a row update.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(
    *, name: str, actor: Actor, scopes: Iterable[str] | None = None
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is not stored and cannot be shown
    again. All scopes when `scopes` is None."""
    name = clean_text(name or "", field="name", single_line=True)
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

"""Deployment checks of our own, run by `manage.py check --deploy`.

Django's own check (security.W009) only warns about a weak SECRET_KEY, and does not know our
development key, which is long and varied but public (it is written in settings.py). A
production site signing sessions, CSRF tokens and subscriber links with it can be forged by
anyone, so running on it is an error here, not a warning.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

# The same bar as Django's security.W009: shorter or less varied keys are guessable.
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5


@register(Tags.security, deploy=True)
def check_secret_key(app_configs, **kwargs) -> list[Error]:
    """SECRET_KEY must be private and strong before the site is deployed."""
    key = settings.SECRET_KEY
    if key == settings.INSECURE_DEV_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is Heliograph's public development key"
                + (" and DEBUG=0" if not settings.DEBUG else "")
                + ": anyone can forge sessions, CSRF tokens and subscriber links.",
                hint='Set SECRET_KEY to a long random value (python -c "import secrets; '
                'print(secrets.token_urlsafe(50))") and unset HELIOGRAPH_INSECURE_DEV_KEY.',
                id="heliograph.E001",
            )
        ]
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS:
        return [
            Error(
                f"SECRET_KEY is empty or weak: it needs at least {MIN_SECRET_KEY_LENGTH} "
                f"characters and {MIN_SECRET_KEY_UNIQUE_CHARACTERS} different ones.",
                hint='Set SECRET_KEY to a long random value (python -c "import secrets; '
                'print(secrets.token_urlsafe(50))").',
                id="heliograph.E002",
            )
        ]
    return []

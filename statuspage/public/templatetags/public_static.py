"""`{% public_static "path" %}`: the URL of a static file for the published snapshot.

Like `{% static %}`, but when the hashed-names manifest does not exist yet (the snapshot is
rendered by `load_demo` or a first publish before `collectstatic` ran) it falls back to the
plain URL, which WhiteNoise serves as well, instead of failing the whole publish. The snapshot
fingerprint includes the manifest, so the next publish after `collectstatic` re-renders
everything with hashed URLs.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.templatetags.static import static

register = template.Library()


@register.simple_tag
def public_static(path: str) -> str:
    try:
        return static(path)
    except ValueError:  # no staticfiles manifest yet
        return settings.STATIC_URL + path

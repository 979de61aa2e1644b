"""`{% load public_text %}`: an incident update's text in the language of the page.

`{{ update|in_language:language_code }}` gives the update's HTML as staff translated it into
that language, or as it was written when there is no translation (incident texts are never
machine translated). The choice is `incidents.selectors.update_text`'s, so the pages, the JSON
and the messages agree on which text a reader of a language sees.
"""

from __future__ import annotations

from django import template
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

from incidents.models import IncidentUpdate
from incidents.selectors import update_text
from statuspage.languages import language_normalize

register = template.Library()


@register.filter
def in_language(update: IncidentUpdate, language: str | None = None) -> SafeString:
    """The update's HTML for readers of `language`, or of the active language when the page
    gives none (templates pass `language_code|default:""`, as a missing filter argument would
    fail the render). `body_html` is sanitized when the update or translation is saved."""
    language = language_normalize(language or translation.get_language())
    return mark_safe(update_text(update, language)[1])  # noqa: S308 - sanitized on save

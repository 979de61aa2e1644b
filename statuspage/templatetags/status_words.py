"""`{% load status_words %}`: the page's words for levels and impacts (statuspage.status).

`{{ incident.impact|impact_word }}` gives "Major outage" for a critical incident, the word the
matrix shows for a component in major outage, so a badge, a cell and the banner speak one
language on the public page, the console and the subscriber pages alike."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext

from statuspage.status import IMPACT_WORDS

register = template.Library()


@register.filter
def impact_word(impact: str) -> str:
    """The public word of an incident's impact ("critical" → "Major outage"), in the
    language active while the template renders."""
    word = IMPACT_WORDS.get(impact)
    return gettext(word) if word else impact

"""`{% load locale_dates %}`: dates and times as the reader's language writes them, and the
language switcher's links.

`{{ update.display_at|when }}` gives "22 Jun 2026, 14:05" in English, "22. Juni 2026, 14:05"
… "2026年6月22日 14:05" in Japanese (the formats are `statuspage.languages.DATE_FORMATS`, the
month names Django's own catalogues), for the language active while the template renders. The
time is always UTC in storage and on the page; templates write the zone after it.

`{% language_links page_path as links %}` gives, for the address of the page without a
language prefix, one link per language: (code, name in its own language, address, current).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import dateformat, timezone, translation

from statuspage import languages

register = template.Library()


def when(value: datetime | None, kind: str = "datetime") -> str:
    """`value` (in UTC) written as the active language writes a date and time of `kind`
    (datetime, short, date, month); "" for None."""
    if value is None or value == "":
        return ""
    language = languages.language_normalize(translation.get_language()) or languages.DEFAULT
    formats = languages.DATE_FORMATS[language]
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = value.astimezone(UTC)
    return dateformat.format(value, formats.get(kind, formats["datetime"]))


register.filter("when", when)


@register.simple_tag(takes_context=True)
def language_links(context: template.Context, page_path: str) -> list[dict]:
    """The switcher: every language's address of this page; the current one marked."""
    current = context.get("language_code") or translation.get_language()
    return [
        {
            "code": code,
            "name": name,
            "url": languages.language_path(code, page_path),
            "current": code == current,
        }
        for code, name in languages.LANGUAGES
    ]

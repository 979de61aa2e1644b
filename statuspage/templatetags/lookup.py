"""`{% load lookup %}`: `{{ mapping|get_item:key }}`, a dict entry by a key from the template
(e.g. what an incident page's provider computed per update, keyed by the update's id)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """`mapping[key]`, or None when there is no mapping or no such key."""
    if not hasattr(mapping, "get"):
        return None
    return mapping.get(key)

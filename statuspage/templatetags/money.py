"""`{% load money %}`: `{{ amount|money }}`, an amount as staff read it: thousands separators and
two decimals ("12,345.60"), in a right-aligned `.num` cell so the figures line up."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def money(amount) -> str:
    """Two decimals with thousands separators; anything that is not a number as it is."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    return f"{value:,.2f}"

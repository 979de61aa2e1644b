"""The add-on refund rule, in exact fractions: refund what the customer paid for a
concurrency add-on minus what the credit already gives back for the same charges.

The seed report promises two things that overlap: "everything you spent over the three
days" is credited (add-on charges inside the window are spending too), and "if you paid for
more concurrency during the incident … we'll refund you". Refunding the add-on in full on
top of the credit would pay its in-window part twice. So, per account (docs/credits.md,
"Add-on refunds"):

- *paid* = the sum of the add-on charges (the report's add-ons of the account);
- *in window* = the part of each charge inside the window: a charge at a point in time is
  inside whole or not at all, a charge for a period counts by the share of the period inside
  the window (`amount × |period ∩ window| / |period|`), exactly, as a fraction;
- *in credit* = what the credit gives back of it: the in-window part, scaled by
  `credit / spend` when the cap lowered the credit, and never more than the credit itself;
  an account with no credit line gets nothing back (0);
- *refund* = *paid* − *in credit*, never negative, for approved requests only.

*paid* and *in credit* are rounded once each, per account, to the cent, half up; the refund
is the difference of the two rounded amounts, so the columns of the CSV add up. Each charge's
share (for one refund per charge in Stripe) is apportioned by largest remainder, so the
shares add up to the account's amounts to the cent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

MICROS_PER_CENT = 10_000
_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class AddonCharge:
    """One add-on charge: at `occurred_at`, or for the period [`period_start`, `period_end`)."""

    amount_micros: int
    occurred_at: datetime | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None


@dataclass(frozen=True)
class AddonSplit:
    """An account's add-on figures in cents, and each charge's share of them (same order)."""

    paid_cents: int
    in_credit_cents: int
    refund_cents: int
    charges: tuple[tuple[int, int, int], ...]  # (paid, in credit, refund) per charge


def in_window_micros(charge: AddonCharge, start: datetime, end: datetime) -> Fraction:
    """The part of a charge inside [start, end), in micro-units, exactly."""
    if charge.occurred_at is not None:
        inside = start <= charge.occurred_at < end
        return Fraction(charge.amount_micros if inside else 0)
    assert charge.period_start is not None and charge.period_end is not None
    overlap = min(charge.period_end, end) - max(charge.period_start, start)
    if overlap <= timedelta(0):
        return Fraction(0)
    duration = charge.period_end - charge.period_start
    return Fraction(charge.amount_micros) * Fraction(overlap // _US, duration // _US)


def round_half_up(value: Fraction) -> int:
    """To the nearest integer, halves away from zero (as the report rounds spend)."""
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def to_cents(micros: Fraction) -> int:
    return round_half_up(micros / MICROS_PER_CENT)


def apportion(total: int, weights: Sequence[Fraction]) -> list[int]:
    """Split `total` cents over `weights` (≥ 0) by largest remainder: the parts add up."""
    if not weights:
        return []
    whole = sum(weights, Fraction(0))
    if total <= 0 or whole <= 0:
        return [0] * len(weights) if total <= 0 else [total] + [0] * (len(weights) - 1)
    exact = [Fraction(total) * w / whole for w in weights]
    parts = [math.floor(x) for x in exact]
    rest = total - sum(parts)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:rest]:
        parts[i] += 1
    return parts


def addon_split(
    charges: Sequence[AddonCharge],
    *,
    start: datetime,
    end: datetime,
    spend_cents: int,
    credit_cents: int,
    cap_applied: bool,
    refund_approved: bool,
) -> AddonSplit:
    """Apply the rule of this module to one account's add-on charges."""
    paid = [Fraction(c.amount_micros) for c in charges]
    window = [in_window_micros(c, start, end) for c in charges]
    factor = Fraction(1)
    if cap_applied and spend_cents > 0:
        factor = Fraction(credit_cents, spend_cents)
    given = [max(Fraction(0), w * factor) for w in window]
    limit = Fraction(max(credit_cents, 0) * MICROS_PER_CENT)
    total_given = sum(given, Fraction(0))
    if total_given > limit:  # the credit cannot give back more than it is
        given = [g * limit / total_given for g in given] if total_given else given
        total_given = limit
    paid_cents = max(0, to_cents(sum(paid, Fraction(0))))
    in_credit_cents = min(max(0, to_cents(total_given)), paid_cents)
    refund_cents = paid_cents - in_credit_cents if refund_approved else 0
    paid_parts = apportion(paid_cents, [max(Fraction(0), p) for p in paid])
    credit_parts = apportion(in_credit_cents, given)
    owed = [max(Fraction(0), p - g) for p, g in zip(paid, given, strict=True)]
    refund_parts = apportion(refund_cents, owed)
    return AddonSplit(
        paid_cents=paid_cents,
        in_credit_cents=in_credit_cents,
        refund_cents=refund_cents,
        charges=tuple(zip(paid_parts, credit_parts, refund_parts, strict=True)),
    )

"""The add-on refund rule (docs/credits.md, "Add-on refunds"): the refund for a concurrency
add-on is what was paid for it minus what the credit already gives back of the same charges
(their in-window part), never negative — checked against exact fractions, for add-ons bought
before, inside and straddling the window, with and without a cap."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from credits_helpers import ACTOR, END, START, add_accounts, add_spend, charge, make_policy
from django.core.exceptions import ValidationError

from incidents.credits import services
from incidents.credits.addons import AddonCharge, addon_split, apportion, round_half_up
from incidents.credits.models import Account, CreditReportAddon, SpendRecord

pytestmark = pytest.mark.django_db

HEADER = "account_id,amount,currency,occurred_at,period_start,period_end,region,kind,charge_id"


def _cents(micros: Fraction) -> int:
    """Round once to the cent, half up: the expected value, computed independently."""
    cents = micros / 10_000
    return int(cents + Fraction(1, 2)) if cents >= 0 else -int(-cents + Fraction(1, 2))


def _spend(*rows: str) -> None:
    services.spend_import(source=io.StringIO(HEADER + "\n" + "\n".join(rows) + "\n"), actor=ACTOR)


def _request_approved(policy, account_id: str, charge_ids=()):
    request = services.refund_request_record(
        policy=policy,
        account=Account.objects.get(external_id=account_id),
        actor=ACTOR,
        message="We bought more concurrency because runs did not start.",
        charge_ids=list(charge_ids),
    )
    return services.refund_request_decide(
        request=request, actor=ACTOR, approve=True, reason="bought during the incident"
    )


def test_the_rule_against_exact_fractions_before_inside_and_straddling():
    window = (START, END)  # 3 days
    # Straddling: 30 days from 10 June 00:00 to 10 July, 90.00 → in window 3/30 of it = 9.00.
    straddle = AddonCharge(
        90_000_000,
        period_start=datetime(2026, 6, 10, tzinfo=UTC),
        period_end=datetime(2026, 7, 10, tzinfo=UTC),
    )
    # Inside: a point charge at 22 June → whole.
    inside = AddonCharge(25_000_000, occurred_at=datetime(2026, 6, 22, 20, tzinfo=UTC))
    # Before: a point charge on 20 June → nothing in the window.
    before = AddonCharge(40_000_000, occurred_at=datetime(2026, 6, 20, 23, tzinfo=UTC))
    # A period of 7 hours, 2 of them before the window: 5/7 in it (not a whole cent).
    odd = AddonCharge(
        10_000_000,
        period_start=datetime(2026, 6, 20, 22, tzinfo=UTC),
        period_end=datetime(2026, 6, 21, 5, tzinfo=UTC),
    )
    cases = [
        ([straddle], Fraction(90_000_000) * 3 / 30),
        ([inside], Fraction(25_000_000)),
        ([before], Fraction(0)),
        ([odd], Fraction(10_000_000) * 5 / 7),
        (
            [straddle, inside, before, odd],
            Fraction(9_000_000 + 25_000_000) + Fraction(50_000_000, 7),
        ),
    ]
    for charges, in_window in cases:
        paid = sum(c.amount_micros for c in charges)
        split = addon_split(
            charges,
            start=window[0],
            end=window[1],
            spend_cents=100_000,
            credit_cents=100_000,
            cap_applied=False,
            refund_approved=True,
        )
        assert split.paid_cents == _cents(Fraction(paid))
        assert split.in_credit_cents == _cents(in_window)
        assert split.refund_cents == split.paid_cents - split.in_credit_cents >= 0
        assert sum(p for p, _, _ in split.charges) == split.paid_cents
        assert sum(c for _, c, _ in split.charges) == split.in_credit_cents
        assert sum(r for _, _, r in split.charges) == split.refund_cents
    # 10.00 × 5/7 = 7.142857… → 7.14 in the credit, 2.86 refunded: 10.00 paid once, not 17.14.
    odd_split = addon_split(
        [odd],
        start=START,
        end=END,
        spend_cents=714,
        credit_cents=1000,
        cap_applied=False,
        refund_approved=True,
    )
    assert (odd_split.in_credit_cents, odd_split.refund_cents) == (714, 286)


def test_a_capped_credit_gives_back_its_share_and_no_more_than_itself():
    inside = AddonCharge(300_000_000, occurred_at=datetime(2026, 6, 22, tzinfo=UTC))
    # Spend 1,000.00 capped at 400.00: the credit gives back 40 % of every charge.
    split = addon_split(
        [inside],
        start=START,
        end=END,
        spend_cents=100_000,
        credit_cents=40_000,
        cap_applied=True,
        refund_approved=True,
    )
    assert split.in_credit_cents == _cents(Fraction(300_000_000) * Fraction(40_000, 100_000))
    assert (split.paid_cents, split.in_credit_cents, split.refund_cents) == (30000, 12000, 18000)
    # Negative spend elsewhere left a credit smaller than the add-on: at most the credit.
    small = addon_split(
        [inside],
        start=START,
        end=END,
        spend_cents=1000,
        credit_cents=1000,
        cap_applied=False,
        refund_approved=True,
    )
    assert (small.in_credit_cents, small.refund_cents) == (1000, 29000)
    # No credit at all (not eligible): the whole add-on is refunded.
    none = addon_split(
        [inside],
        start=START,
        end=END,
        spend_cents=0,
        credit_cents=0,
        cap_applied=False,
        refund_approved=True,
    )
    assert (none.in_credit_cents, none.refund_cents) == (0, 30000)
    # Not approved: no refund, the figures still shown.
    asked = addon_split(
        [inside],
        start=START,
        end=END,
        spend_cents=0,
        credit_cents=0,
        cap_applied=False,
        refund_approved=False,
    )
    assert (asked.paid_cents, asked.refund_cents) == (30000, 0)


def test_rounding_helpers():
    assert [round_half_up(Fraction(n, 2)) for n in (1, 3, -1, -3)] == [1, 2, -1, -2]
    assert apportion(10, [Fraction(1), Fraction(1), Fraction(1)]) == [4, 3, 3]
    assert apportion(0, [Fraction(1)]) == [0]


def test_the_report_applies_the_rule_to_accounts_before_inside_and_straddling():
    add_accounts(
        "inside,Inside,pro,true,USD",
        "straddle,Straddle,pro,true,USD",
        "before,Before,pro,true,USD",
        "asked,Asked not approved,pro,true,USD",
        "capped,Capped,team,true,USD",
    )
    _spend(
        "inside,50.00,USD,2026-06-22T21:00Z,,,,concurrency_addon,ch_inside",
        "inside,5.00,USD,2026-06-22T10:00Z,,,,usage,",
        "straddle,90.00,USD,,2026-06-10T00:00Z,2026-07-10T00:00Z,,concurrency_addon,ch_straddle",
        "before,40.00,USD,2026-06-20T23:00Z,,,,concurrency_addon,ch_before",
        "before,12.00,USD,2026-06-22T10:00Z,,,,usage,",
        "asked,25.00,USD,2026-06-22T21:00Z,,,,concurrency_addon,ch_asked",
        "capped,300.00,USD,2026-06-22T21:00Z,,,,concurrency_addon,ch_capped",
        "capped,700.00,USD,2026-06-22T10:00Z,,,,usage,",
    )
    policy = make_policy(minimum="10.00", cap="400.00", invoice_month="2026-06")
    for account, charges in [
        ("inside", ()),
        ("straddle", ()),
        ("before", ["ch_before"]),
        ("capped", ()),
    ]:
        _request_approved(policy, account, charges)
    services.refund_request_record(
        policy=policy, account=Account.objects.get(external_id="asked"), actor=ACTOR
    )
    report = services.credit_report_run(policy=policy, actor=ACTOR)
    got = {
        line.account_external_id: (
            line.credit_cents,
            line.addon_paid_cents,
            line.addon_in_credit_cents,
            line.addon_refund_cents,
        )
        for line in report.lines.all()
    }
    assert got == {
        # 55.00 spent (the add-on is spend): credit 55.00 gives back the 50.00 add-on.
        "inside": (5500, 5000, 5000, 0),
        # The 90.00 period straddles: 9.00 of it is in the credit, 81.00 refunded.
        # (9.00 in the window is below the 10.00 minimum: the credit is the minimum.)
        "straddle": (1000, 9000, 900, 8100),
        # Bought before the window (named by the request): nothing in the credit, all back.
        "before": (1200, 4000, 0, 4000),
        # Asked but not approved: shown, not refunded.
        "asked": (2500, 2500, 2500, 0),
        # 1,000.00 spent, capped at 400.00: 40 % of the 300.00 add-on is in the credit.
        "capped": (40000, 30000, 12000, 18000),
    }
    addon = CreditReportAddon.objects.get(report=report, charge_id="ch_straddle")
    assert (addon.paid_cents, addon.in_credit_cents, addon.refund_cents) == (9000, 900, 8100)
    [usd] = report.totals.all()
    assert usd.addon_refund_cents == 8100 + 4000 + 18000


def test_a_refund_request_names_only_add_ons_of_its_account():
    add_accounts("x,X,pro,true,USD", "y,Y,pro,true,USD")
    _spend("y,40.00,USD,2026-06-20T23:00Z,,,,concurrency_addon,ch_y")
    policy = make_policy()
    with pytest.raises(ValidationError, match="not a concurrency add-on of x"):
        services.refund_request_record(
            policy=policy,
            account=Account.objects.get(external_id="x"),
            actor=ACTOR,
            charge_ids=["ch_y"],
        )
    request = services.refund_request_record(
        policy=policy,
        account=Account.objects.get(external_id="y"),
        actor=ACTOR,
        charge_ids=["ch_y"],
    )
    with pytest.raises(ValidationError, match="say why"):
        services.refund_request_decide(request=request, actor=ACTOR, approve=False, reason=" ")
    refused = services.refund_request_decide(
        request=request, actor=ACTOR, approve=False, reason="bought before the incident"
    )
    assert refused.status == "refused" and refused.reason == "bought before the incident"
    reset = services.refund_request_record_reset(request=request, actor=ACTOR, note="back to 10")
    assert reset.concurrency_reset_at is not None
    with pytest.raises(ValidationError, match="already recorded"):
        services.refund_request_record_reset(request=request, actor=ACTOR)


def test_the_contact_form_export_is_imported_once_and_checked_whole():
    add_accounts("x,X,pro,true,USD", "y,Y,pro,true,USD")
    _spend("y,40.00,USD,2026-06-20T23:00Z,,,,concurrency_addon,ch_y")
    policy = make_policy()
    text = (
        "account_id,requested_at,contact,message,charge_ids\n"
        'y,2026-06-23T09:00Z,ops@y.example,"Please refund, we bought concurrency",ch_y\n'
        "x,,,,\n"
    )
    result = services.refund_requests_import(policy=policy, source=io.StringIO(text), actor=ACTOR)
    assert (result.created, result.unchanged) == (2, 0)
    again = services.refund_requests_import(policy=policy, source=io.StringIO(text), actor=ACTOR)
    assert (again.created, again.unchanged) == (0, 2)
    bad = "account_id,charge_ids\nnobody,\nx,ch_y\n"
    with pytest.raises(services.ImportRejected) as refused:
        services.refund_requests_import(policy=policy, source=io.StringIO(bad), actor=ACTOR)
    assert [n for n, _ in refused.value.line_errors] == [2, 3]
    assert policy.refund_requests.count() == 2


def test_it_checks_an_imported_refund_request_by_the_same_rule_as_one_recorded_by_hand():
    """The console, the API and the CSV import share one check (clean_text, the lengths,
    the account's add-ons): what one refuses, the others refuse with the same words."""
    add_accounts("x,X,pro,true,USD")
    policy = make_policy()
    account = Account.objects.get(external_id="x")
    bad = {
        "contact": "ops@x.example\u2028cc: attacker@example.com",  # a line break in one line
        "message": "refund\x7fplease",  # DEL: not a control an import may keep
    }
    with pytest.raises(ValidationError) as by_hand:
        services.refund_request_record(policy=policy, account=account, actor=ACTOR, **bad)
    assert set(by_hand.value.message_dict) == {"contact", "message"}
    text = 'account_id,contact,message\nx,"{contact}","{message}"\n'.format(**bad)
    with pytest.raises(services.ImportRejected) as imported:
        services.refund_requests_import(policy=policy, source=io.StringIO(text), actor=ACTOR)
    assert sorted(imported.value.line_errors) == sorted(
        (2, message[0]) for message in by_hand.value.message_dict.values()
    )
    long = "x" * (services.REFUND_MESSAGE_MAX + 1)
    with pytest.raises(services.ImportRejected, match="longer than 10,000"):
        services.refund_requests_import(
            policy=policy, source=io.StringIO(f"account_id,message\nx,{long}\n"), actor=ACTOR
        )
    assert not policy.refund_requests.exists()
    # An ANSI colour sequence is removed from the message, as from any stored body.
    services.refund_requests_import(
        policy=policy,
        source=io.StringIO("account_id,message\nx,\x1b[31mred\x1b[0m alert\n"),
        actor=ACTOR,
    )
    assert policy.refund_requests.get().message == "red alert"


def test_stripe_ids_are_imported_and_filled_in_later_without_duplicating_spend():
    add_accounts("y,Y,pro,true,USD")
    add_spend(charge("y", "40.00", "2026-06-22T23:00Z", kind="concurrency_addon"))
    result = services.spend_import(
        source=io.StringIO(HEADER + "\ny,40.00,USD,2026-06-22T23:00Z,,,,concurrency_addon,ch_y\n"),
        actor=ACTOR,
    )
    assert (result.created, result.updated) == (0, 1)
    assert list(SpendRecord.objects.values_list("charge_id", flat=True)) == ["ch_y"]
    with pytest.raises(services.ImportRejected, match="not a Stripe id"):
        services.spend_import(
            source=io.StringIO(HEADER + "\ny,1.00,USD,2026-06-22T23:00Z,,,,usage,cus_nope\n"),
            actor=ACTOR,
        )

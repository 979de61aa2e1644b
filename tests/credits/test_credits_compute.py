"""The credit formula, computed by the database: window edges, pro rata, minimum, cap,
currencies, rounding, eligibility, add-ons, diff, concurrency and reproducibility."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from credits_helpers import (
    ACTOR,
    add_accounts,
    add_spend,
    charge,
    lines,
    make_policy,
    period,
    run,
    totals,
)
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection
from django.utils import timezone

from incidents.credits import services
from incidents.credits.models import CreditReport, CreditReportLine, CreditReportStatus
from statuspage.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_window_edges_count_start_and_last_millisecond_but_not_end():
    add_accounts("a,A,pro,true,USD")
    add_spend(
        charge("a", "1.00", "2026-06-21T00:00:00Z"),  # first instant: counts
        charge("a", "20.00", "2026-06-23T23:59:59.999Z"),  # last millisecond: counts
        charge("a", "300.00", "2026-06-24T00:00:00Z"),  # the end is exclusive
        charge("a", "4000.00", "2026-06-20T23:59:59.999999Z"),  # before the start
    )
    report = run(make_policy(minimum="0"))
    assert report.status == CreditReportStatus.DONE
    assert lines(report) == {"a": ("21.00", "21.00", False, False)}


def test_periods_count_pro_rata_by_their_share_inside_the_window():
    add_accounts(
        "s,Start,pro,true,USD",
        "e,End,pro,true,USD",
        "m,Month,pro,true,USD",
        "o,Out,pro,true,USD",
        "i,In,pro,true,USD",
    )
    add_spend(
        # straddles the start: 1 of its 2 days inside → half
        period("s", "20.00", "2026-06-20T00:00Z", "2026-06-22T00:00Z"),
        # straddles the end: 6 of its 24 hours inside → a quarter
        period("e", "30.00", "2026-06-23T18:00Z", "2026-06-24T18:00Z"),
        # a month's subscription: 3 of 30 days
        period("m", "300.00", "2026-06-01T00:00Z", "2026-07-01T00:00Z"),
        # ends exactly at the start: nothing inside
        period("o", "50.00", "2026-06-20T00:00Z", "2026-06-21T00:00Z"),
        # wholly inside: counts whole
        period("i", "7.77", "2026-06-22T00:00Z", "2026-06-22T01:00Z"),
    )
    report = run(make_policy(minimum="0"))
    assert lines(report) == {
        "s": ("10.00", "10.00", False, False),
        "e": ("7.50", "7.50", False, False),
        "m": ("30.00", "30.00", False, False),
        "i": ("7.77", "7.77", False, False),
    }


def test_minimum_for_zero_and_tiny_spend_and_free_accounts_excluded():
    add_accounts(
        "zero,Zero,hobby,true,USD",
        "tiny,Tiny,hobby,true,USD",
        "big,Big,pro,true,USD",
        "free,Free,free,false,USD",
    )
    add_spend(
        charge("tiny", "0.01", "2026-06-22T12:00Z"),
        charge("big", "12.34", "2026-06-22T12:00Z"),
        charge("free", "99.00", "2026-06-22T12:00Z"),
    )
    report = run(make_policy(minimum="10.00"))
    assert lines(report) == {
        "zero": ("0.00", "10.00", True, False),
        "tiny": ("0.01", "10.00", True, False),
        "big": ("12.34", "12.34", False, False),
    }
    assert totals(report) == {"USD": (3, "32.34", 2, 0)}


def test_cap_limits_the_credit_and_is_flagged():
    add_accounts("a,A,pro,true,USD", "b,B,pro,true,USD")
    add_spend(
        charge("a", "700.00", "2026-06-22T00:00Z"), charge("b", "499.99", "2026-06-22T00:00Z")
    )
    report = run(make_policy(minimum="10.00", cap="500.00"))
    assert lines(report) == {
        "a": ("700.00", "500.00", False, True),
        "b": ("499.99", "499.99", False, False),
    }
    assert totals(report) == {"USD": (2, "999.99", 0, 1)}


def test_several_currencies_have_their_own_minimum_and_totals():
    add_accounts("u,U,pro,true,USD", "e,E,pro,true,EUR", "g,G,pro,true,GBP", "j,J,pro,true,JPY")
    add_spend(
        charge("u", "5.00", "2026-06-22T00:00Z"),
        charge("e", "25.00", "2026-06-22T00:00Z", currency="EUR"),
        charge("g", "1.00", "2026-06-22T00:00Z", currency="GBP"),
        charge("j", "1500", "2026-06-22T00:00Z", currency="JPY"),
    )
    policy = make_policy(
        minimum="10.00",
        extra=[
            services.CurrencyRule("EUR", Decimal("9.00")),
            services.CurrencyRule("GBP", Decimal("8.00")),
        ],
    )
    report = run(policy)
    assert lines(report) == {
        "u": ("5.00", "10.00", True, False),
        "e": ("25.00", "25.00", False, False),
        "g": ("1.00", "8.00", True, False),
        # no rule for JPY: credited the spend, no minimum
        "j": ("1500.00", "1500.00", False, False),
    }
    assert totals(report) == {
        "EUR": (1, "25.00", 0, 0),
        "GBP": (1, "8.00", 1, 0),
        "JPY": (1, "1500.00", 0, 0),
        "USD": (1, "10.00", 1, 0),
    }


def test_rounding_is_once_per_account_to_the_cent_half_up():
    add_accounts(
        "half,H,pro,true,USD",
        "below,B,pro,true,USD",
        "float,F,pro,true,USD",
        "sum,S,pro,true,USD",
        "third,T,pro,true,USD",
    )
    add_spend(
        charge("half", "1.125", "2026-06-22T00:00Z"),  # exactly half a cent → up
        charge("below", "1.124999", "2026-06-22T00:00Z"),  # just below → down
        charge("float", "2.675", "2026-06-22T00:00Z"),  # 2.67499999… as a float; exact here
        # three 0.004s: rounded once 0.012 → 0.01 (rounding each would give 0.00)
        charge("sum", "0.004", "2026-06-22T00:00Z"),
        charge("sum", "0.004", "2026-06-22T01:00Z"),
        charge("sum", "0.004", "2026-06-22T02:00Z"),
        # 10.00 over 3 days, 1 inside (3.333…) plus 0.002 → 3.335… → 3.34
        period("third", "10.00", "2026-06-23T00:00Z", "2026-06-26T00:00Z"),
        charge("third", "0.002", "2026-06-22T00:00Z"),
    )
    report = run(make_policy(minimum="0"))
    assert lines(report) == {
        "half": ("1.13", "1.13", False, False),
        "below": ("1.12", "1.12", False, False),
        "float": ("2.68", "2.68", False, False),
        "sum": ("0.01", "0.01", False, False),
        "third": ("3.34", "3.34", False, False),
    }


def test_region_eligibility_uses_spend_in_the_regions_but_credits_all_spend():
    add_accounts("eu,EU,pro,true,USD", "us,US,pro,true,USD", "late,Late,pro,true,USD")
    add_spend(
        charge("eu", "3.00", "2026-06-23T09:00Z", region="eu-central-1"),
        charge("eu", "40.00", "2026-06-22T09:00Z", region="us-east-1"),
        charge("us", "50.00", "2026-06-22T09:00Z", region="us-east-1"),
        # spend in the region, but outside the window: not eligible
        charge("late", "5.00", "2026-06-25T09:00Z", region="eu-central-1"),
    )
    report = run(make_policy(minimum="10.00", regions=["eu-central-1"]))
    assert lines(report) == {"eu": ("43.00", "43.00", False, False)}


def test_concurrency_addons_in_the_window_are_listed_with_amounts_and_times():
    add_accounts("a,Alpha,team,true,USD")
    add_spend(
        charge("a", "50.00", "2026-06-22T21:15Z", kind="concurrency_addon", region="eu-central-1"),
        charge("a", "25.00", "2026-06-25T10:00Z", kind="concurrency_addon"),
        charge("a", "5.00", "2026-06-22T21:15Z"),
    )
    report = run(make_policy())
    addons = list(report.addons.values_list("account_external_id", "amount_micros", "region"))
    assert addons == [("a", 50_000_000, "eu-central-1")]
    assert report.addons.get().occurred_at.isoformat() == "2026-06-22T21:15:00+00:00"
    # the add-on is spend too: it is in the credit
    assert lines(report)["a"][1] == "55.00"


def test_empty_data_gives_an_empty_report_not_an_error():
    report = run(make_policy())
    assert report.status == CreditReportStatus.DONE
    assert report.lines_count == 0
    assert list(report.totals.all()) == []


def test_same_data_same_report_and_changes_are_shown_against_the_previous_report():
    add_accounts("a,A,pro,true,USD", "b,B,pro,true,USD", "c,C,pro,true,USD")
    add_spend(charge("a", "20.00", "2026-06-22T00:00Z"), charge("b", "30.00", "2026-06-22T00:00Z"))
    policy = make_policy()
    first = run(policy)
    second = run(policy)
    assert lines(first) == lines(second)
    assert second.previous_id == first.pk
    assert (second.added_count, second.removed_count, second.changed_count) == (0, 0, 0)

    add_accounts("d,D,pro,true,USD", "c,C,pro,false,USD")  # d added, c no longer paying
    add_spend(charge("a", "1.00", "2026-06-23T00:00Z"))  # a changes
    third = run(policy)
    assert third.previous_id == second.pk
    assert (third.added_count, third.removed_count, third.changed_count) == (1, 1, 1)
    from incidents.credits.selectors import report_diff

    diff = report_diff(third)
    assert [line.account_external_id for line in diff["added"]] == ["d"]
    assert [line.account_external_id for line in diff["removed"]] == ["c"]
    assert [(old.credit, new.credit) for old, new in diff["changed"]] == [
        (Decimal("20.00"), Decimal("21.00"))
    ]
    # the earlier reports are frozen
    assert lines(second)["a"][1] == "20.00"


def test_a_second_run_while_one_is_running_is_refused():
    add_accounts("a,A,pro,true,USD")
    policy = make_policy()
    running = services.credit_report_start(policy=policy, actor=ACTOR)
    with pytest.raises(services.ReportAlreadyRunning, match="already running"):
        services.credit_report_start(policy=policy, actor=ACTOR)
    assert CreditReport.objects.filter(policy=policy).count() == 1
    # once it has finished, a new run is allowed
    services.credit_report_compute(report_id=running.pk)
    assert services.credit_report_start(policy=policy, actor=ACTOR).previous_id == running.pk


def test_an_abandoned_running_report_does_not_block_forever():
    policy = make_policy()
    stale = services.credit_report_start(policy=policy, actor=ACTOR)
    CreditReport.objects.filter(pk=stale.pk).update(
        updated_at=timezone.now()
        - timedelta(seconds=settings.HELIOGRAPH_CREDIT_REPORT_STALE_SECONDS + 1)
    )
    fresh = services.credit_report_start(policy=policy, actor=ACTOR)
    stale.refresh_from_db()
    assert stale.status == CreditReportStatus.FAILED and "abandoned" in stale.error
    assert fresh.status == CreditReportStatus.RUNNING


@pytest.mark.django_db(transaction=True)
def test_simultaneous_starts_of_one_policy_make_exactly_one_report():
    policy = make_policy()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def start() -> None:
        barrier.wait(timeout=10)
        try:
            for _attempt in range(100):
                try:
                    services.credit_report_start(policy=policy, actor=ACTOR)
                    outcomes.append("started")
                    return
                except services.ReportAlreadyRunning:
                    outcomes.append("refused")
                    return
                except OperationalError as exc:
                    # The in-memory SQLite test database locks tables instead of waiting
                    # as a file database does (its busy timeout): wait and retry likewise.
                    if "locked" not in str(exc):
                        raise
                    time.sleep(0.02)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused", "started"]
    assert CreditReport.objects.filter(policy=policy).count() == 1


def test_computing_a_done_report_again_changes_nothing():
    add_accounts("a,A,pro,true,USD")
    report = run(make_policy())
    ids = list(
        CreditReportLine.objects.filter(report=report).values_list(
            "account_external_id", "credit_cents"
        )
    )
    again = services.credit_report_compute(report_id=report.pk)
    assert again.status == CreditReportStatus.DONE
    assert again.finished_at == report.finished_at
    assert (
        list(
            CreditReportLine.objects.filter(report=report).values_list(
                "account_external_id", "credit_cents"
            )
        )
        == ids
    )


def test_policy_edit_does_not_change_what_an_old_report_means():
    add_accounts("a,A,pro,true,USD")
    policy = make_policy(minimum="10.00")
    first = run(policy)
    services.credit_policy_update(
        policy=policy,
        actor=ACTOR,
        window_start=policy.window_start,
        window_end=policy.window_end,
        rules=[services.CurrencyRule("USD", Decimal("25.00"))],
    )
    second = run(policy)
    assert lines(first)["a"][1] == "10.00" and lines(second)["a"][1] == "25.00"
    assert first.parameters["currencies"]["USD"]["minimum_cents"] == 1000
    assert AuditEntry.objects.filter(action="credits.policy_update").count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"window_end": None}, "window_end", "needs an end"),
        ({"swap": True}, "window_end", "must end after it starts"),
        ({"same": True}, "window_end", "must end after it starts"),
        ({"minimum": "-0.01"}, "minimum", "cannot be negative"),
        ({"currency": "USS"}, "currency", "not a known ISO 4217"),
        ({"minimum": "1.001"}, "minimum", "more than 2 decimal places"),
        ({"cap": "5.00"}, "cap", "below the minimum"),
        ({"invoice_month": "June"}, "invoice_month", "YYYY-MM"),
    ],
)
def test_bad_policies_are_refused_with_a_clear_message(kwargs, field, message):
    from credits_helpers import END, START

    start, end = START, END
    if kwargs.pop("swap", False):
        start, end = END, START
    if kwargs.pop("same", False):
        end = start
    if "window_end" in kwargs:
        end = kwargs.pop("window_end")
    minimum = Decimal(kwargs.pop("minimum", "10.00"))
    cap = kwargs.pop("cap", None)
    with pytest.raises(ValidationError) as caught:
        services.credit_policy_create(
            actor=ACTOR,
            window_start=start,
            window_end=end,
            rules=[
                services.CurrencyRule(
                    kwargs.pop("currency", "USD"), minimum, Decimal(cap) if cap else None
                )
            ],
            **kwargs,
        )
    assert message in " ".join(caught.value.message_dict[field])
    from incidents.credits.models import CreditPolicy

    assert CreditPolicy.objects.count() == 0

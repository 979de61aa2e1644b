"""Approving and applying credit reports through Stripe: the real `stripe` SDK against the
loopback Stripe of stripe_sink.py, which checks every request against Stripe's documented
parameters.

- four eyes: the user who computed a report cannot approve it; approving needs
  `credits.approve_report`; an approved report never changes, a recompute is a new report;
- idempotency keys: one per (report, account, kind), unique, and the same when a run is
  resumed; a run that fails half-way and is resumed applies each credit once;
- a 429 with Retry-After is waited out; an account without a Stripe id is skipped and listed;
- each account's billing contact gets one notice through the notifier's outbox.
"""

from __future__ import annotations

import csv
import io
import time

import pytest
from credits_helpers import ACTOR, START, add_accounts, add_spend, charge
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.exceptions import ValidationError

from incidents.credits import selectors, services
from incidents.credits.models import (
    ApplicationItemStatus,
    CreditApplicationItem,
    CreditReport,
    CreditReportLine,
)
from notifier.models import DirectEmail
from notifier.services import direct_emails_send
from statuspage.services import Actor

pytestmark = pytest.mark.django_db


def _user(django_user_model, name: str, *perms: str):
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-" + name)
    user.is_staff = True
    user.save()
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="credits", codename=codename)
        )
    return django_user_model.objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def alice(django_user_model):
    """Finance: computes reports (and may approve others')."""
    return _user(django_user_model, "alice", "run_credits", "approve_report")


@pytest.fixture
def bob(django_user_model):
    """The second pair of eyes."""
    return _user(django_user_model, "bob", "view_credits", "approve_report")


def _data(sink, accounts: int = 3) -> None:
    rows = []
    spend = []
    for n in range(1, accounts + 1):
        rows.append(f"a{n},Account {n},pro,true,USD,cus_a{n},billing{n}@example.com")
        sink.add_customer(f"cus_a{n}", "usd")
        spend.append(charge(f"a{n}", f"{n}0.00", "2026-06-22T10:00Z"))
    services.accounts_import(
        source=io.StringIO(
            "account_id,name,plan,paying,currency,stripe_customer_id,billing_email\n"
            + "\n".join(rows)
            + "\n"
        ),
        actor=ACTOR,
    )
    add_spend(*spend)


def _computed(alice, minimum: str = "15.00") -> CreditReport:
    policy = services.credit_policy_create(
        actor=ACTOR,
        window_start=START,
        window_end=START.replace(day=24),
        rules=[services.CurrencyRule("USD", minimum)],
        invoice_month="2026-06",
    )
    return services.credit_report_run(policy=policy, actor=Actor.for_user(alice))


def _approved(alice, bob) -> CreditReport:
    return services.credit_report_approve(report=_computed(alice), actor=Actor.for_user(bob))


def _apply(report: CreditReport, **kwargs) -> services.ApplyRun:
    application = services.credit_application_start(report=report, actor=ACTOR)
    return services.credit_application_run(application_id=application.pk, **kwargs)


# --- Four eyes ------------------------------------------------------------------------------


def test_it_refuses_approval_by_the_user_who_computed_the_report(alice, bob):
    report = _computed(alice)
    with pytest.raises(ValidationError, match="someone else must approve it"):
        services.credit_report_approve(report=report, actor=Actor.for_user(alice))
    report.refresh_from_db()
    assert report.approved_at is None
    approved = services.credit_report_approve(report=report, actor=Actor.for_user(bob))
    assert approved.approved_by == bob and selectors.report_state(approved) == "approved"


def test_it_refuses_approval_without_the_permission_or_twice(alice, bob, django_user_model):
    report = _computed(alice)
    carol = _user(django_user_model, "carol", "run_credits")
    with pytest.raises(ValidationError, match="lacks the permission credits.approve_report"):
        services.credit_report_approve(report=report, actor=Actor.for_user(carol))
    with pytest.raises(ValidationError, match="staff user"):
        services.credit_report_approve(report=report, actor=Actor.system("cron"))
    services.credit_report_approve(report=report, actor=Actor.for_user(bob))
    with pytest.raises(ValidationError, match="already approved by bob"):
        services.credit_report_approve(report=report, actor=Actor.for_user(bob))


def test_an_approved_report_never_changes_and_a_recompute_is_a_new_report_with_a_diff(
    alice, bob, stripe_sink
):
    _data(stripe_sink)
    report = _approved(alice, bob)
    before = list(CreditReportLine.objects.filter(report=report).values_list("credit_cents"))
    add_spend(charge("a1", "100.00", "2026-06-23T10:00Z"))
    # Computing the approved report again does nothing: it is not running.
    assert services.credit_report_compute(report_id=report.pk).pk == report.pk
    assert list(CreditReportLine.objects.filter(report=report).values_list("credit_cents")) == (
        before
    )
    again = services.credit_report_run(policy=report.policy, actor=Actor.for_user(alice))
    assert again.pk != report.pk and again.previous_id == report.pk
    assert (again.added_count, again.removed_count, again.changed_count) == (0, 0, 1)
    assert selectors.report_state(again) == "computed"
    with pytest.raises(ValidationError, match="not approved"):
        services.credit_application_start(report=again, actor=ACTOR)


# --- Applying -------------------------------------------------------------------------------


def test_each_credit_becomes_one_customer_balance_transaction(
    alice, bob, stripe_sink, stripe_settings
):
    _data(stripe_sink)
    report = _approved(alice, bob)
    run = _apply(report)
    assert (run.applied, run.failed) == (3, 0)
    # a1 spent 10.00 → the 15.00 minimum; a2 20.00; a3 30.00. Credits are negative amounts.
    assert [stripe_sink.balance_of(f"cus_a{n}") for n in (1, 2, 3)] == [-1500, -2000, -3000]
    created = stripe_sink.created("customer_balance_transaction")
    assert {o["currency"] for o in created} == {"usd"}
    items = list(CreditApplicationItem.objects.order_by("account_external_id"))
    assert [i.stripe_object for i in items] == [
        next(o["id"] for o in created if o["customer"] == f"cus_{i.account_external_id}")
        for i in items
    ]
    assert all(o["metadata"]["heliograph_key"] for o in created)
    assert selectors.report_state(report) == "applied"


def test_idempotency_keys_are_unique_and_stable_across_a_resumed_run(
    alice, bob, stripe_sink, stripe_settings
):
    _data(stripe_sink, accounts=6)
    report = _approved(alice, bob)
    stripe_sink.down_for = {"cus_a4", "cus_a5", "cus_a6"}  # 500s, after the SDK's 2 retries too
    first = _apply(report)
    assert (first.applied, first.failed) == (3, 3)
    assert selectors.report_state(report) == "incomplete"
    keys_first = {s.key for s in stripe_sink.seen}
    stripe_sink.down_for = set()
    second = _apply(report)  # resume: the same application, the failed items only
    assert (second.applied, second.failed) == (3, 0)
    items = CreditApplicationItem.objects.all()
    keys = [i.idempotency_key for i in items]
    assert len(set(keys)) == len(keys) == 6
    assert {s.key for s in stripe_sink.seen} == set(keys) == keys_first
    # Each key applied exactly once, whatever was sent how often.
    assert len(stripe_sink.created("customer_balance_transaction")) == 6
    assert all(
        key.endswith("-credit") and f"-{i.account_external_id}-" in key
        for key, i in zip(keys, items, strict=True)
    )
    assert selectors.report_state(report) == "applied"


def test_a_request_answered_but_not_recorded_is_not_applied_twice(
    alice, bob, stripe_sink, stripe_settings
):
    """A run that died after Stripe applied a request, before it recorded the answer: the
    resume sends it again with the same key and Stripe answers with the first result."""
    _data(stripe_sink, accounts=2)
    report = _approved(alice, bob)
    application = services.credit_application_start(report=report, actor=ACTOR)
    item = CreditApplicationItem.objects.order_by("pk").first()
    operation = services._operation(item, report, "")
    first = services.StripeGateway().send(operation)  # Stripe applied it; nothing recorded
    assert first.ok
    CreditApplicationItem.objects.filter(pk=item.pk).update(status=ApplicationItemStatus.SENDING)
    services.credit_application_run(application_id=application.pk, takeover=True)
    item.refresh_from_db()
    assert item.status == "applied" and item.stripe_object == first.object_id
    assert len(stripe_sink.created("customer_balance_transaction")) == 2
    assert [s.replayed for s in stripe_sink.seen if s.key == item.idempotency_key] == [False, True]


def test_a_429_with_retry_after_is_waited_out(alice, bob, stripe_sink, stripe_settings):
    _data(stripe_sink, accounts=1)
    report = _approved(alice, bob)
    stripe_sink.scripted_429 = [1.5]
    started = time.monotonic()
    run = _apply(report)
    assert run.applied == 1 and run.rate_limited == 1
    [refused, accepted] = stripe_sink.seen
    assert (refused.status, accepted.status) == (429, 200)
    assert accepted.at - refused.at >= 1.45  # waited what Retry-After said
    assert time.monotonic() - started >= 1.45
    assert refused.key == accepted.key
    assert len(stripe_sink.created("customer_balance_transaction")) == 1


def test_the_rate_limit_paces_requests(alice, bob, stripe_sink, stripe_settings):
    stripe_settings.HELIOGRAPH_STRIPE_RATE_LIMIT = 20
    _data(stripe_sink, accounts=10)
    report = _approved(alice, bob)
    _apply(report)
    times = [s.at for s in stripe_sink.seen]
    assert len(times) == 10 and times[-1] - times[0] >= 9 / 20 * 0.9


def test_an_account_without_a_stripe_id_is_skipped_and_listed(
    alice, bob, stripe_sink, stripe_settings
):
    _data(stripe_sink, accounts=2)
    add_accounts("nostripe,No Stripe,pro,true,USD")
    add_spend(charge("nostripe", "5.00", "2026-06-22T10:00Z"))
    report = _approved(alice, bob)
    run = _apply(report)
    assert run.applied == 2
    application = selectors.live_application(report)
    [skipped] = selectors.application_items(application, status="skipped")
    assert skipped.account_external_id == "nostripe" and "no Stripe customer id" in skipped.error
    rows = list(
        csv.DictReader(
            io.StringIO(
                "\n".join(",".join(row) for row in selectors.reconciliation_rows(application))
            )
        )
    )
    assert {r["account_id"]: r["status"] for r in rows} == {
        "a1": "applied",
        "a2": "applied",
        "nostripe": "skipped",
    }
    assert all(r["stripe_object"].startswith("cbtxn_") for r in rows if r["status"] == "applied")
    assert selectors.report_state(report) == "applied"
    # Given a Stripe id later, a resume applies its credit.
    stripe_sink.add_customer("cus_late", "usd")
    services.accounts_import(
        source=io.StringIO(
            "account_id,name,paying,currency,stripe_customer_id\n"
            "nostripe,No Stripe,true,USD,cus_late\n"
        ),
        actor=ACTOR,
    )
    assert _apply(report).applied == 1
    assert stripe_sink.balance_of("cus_late") == -1500


def test_a_dry_run_sends_nothing_and_records_what_it_would_send(
    alice, bob, stripe_sink, stripe_settings
):
    _data(stripe_sink, accounts=2)
    report = _approved(alice, bob)
    application = services.credit_application_start(report=report, actor=ACTOR, dry_run=True)
    run = services.credit_application_run(application_id=application.pk)
    assert run.simulated == 2 and stripe_sink.seen == []
    assert selectors.report_state(report) == "approved"
    assert DirectEmail.objects.count() == 0


# --- Notices --------------------------------------------------------------------------------


def test_each_account_gets_one_notice_through_the_outbox(
    alice, bob, stripe_sink, stripe_settings, client
):
    _data(stripe_sink, accounts=2)
    report = _approved(alice, bob)
    _apply(report)
    _apply(report)  # a second run of a finished application queues nothing more
    emails = list(DirectEmail.objects.order_by("to_email"))
    assert [e.to_email for e in emails] == ["billing1@example.com", "billing2@example.com"]
    outcome = direct_emails_send(email_ids=[e.pk for e in emails])
    assert outcome == {"sent": 2}
    assert direct_emails_send(email_ids=[e.pk for e in emails]) == {}  # sent once
    [first, second] = sorted(mail.outbox, key=lambda m: m.to)
    assert first.to == ["billing1@example.com"]
    body = first.body
    assert "USD 15.00" in body and "the minimum credit of USD 15.00" in body
    assert "21 June 2026 00:00 to 23 June 2026 23:59 UTC" in body
    assert "June 2026 invoice" in body
    assert "USD 20.00" in second.body and "minimum" not in second.body
    # The signed link shows the same notice; a changed link shows nothing.
    url = next(word for word in body.split() if "/credits/notice/" in word)
    path = url.split("testserver", 1)[1]
    page = client.get(path)
    assert page.status_code == 200 and b"USD 15.00" in page.content
    assert client.get(path[:-3] + "xx/").status_code == 404


def test_approved_add_on_refunds_become_a_refund_or_a_credit_note(
    alice, bob, stripe_sink, stripe_settings
):
    header = (
        "account_id,amount,currency,occurred_at,period_start,period_end,kind,charge_id,invoice_id"
    )
    services.accounts_import(
        source=io.StringIO(
            "account_id,name,paying,currency,stripe_customer_id,billing_email\n"
            "card,Card,true,USD,cus_card,card@example.com\n"
            "inv,Invoice,true,USD,cus_inv,inv@example.com\n"
        ),
        actor=ACTOR,
    )
    services.spend_import(
        source=io.StringIO(
            header + "\n"
            "card,90.00,USD,,2026-06-10T00:00Z,2026-07-10T00:00Z,concurrency_addon,ch_card,\n"
            "inv,40.00,USD,2026-06-20T23:00Z,,,concurrency_addon,,in_inv\n"
            "inv,30.00,USD,2026-06-22T10:00Z,,,usage,,\n"
        ),
        actor=ACTOR,
    )
    for customer in ("cus_card", "cus_inv"):
        stripe_sink.add_customer(customer, "usd")
    stripe_sink.add_charge("ch_card", 9000, "usd")
    stripe_sink.add_invoice("in_inv", 4000, "usd")
    policy = services.credit_policy_create(
        actor=ACTOR,
        window_start=START,
        window_end=START.replace(day=24),
        rules=[services.CurrencyRule("USD", "10.00")],
        invoice_month="2026-06",
    )
    from incidents.credits.models import Account

    for account, charges in (("card", []), ("inv", ["in_inv"])):
        request = services.refund_request_record(
            policy=policy,
            account=Account.objects.get(external_id=account),
            actor=ACTOR,
            charge_ids=charges,
        )
        services.refund_request_decide(request=request, actor=ACTOR, approve=True, reason="ok")
    report = services.credit_report_run(policy=policy, actor=Actor.for_user(alice))
    services.credit_report_approve(report=report, actor=Actor.for_user(bob))
    run = _apply(report)
    assert (run.applied, run.failed) == (4, 0)
    [refund] = stripe_sink.created("refund")
    # 90.00 for 30 days, 3 of them in the window: 9.00 is in the credit, 81.00 refunded.
    assert (refund["charge"], refund["amount"], refund["reason"]) == (
        "ch_card",
        8100,
        "requested_by_customer",
    )
    [note] = stripe_sink.created("credit_note")
    assert (note["invoice"], note["amount"], note["refund_amount"]) == ("in_inv", 4000, "4000")
    assert (
        stripe_sink.balance_of("cus_card") == -1000 and stripe_sink.balance_of("cus_inv") == -3000
    )
    kinds = set(CreditApplicationItem.objects.values_list("kind", flat=True))
    assert kinds == {"credit", "refund-ch_card", "refund-in_inv"}
    card_email = DirectEmail.objects.get(to_email="card@example.com")
    assert "USD 81.00" in card_email.body_text and "USD 90.00 paid" in card_email.body_text

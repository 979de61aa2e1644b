"""Done when: the June incident taken from spend import to applied credits and sent notices
by finance users in the console — import, policy with a minimum per currency, report,
refund request approved, approval by a second user (not the first), apply through the real
SDK against the loopback Stripe, reconciliation page and CSV, notices through the outbox."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from incidents import services as incident_services
from incidents.credits.models import CreditApplication, CreditPolicy, CreditReport
from incidents.credits.tasks import credit_apply_task, credit_report_compute_task
from notifier.models import DirectEmail
from notifier.services import direct_emails_send
from statuspage.services import Actor

pytestmark = pytest.mark.django_db

ACCOUNTS = (
    "account_id,name,plan,paying,currency,stripe_customer_id,billing_email\n"
    "us1,US One,pro,true,USD,cus_us1,us1@example.com\n"
    "eu1,EU One,pro,true,EUR,cus_eu1,eu1@example.com\n"
    "gb1,GB One,team,true,GBP,cus_gb1,gb1@example.com\n"
)
SPEND = (
    "account_id,amount,currency,occurred_at,period_start,period_end,region,kind,charge_id\n"
    "us1,4.00,USD,2026-06-22T10:00Z,,,us-east-1,usage,\n"
    "eu1,30.00,EUR,2026-06-22T10:00Z,,,eu-central-1,usage,\n"
    "gb1,60.00,GBP,2026-06-22T21:00Z,,,eu-central-1,concurrency_addon,ch_gb1\n"
)


def _login(client, django_user_model, name: str, *perms: str):
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-" + name)
    user.is_staff = True
    user.save()
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="credits", codename__in=perms)
    )
    client.force_login(user)
    return user


def test_the_june_incident_from_spend_import_to_applied_credits_and_notices_in_the_console(
    client, django_user_model, stripe_sink, stripe_settings, django_capture_on_commit_callbacks
):
    june = incident_services.incident_declare(
        name="Runs not starting (June 2026)",
        body="We are investigating.",
        actor=Actor.system("test"),
        deliver_notifications=False,
    )
    for customer, currency in (("cus_us1", "usd"), ("cus_eu1", "eur"), ("cus_gb1", "gbp")):
        stripe_sink.add_customer(customer, currency)
    stripe_sink.add_charge("ch_gb1", 6000, "gbp")
    alice = _login(client, django_user_model, "alice", "run_credits", "approve_report")
    for what, text in (("accounts", ACCOUNTS), ("spend", SPEND)):
        upload = SimpleUploadedFile(f"{what}.csv", text.encode(), content_type="text/csv")
        response = client.post("/console/credits/import/", {"what": what, "file": upload})
        assert response.status_code == 200, response.content
    response = client.post(
        "/console/credits/policies/new/",
        {
            "incident": june.pk,
            "window_start": "2026-06-21T00:00Z",
            "window_end": "2026-06-24T00:00Z",
            "rules": "USD 10.00\nEUR 10.00\nGBP 10.00",
            "invoice_month": "2026-06",
        },
    )
    policy = CreditPolicy.objects.get()
    assert response["Location"] == f"/console/credits/policies/{policy.pk}/"
    # The customer asks for the add-on to be refunded; finance records and approves it.
    page = f"/console/credits/policies/{policy.pk}/refunds/"
    client.post(page, {"action": "record", "account_id": "gb1", "message": "bought 60 GBP"})
    refund = policy.refund_requests.get()
    client.post(f"/console/credits/refunds/{refund.pk}/", {"decision": "approve", "reason": "ok"})
    client.post(f"/console/credits/refunds/{refund.pk}/", {"action": "reset", "note": "to 10"})
    refund.refresh_from_db()
    assert refund.status == "approved" and refund.concurrency_reset_at is not None
    with django_capture_on_commit_callbacks(execute=False):
        client.post(f"/console/credits/policies/{policy.pk}/run/")
    report = CreditReport.objects.get()
    assert credit_report_compute_task.apply(args=[report.pk]).get() == "done"
    text = client.get(f"/console/credits/reports/{report.pk}/").content.decode()
    assert "State: computed" in text and "another user approves it" in text
    assert "Approve report" not in text  # alice computed it
    refused = client.post(f"/console/credits/reports/{report.pk}/approve/", follow=True)
    assert "four eyes" in refused.content.decode()

    _login(client, django_user_model, "bob", "view_credits", "approve_report")
    text = client.get(f"/console/credits/reports/{report.pk}/").content.decode()
    assert "Approve report" in text
    client.post(f"/console/credits/reports/{report.pk}/approve/")
    report.refresh_from_db()
    assert report.approved_by_name == "bob"
    assert client.post(f"/console/credits/reports/{report.pk}/apply/").status_code == 403

    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/console/credits/reports/{report.pk}/apply/", {"mode": "live"})
    assert response["Location"] == f"/console/credits/reports/{report.pk}/reconciliation/"
    application = CreditApplication.objects.get(dry_run=False)
    assert credit_apply_task.apply(args=[application.pk]).get().startswith("3 applied, 0 failed")
    # us1 spent 4.00: the USD minimum; eu1 30.00; gb1 60.00 (its add-on, all in the window,
    # so the credit gives it all back and the refund is 0: never twice).
    assert stripe_sink.balance_of("cus_us1") == -1000
    assert stripe_sink.balance_of("cus_eu1") == -3000
    assert stripe_sink.balance_of("cus_gb1") == -6000
    assert stripe_sink.created("refund") == []
    page = client.get(f"/console/credits/reports/{report.pk}/reconciliation/").content.decode()
    assert "applied" in page.lower() and "cbtxn_" in page
    exported = client.get(f"/console/credits/reports/{report.pk}/reconciliation.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert {r["account_id"]: r["status"] for r in rows} == {
        "us1": "applied",
        "eu1": "applied",
        "gb1": "applied",
    }
    emails = list(DirectEmail.objects.all())
    assert len(emails) == 3
    direct_emails_send(email_ids=[e.pk for e in emails])
    assert sorted(m.to[0] for m in mail.outbox) == [
        "eu1@example.com",
        "gb1@example.com",
        "us1@example.com",
    ]
    us = next(m for m in mail.outbox if m.to == ["us1@example.com"])
    assert "Runs not starting (June 2026)" in us.body and "minimum credit of USD 10.00" in us.body
    assert "June 2026 invoice" in us.body
    text = client.get(f"/console/credits/reports/{report.pk}/").content.decode()
    assert "State: applied" in text

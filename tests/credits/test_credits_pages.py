"""The staff pages at /console/credits/: permissions, policy form, running a report through
the reports queue, totals, search, credit note, CSV export and CSV upload."""

from __future__ import annotations

import csv
import io

import pytest
from celery.signals import before_task_publish
from credits_helpers import add_accounts, add_spend, charge, make_policy, run
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from incidents.credits import services
from incidents.credits.models import CreditPolicy, CreditReport, CreditReportStatus, SpendRecord
from incidents.credits.tasks import credit_report_compute_task

pytestmark = pytest.mark.django_db


def _user(django_user_model, name: str, staff: bool = True, perms: tuple[str, ...] = ()):
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-" + name)
    user.is_staff = staff
    user.save()
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="credits", codename=codename)
        )
    return user


@pytest.fixture
def viewer(client, django_user_model):
    client.force_login(_user(django_user_model, "finance", perms=("view_credits",)))
    return client


@pytest.fixture
def runner(client, django_user_model):
    client.force_login(_user(django_user_model, "support", perms=("run_credits",)))
    return client


@pytest.fixture
def report():
    add_accounts(
        "acc-1,Alpha Labs,pro,true,USD",
        "acc-2,Beta GmbH,hobby,true,EUR",
        "acc-3,Gamma,free,false,USD",
    )
    add_spend(
        charge("acc-1", "123.45", "2026-06-22T12:00Z"),
        charge("acc-1", "50.00", "2026-06-22T21:00Z", kind="concurrency_addon"),
        charge("acc-2", "0.50", "2026-06-22T12:00Z", currency="EUR"),
    )
    return run(make_policy(extra=[services.CurrencyRule("EUR", 10)], invoice_month="2026-06"))


def test_anonymous_visitors_are_sent_to_login(client, report):
    for url in [
        "/console/credits/",
        f"/console/credits/reports/{report.pk}/",
        f"/console/credits/reports/{report.pk}/credits.csv",
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/console/login/")


def test_staff_without_the_credit_permission_and_non_staff_get_403(
    client, django_user_model, report
):
    client.force_login(_user(django_user_model, "ic"))
    response = client.get("/console/credits/")
    assert response.status_code == 403
    assert b"credits.view_credits" in response.content
    assert client.get(f"/console/credits/reports/{report.pk}/credits.csv").status_code == 403
    client.force_login(_user(django_user_model, "cust", staff=False, perms=("view_credits",)))
    assert client.get(f"/console/credits/reports/{report.pk}/").status_code == 403


def test_view_permission_sees_reports_but_cannot_run_or_import(viewer, report):
    assert viewer.get("/console/credits/").status_code == 200
    page = viewer.get(f"/console/credits/reports/{report.pk}/")
    assert page.status_code == 200
    assert b"Alpha Labs" in page.content and b"133.45" not in page.content
    assert viewer.post(f"/console/credits/policies/{report.policy_id}/run/").status_code == 403
    assert viewer.get("/console/credits/import/").status_code == 403
    assert viewer.get("/console/credits/policies/new/").status_code == 403
    assert CreditReport.objects.count() == 1


def test_report_page_shows_totals_addons_and_searches_accounts(viewer, report):
    page = viewer.get(f"/console/credits/reports/{report.pk}/").content.decode()
    assert "173.45" in page  # USD total: 123.45 + the 50.00 add-on
    assert "10.00" in page  # EUR: the minimum
    assert "Concurrency add-ons" in page and "USD 50.00" in page
    found = viewer.get(f"/console/credits/reports/{report.pk}/?q=beta").content.decode()
    assert "accounts/acc-2/" in found and "accounts/acc-1/" not in found
    none = viewer.get(f"/console/credits/reports/{report.pk}/?q=zzz").content.decode()
    assert "No account matches" in none


def test_credit_note_can_be_pasted_to_the_customer(viewer, report):
    page = viewer.get(f"/console/credits/reports/{report.pk}/accounts/acc-2/").content.decode()
    assert "Hi Beta GmbH" in page
    assert "credited EUR 10.00: the minimum credit of EUR 10.00" in page
    assert "from 21 June 2026 00:00 to 23 June 2026 23:59 UTC" in page
    assert "June 2026 invoice" in page
    assert viewer.get(f"/console/credits/reports/{report.pk}/accounts/acc-3/").status_code == 404


def test_csv_export_has_the_exact_columns_and_matches_the_totals(viewer, report):
    response = viewer.get(f"/console/credits/reports/{report.pk}/credits.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        [
            "account_id",
            "name",
            "currency",
            "spend_in_window",
            "credit",
            "minimum_applied",
            "cap_applied",
            "invoice_month",
            # issue 14: the add-on columns come after the existing ones
            "addon_paid",
            "addon_in_credit",
            "addon_refund",
        ],
        ["acc-2", "Beta GmbH", "EUR", "0.50", "10.00", "true", "false", "2026-06"]
        + ["0.00", "0.00", "0.00"],
        # the $50 add-on was bought in the window: the credit already gives it back
        ["acc-1", "Alpha Labs", "USD", "173.45", "173.45", "false", "false", "2026-06"]
        + ["50.00", "50.00", "0.00"],
    ]


def test_policy_form_creates_a_policy_and_refuses_bad_input(runner):
    bad = runner.post(
        "/console/credits/policies/new/",
        {
            "window_start": "2026-06-24T00:00Z",
            "window_end": "2026-06-21T00:00Z",
            "rules": "USD -1\nXYZ 5",
        },
    )
    assert bad.status_code == 200
    text = bad.content.decode()
    assert "must end after it starts" in text
    assert "cannot be negative" in text and "not a known ISO 4217" in text
    assert CreditPolicy.objects.count() == 0
    # The one credits time parser: a day that does not exist is named, not a 500.
    no_day = runner.post(
        "/console/credits/policies/new/",
        {"window_start": "2027-02-30", "window_end": "2027-03-02T00:00Z", "rules": "USD 1"},
    )
    assert "&#x27;2027-02-30&#x27; is not an ISO 8601 time" in no_day.content.decode()
    assert CreditPolicy.objects.count() == 0
    good = runner.post(
        "/console/credits/policies/new/",
        {
            "window_start": "2026-06-21T00:00Z",
            "window_end": "2026-06-24T00:00Z",
            "rules": "USD 10.00\nEUR 10.00 500",
            "regions": "us-east-1, eu-central-1",
        },
    )
    policy = CreditPolicy.objects.get()
    assert good.status_code == 302 and good["Location"] == f"/console/credits/policies/{policy.pk}/"
    assert policy.invoice_month == "2026-06"
    assert policy.regions == ["eu-central-1", "us-east-1"]
    assert {(r.currency, r.minimum_cents, r.cap_cents) for r in policy.currencies.all()} == {
        ("USD", 1000, None),
        ("EUR", 1000, 50000),
    }
    edit = runner.post(
        f"/console/credits/policies/{policy.pk}/edit/",
        {
            "window_start": "2026-06-21T00:00Z",
            "window_end": "2026-06-24T00:00Z",
            "rules": "USD 12.50",
            "invoice_month": "2026-07",
        },
    )
    assert edit.status_code == 302
    policy.refresh_from_db()
    assert policy.invoice_month == "2026-07" and policy.currencies.get().minimum_cents == 1250


def test_running_a_report_queues_it_on_reports_and_refuses_a_second_run(
    runner, django_capture_on_commit_callbacks
):
    add_accounts("acc-1,Alpha,pro,true,USD")
    policy = make_policy()
    published: list[tuple[str, str]] = []

    def record(sender=None, routing_key=None, **kwargs):
        published.append((sender, routing_key))

    before_task_publish.connect(record)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = runner.post(f"/console/credits/policies/{policy.pk}/run/")
    finally:
        before_task_publish.disconnect(record)
    # published after commit, to the real broker, on the "reports" queue
    assert len(callbacks) == 1
    assert published == [("incidents.credits.tasks.credit_report_compute_task", "reports")]
    report = CreditReport.objects.get()
    assert response["Location"] == f"/console/credits/reports/{report.pk}/"
    assert report.status == CreditReportStatus.RUNNING
    running_page = runner.get(f"/console/credits/reports/{report.pk}/").content.decode()
    assert 'http-equiv="refresh"' in running_page
    second = runner.post(f"/console/credits/policies/{policy.pk}/run/", follow=True)
    assert "already running" in second.content.decode()
    assert CreditReport.objects.count() == 1
    # what the worker does with the message
    assert credit_report_compute_task.apply(args=[report.pk]).get() == "done"
    report.refresh_from_db()
    assert report.status == CreditReportStatus.DONE and report.lines_count == 1


def test_csv_upload_imports_and_a_bad_file_lists_its_lines(runner):
    accounts = SimpleUploadedFile(
        "accounts.csv", b"account_id,name,plan,paying,currency\nu1,Uno,pro,true,USD\n"
    )
    ok = runner.post("/console/credits/import/", {"what": "accounts", "file": accounts})
    assert ok.status_code == 200 and "1 new" in ok.content.decode()
    spend = SimpleUploadedFile(
        "spend.csv",
        b"account_id,amount,currency,occurred_at\nu1,1.00,USD,2026-06-22T00:00Z\n"
        b"u1,x,USD,2026-06-22T00:00Z\nu2,1.00,USD,2026-06-22T00:00Z\n",
    )
    bad = runner.post("/console/credits/import/", {"what": "spend", "file": spend})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "2 bad lines" in text
    assert "line 3: amount &#x27;x&#x27; is not a decimal number" in text
    assert "line 4: unknown account &#x27;u2&#x27;" in text
    assert SpendRecord.objects.count() == 0


def test_admin_shows_the_credits_models_read_only(client, django_user_model, report):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1")
    client.force_login(admin)
    for model in ["account", "spendrecord", "creditpolicy", "creditreport"]:
        listing = client.get(f"/admin/credits/{model}/")
        assert listing.status_code == 200, model
        assert client.get(f"/admin/credits/{model}/add/").status_code == 403
    page = client.get(f"/admin/credits/creditreport/{report.pk}/change/")
    assert page.status_code == 200 and b"USD" in page.content

"""`manage.py credit_report` and the demo data."""

from __future__ import annotations

import csv
from io import StringIO

import pytest
from credits_helpers import ACTOR, add_accounts, add_spend, charge, period
from django.core.management import call_command
from django.core.management.base import CommandError

from incidents import services as incident_services
from incidents.credits.demo import load_demo_credits
from incidents.credits.models import Account, CreditPolicy, CreditReport, SpendRecord

pytestmark = pytest.mark.django_db

ARGS = [
    "--start",
    "2026-06-21T00:00Z",
    "--end",
    "2026-06-24T00:00Z",
    "--minimum",
    "10.00",
    "--currency",
    "USD",
]


@pytest.fixture
def june():
    return incident_services.incident_declare(
        name="Runs not starting in us-east-1 and eu-central-1 (June 2026)",
        body="We are investigating.",
        actor=ACTOR,
        deliver_notifications=False,
    )


def _command(*args: str) -> str:
    out = StringIO()
    call_command("credit_report", *args, stdout=out)
    return out.getvalue()


def test_credit_report_command_creates_the_policy_runs_and_writes_the_csv(june, tmp_path):
    add_accounts("a1,Alpha,pro,true,USD", "a2,Beta,hobby,true,USD", "a3,Free,free,false,USD")
    add_spend(
        charge("a1", "40.00", "2026-06-22T10:00Z"),
        period("a1", "300.00", "2026-06-01T00:00Z", "2026-07-01T00:00Z"),
        charge("a2", "0.99", "2026-06-23T23:59:59.999Z"),
        charge("a3", "5.00", "2026-06-22T10:00Z"),
    )
    out_csv = tmp_path / "out.csv"
    text = _command("--incident", june.public_id, *ARGS, "--csv", str(out_csv))
    policy = CreditPolicy.objects.get()
    assert policy.incident == june and policy.invoice_month == "2026-06"
    assert f"Created credit policy #{policy.pk}" in text
    assert "USD: 2 accounts credited, total credit 80.00" in text
    assert "1 got the minimum, 0 capped" in text
    with out_csv.open() as handle:
        rows = list(csv.reader(handle))
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
        [
            "a1",
            "Alpha",
            "USD",
            "70.00",
            "70.00",
            "false",
            "false",
            "2026-06",
            "0.00",
            "0.00",
            "0.00",
        ],
        ["a2", "Beta", "USD", "0.99", "10.00", "true", "false", "2026-06", "0.00", "0.00", "0.00"],
    ]
    # by pk too; the same parameters reuse the policy and compare with the previous report
    again = _command("--incident", str(june.pk), *ARGS)
    assert f"Using credit policy #{policy.pk}" in again
    assert "0 added, 0 removed, 0 changed" in again
    assert CreditPolicy.objects.count() == 1 and CreditReport.objects.count() == 2


def test_credit_report_command_refuses_bad_arguments(june):
    with pytest.raises(CommandError, match="no incident"):
        _command("--incident", "nope", *ARGS)
    with pytest.raises(CommandError, match="must end after it starts"):
        _command("--start", "2026-06-24T00:00Z", "--end", "2026-06-21T00:00Z")
    with pytest.raises(CommandError, match="--start 'yesterday' is not an ISO 8601 time"):
        _command("--start", "yesterday", "--end", "2026-06-21T00:00Z")
    with pytest.raises(CommandError, match="--end '2027-02-30' is not an ISO 8601 time"):
        _command("--start", "2026-06-21T00:00Z", "--end", "2027-02-30")
    with pytest.raises(CommandError, match="cannot be negative"):
        _command(*ARGS[:4], "--minimum", "-5")
    with pytest.raises(CommandError, match="not a known ISO 4217"):
        _command(*ARGS[:6], "--currency", "DOLLAR")
    assert CreditPolicy.objects.count() == 0


def test_empty_data_prints_an_empty_report(june):
    text = _command("--incident", june.public_id, *ARGS)
    assert "No account credited" in text
    assert CreditReport.objects.get().status == "done"


def test_demo_credits_attach_to_the_june_incident_and_are_idempotent(june):
    load_demo_credits()
    counts = (Account.objects.count(), SpendRecord.objects.count(), CreditReport.objects.count())
    assert counts[0] == 300 and counts[1] > 3000 and counts[2] == 1
    policy = CreditPolicy.objects.get()
    assert policy.incident == june
    report = CreditReport.objects.get()
    assert report.status == "done" and report.lines_count > 100
    assert report.addons.exists()
    assert sum(t.accounts for t in report.totals.all()) == report.lines_count
    load_demo_credits()
    assert (
        Account.objects.count(),
        SpendRecord.objects.count(),
        CreditReport.objects.count(),
    ) == counts
    assert CreditPolicy.objects.count() == 1


def test_demo_credits_without_an_incident_make_a_policy_of_no_incident():
    load_demo_credits()
    assert CreditPolicy.objects.get().incident is None


def test_csv_text_cells_cannot_run_as_spreadsheet_formulas(tmp_path):
    add_accounts('x1,"=HYPERLINK(""http://evil"")",pro,true,USD', "x2,@SUM(A1),pro,true,USD")
    add_spend(charge("x1", "-2.00", "2026-06-22T00:00Z"), charge("x1", "1.00", "2026-06-22T01:00Z"))
    out_csv = tmp_path / "out.csv"
    _command(*ARGS, "--csv", str(out_csv))
    with out_csv.open() as handle:
        rows = list(csv.reader(handle))[1:]
    assert [row[:5] for row in rows] == [
        ["x1", '\'=HYPERLINK("http://evil")', "USD", "-1.00", "10.00"],
        ["x2", "'@SUM(A1)", "USD", "0.00", "10.00"],
    ]


def test_minimums_per_currency_and_a_currency_without_one_is_flagged_not_skipped(tmp_path):
    add_accounts(
        "u1,U,pro,true,USD",
        "e1,E,pro,true,EUR",
        "g1,G spent,pro,true,GBP",
        "g2,G idle,pro,true,GBP",
    )
    add_spend(
        charge("u1", "1.00", "2026-06-22T10:00Z"),
        charge("e1", "2.00", "2026-06-22T10:00Z", currency="EUR"),
        charge("g1", "3.00", "2026-06-22T10:00Z", currency="GBP"),
    )
    out_csv = tmp_path / "out.csv"
    text = _command(
        *ARGS[:4],
        "--minimum",
        "USD:10.00",
        "--minimum",
        "EUR:12.00",
        "--cap",
        "EUR:500",
        "--csv",
        str(out_csv),
    )
    assert "USD: 1 accounts credited, total credit 10.00" in text
    assert "EUR: 1 accounts credited, total credit 12.00" in text
    # GBP has no minimum: both GBP accounts are in the report, flagged — the idle one too.
    assert "WARNING: 2 paying account(s) billed in GBP have no minimum" in text
    report = CreditReport.objects.get()
    flagged = {
        line.account_external_id: (line.credit_cents, line.minimum_missing)
        for line in report.lines.all()
    }
    assert flagged == {"u1": (1000, False), "e1": (1200, False), "g1": (300, True), "g2": (0, True)}
    [gbp] = [t for t in report.totals.all() if t.currency == "GBP"]
    assert gbp.minimum_missing and gbp.accounts == 1
    with out_csv.open() as handle:
        rows = {row[0]: row for row in csv.reader(handle)}
    assert rows["g2"][3:5] == ["0.00", "0.00"]
    policy = CreditPolicy.objects.get()
    assert {r.currency: (r.minimum_cents, r.cap_cents) for r in policy.currencies.all()} == {
        "USD": (1000, None),
        "EUR": (1200, 50000),
    }

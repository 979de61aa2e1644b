"""CSV import of accounts and spend: idempotent re-import, whole-file rejection, streaming."""

from __future__ import annotations

import io

import pytest
from credits_helpers import ACTOR, SPEND_HEADER, add_accounts, add_spend, charge, csv_text, period
from django.core.management import call_command
from django.core.management.base import CommandError

from incidents.credits import importers, services
from incidents.credits.importers import ImportRejected
from incidents.credits.models import Account, SpendRecord
from statuspage.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_accounts_import_creates_updates_and_is_idempotent():
    first = add_accounts("a1,Alpha,pro,true,USD", "a2,Beta,,false,EUR")
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    again = add_accounts("a1,Alpha,pro,true,USD", "a2,Beta,,false,EUR")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = add_accounts("a1,Alpha Corp,team,true,USD", "a2,Beta,,yes,EUR")
    assert (changed.created, changed.updated, changed.unchanged) == (0, 2, 0)
    assert Account.objects.count() == 2
    a2 = Account.objects.get(external_id="a2")
    assert a2.paying is True and a2.currency == "EUR" and a2.plan == ""
    assert Account.objects.get(external_id="a1").name == "Alpha Corp"


def test_account_currency_cannot_change_once_it_has_spend():
    add_accounts("a1,Alpha,pro,true,USD", "a2,Beta,pro,true,USD")
    add_spend(charge("a1", "1.00", "2026-06-22T00:00Z"))
    with pytest.raises(ImportRejected) as caught:
        add_accounts("a1,Alpha,pro,true,EUR", "a2,Beta,pro,true,EUR")
    assert caught.value.line_errors == [
        (2, "currency of account a1 cannot change from USD: it has spend")
    ]
    assert set(Account.objects.values_list("currency", flat=True)) == {"USD"}


def test_bad_account_lines_are_all_listed_and_nothing_is_written():
    with pytest.raises(ImportRejected) as caught:
        add_accounts(
            "ok,Fine,pro,true,USD",
            ",No id,pro,true,USD",
            "x,X,pro,maybe,USD",
            "y,Y,pro,true,usdollar",
            "ok,Again,pro,true,USD",
        )
    assert caught.value.line_errors == [
        (3, "account_id is empty"),
        (4, "paying 'maybe' is not true/false"),
        (5, "currency 'usdollar' is not a known ISO 4217 code"),
        (6, "account_id ok repeated (first on line 2)"),
    ]
    assert Account.objects.count() == 0


def test_reimporting_the_same_spend_file_adds_nothing_twice():
    add_accounts("a,A,pro,true,USD")
    rows = [
        charge("a", "1.50", "2026-06-22T10:00Z"),
        charge("a", "1.50", "2026-06-22T10:00Z"),  # a second identical charge: kept
        period("a", "10", "2026-06-01T00:00Z", "2026-07-01T00:00Z"),
    ]
    first = add_spend(*rows)
    assert (first.lines, first.created) == (3, 3)
    again = add_spend(*rows)
    assert (again.created, again.unchanged) == (0, 3)
    # an overlapping export: one row already there, one new
    overlap = add_spend(rows[2], charge("a", "2.00", "2026-06-23T10:00Z"))
    assert (overlap.created, overlap.unchanged) == (1, 1)
    assert SpendRecord.objects.count() == 4
    # the same instant written differently is the same charge
    same = add_spend(charge("a", "1.500", "2026-06-22T12:00:00+02:00"))
    assert same.created == 0
    assert SpendRecord.objects.filter(amount_micros=1_500_000).count() == 2


def test_a_file_with_bad_rows_is_rejected_whole_with_every_line_and_reason():
    add_accounts("a,A,pro,true,USD", "e,E,pro,true,EUR")
    add_spend(charge("a", "1.00", "2026-06-22T10:00Z"))
    before_spend = SpendRecord.objects.count()
    before_audit = AuditEntry.objects.count()
    with pytest.raises(ImportRejected) as caught:
        add_spend(
            charge("a", "2.00", "2026-06-22T11:00Z"),  # line 2: fine
            charge("ghost", "2.00", "2026-06-22T11:00Z"),  # 3
            charge("a", "12,34", "2026-06-22T11:00Z"),  # 4 (quoted below)
            charge("a", "abc", "2026-06-22T11:00Z"),  # 5
            charge("e", "2.00", "2026-06-22T11:00Z", currency="USD"),  # 6
            period("a", "2.00", "2026-06-23T00:00Z", "2026-06-22T00:00Z"),  # 7
            charge("a", "2.00", "22/06/2026 11:00"),  # 8
            "a,2.00,USD,2026-06-22T11:00Z,2026-06-22T00:00Z,2026-06-23T00:00Z,,usage",  # 9
            "a,2.00,USD,,,,,usage",  # 10
            charge("a", "1.0000001", "2026-06-22T11:00Z"),  # 11
        )
    errors = caught.value.line_errors
    assert [n for n, _ in errors] == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    reasons = dict(errors)
    assert "unknown account 'ghost'" in reasons[3]
    assert "expected 8 fields, found 9" in reasons[4]  # the comma split the amount
    assert "amount 'abc' is not a decimal number" in reasons[5]
    assert "currency USD is not the account's currency EUR" in reasons[6]
    assert "period_end 2026-06-22T00:00Z is not after period_start" in reasons[7]
    assert "occurred_at '22/06/2026 11:00' is not an ISO 8601 time" in reasons[8]
    assert "not both" in reasons[9]
    assert "no time" in reasons[10]
    assert "more than 6 decimal places" in reasons[11]
    assert caught.value.bad_lines == 9
    assert SpendRecord.objects.count() == before_spend
    assert AuditEntry.objects.count() == before_audit


def test_header_problems_are_reported_on_line_1():
    with pytest.raises(ImportRejected) as caught:
        services.spend_import(source=csv_text("account,amount,currency"), actor=ACTOR)
    assert caught.value.line_errors == [
        (1, "unknown column(s) account; expected " + ",".join(importers.SPEND_COLUMNS)),
        (1, "missing column(s) account_id"),
    ]
    with pytest.raises(ImportRejected, match="empty"):
        services.spend_import(source=csv_text(""), actor=ACTOR)


def test_progress_is_reported_while_streaming(monkeypatch):
    monkeypatch.setattr(importers, "PROGRESS_EVERY", 2)
    add_accounts("a,A,pro,true,USD")
    messages: list[str] = []
    rows = [charge("a", f"{n}.00", f"2026-06-22T{n:02d}:00Z") for n in range(5)]
    services.spend_import(
        source=csv_text(SPEND_HEADER, *rows), actor=ACTOR, progress=messages.append
    )
    assert "checked 2 lines" in messages and "checked 4 lines" in messages
    assert "staged 4 lines" in messages
    assert messages[-1] == "done: 5 new, 0 already imported"


def test_import_commands_read_files_and_refuse_bad_ones(tmp_path):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,name,plan,paying,currency\nc1,One,pro,true,USD\n")
    spend = tmp_path / "spend.csv"
    spend.write_text(
        "account_id,amount,currency,period_start,period_end\nc1,30.00,USD,2026-06-01,2026-07-01\n"
    )
    call_command("import_accounts", str(accounts))
    from io import StringIO

    out = StringIO()
    call_command("import_spend", str(spend), stdout=out, stderr=StringIO())
    assert "1 lines: 1 new" in out.getvalue()
    record = SpendRecord.objects.get()
    assert record.period_start.isoformat() == "2026-06-01T00:00:00+00:00"
    bad = tmp_path / "bad.csv"
    bad.write_text("account_id,amount,currency,occurred_at\nnobody,1,USD,2026-06-22\n")
    err = StringIO()
    with pytest.raises(CommandError, match="file rejected, nothing imported: 1 bad line"):
        call_command("import_spend", str(bad), stdout=StringIO(), stderr=err)
    assert "line 2: unknown account 'nobody'" in err.getvalue()
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_spend", str(tmp_path / "missing.csv"))


def test_uploaded_files_on_disk_and_undecodable_bytes():
    from django.core.files.uploadedfile import TemporaryUploadedFile

    add_accounts("a,A,pro,true,USD")
    upload = TemporaryUploadedFile("spend.csv", "text/csv", 0, "utf-8")
    upload.write(
        ("\ufeff" + SPEND_HEADER + "\n" + charge("a", "2.50", "2026-06-22T10:00Z") + "\n").encode()
    )
    upload.seek(0)
    result = services.spend_import(source=upload.file, actor=ACTOR, filename="spend.csv")
    assert (result.lines, result.created) == (1, 1)
    upload.close()
    latin = io.BytesIO(
        (SPEND_HEADER + "\n").encode() + b"a,2.50,USD,2026-06-22T11:00Z,,,Z\xfcrich,usage\n"
    )
    with pytest.raises(ImportRejected) as caught:
        services.spend_import(source=latin, actor=ACTOR)
    assert caught.value.line_errors == [(2, "not UTF-8 text (save the file as UTF-8)")]
    assert SpendRecord.objects.count() == 1

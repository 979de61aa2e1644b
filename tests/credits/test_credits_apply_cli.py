"""The command line from spend import to applied credits, in real processes on their own
SQLite file: import_accounts, import_spend, credit_report (two currencies, --user), approve
(refused for the same user, then by another), credit_apply killed with SIGKILL half-way —
after Stripe applied a request and before the run recorded it — and run again: every
account's credit is applied exactly once, the keys of the resumed requests are the ones
first sent, and the credits Stripe holds are the report's to the cent."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

from django.conf import settings
from stripe_sink import API_KEY, StripeSink

BASE_DIR = Path(settings.BASE_DIR)
ACCOUNTS = 60
KILL_AFTER = 25


def _environment(tmp_path: Path, sink: StripeSink) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "statuspage.conf.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "SECRET_KEY": settings.SECRET_KEY,
            "DEBUG": "0",
            "HELIOGRAPH_VAR_DIR": str(tmp_path / "var"),
            "HELIOGRAPH_STRIPE_API_KEY": API_KEY,
            "HELIOGRAPH_STRIPE_API_BASE": sink.url,
            "HELIOGRAPH_STRIPE_DRY_RUN": "0",
            "HELIOGRAPH_STRIPE_RATE_LIMIT": "200",
            "HELIOGRAPH_STRIPE_CONCURRENCY": "4",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
    )
    return env


def _manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


USERS = """
from django.contrib.auth.models import Permission, User
for name, perms in (("alice", ("run_credits", "approve_report")), ("bob", ("approve_report",))):
    user = User.objects.create_user(name, f"{name}@example.com", "pw-" + name, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="credits", codename__in=perms))
"""


def test_credit_report_approve_apply_killed_half_way_and_resumed_applies_each_credit_once(
    tmp_path,
):
    sink = StripeSink()
    try:
        env = _environment(tmp_path, sink)
        _manage(env, "migrate", "-v0")
        _manage(env, "shell", "-c", USERS)
        accounts = ["account_id,name,plan,paying,currency,stripe_customer_id,billing_email"]
        spend = ["account_id,amount,currency,occurred_at"]
        expected = {}
        for n in range(ACCOUNTS):
            currency = "EUR" if n % 3 == 0 else "USD"
            accounts.append(
                f"c{n:03d},Customer {n},pro,true,{currency},cus_{n:03d},b{n}@example.com"
            )
            sink.add_customer(f"cus_{n:03d}", currency.lower())
            amount = 3 + n  # below the 10.00 minimum for the first seven
            spend.append(f"c{n:03d},{amount}.00,{currency},2026-06-22T12:00:00Z")
            expected[f"cus_{n:03d}"] = -max(amount, 10) * 100
        (tmp_path / "accounts.csv").write_text("\n".join(accounts) + "\n")
        (tmp_path / "spend.csv").write_text("\n".join(spend) + "\n")
        _manage(env, "import_accounts", str(tmp_path / "accounts.csv"))
        _manage(env, "import_spend", str(tmp_path / "spend.csv"))
        report = _manage(
            env,
            "credit_report",
            "--start",
            "2026-06-21T00:00Z",
            "--end",
            "2026-06-24T00:00Z",
            "--minimum",
            "USD:10.00",
            "--minimum",
            "EUR:10.00",
            "--user",
            "alice",
        ).stdout
        assert "USD: 40 accounts credited" in report and "EUR: 20 accounts credited" in report
        report_id = report.split("Report #", 1)[1].split(":", 1)[0]
        refused = _manage(
            env, "credit_approve", "--report", report_id, "--user", "alice", check=False
        )
        assert refused.returncode != 0 and "four eyes" in refused.stderr
        _manage(env, "credit_approve", "--report", report_id, "--user", "bob")

        process = subprocess.Popen(
            [sys.executable, "manage.py", "credit_apply", "--report", report_id],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def kill(applied: int) -> None:
            if applied == KILL_AFTER:  # Stripe applied it; the run never hears the answer
                os.kill(process.pid, signal.SIGKILL)

        sink.on_request = kill
        process.communicate(timeout=120)
        assert process.returncode == -signal.SIGKILL
        sink.on_request = None
        first_keys = {s.key for s in sink.seen if s.status == 200}
        assert KILL_AFTER <= len(first_keys) < ACCOUNTS
        with sqlite3.connect(tmp_path / "db.sqlite3") as db:
            statuses = Counter(
                row[0] for row in db.execute("SELECT status FROM credits_creditapplicationitem")
            )
        assert statuses["applied"] < KILL_AFTER  # answered by Stripe but not recorded

        resumed = _manage(env, "credit_apply", "--report", report_id)
        assert "0 failed" in resumed.stdout and f"{ACCOUNTS} applied" in resumed.stdout
        created = sink.created("customer_balance_transaction")
        assert Counter(o["customer"] for o in created) == Counter(expected.keys())
        assert {c: sink.balance_of(c) for c in expected} == expected
        replayed = {s.key for s in sink.seen if s.replayed}
        assert replayed and replayed <= first_keys  # resent with the keys first sent
        with sqlite3.connect(tmp_path / "db.sqlite3") as db:
            rows = list(
                db.execute(
                    "SELECT idempotency_key, stripe_object, status "
                    "FROM credits_creditapplicationitem"
                )
            )
            notices = db.execute("SELECT COUNT(*) FROM notifier_directemail").fetchone()[0]
        assert len({key for key, _, _ in rows}) == ACCOUNTS
        assert {status for _, _, status in rows} == {"applied"}
        assert {obj for _, obj, _ in rows} == {o["id"] for o in created}
        assert notices == ACCOUNTS  # one notice per account, queued once
        again = _manage(env, "credit_apply", "--report", report_id)
        assert "this run 0 applied" in again.stdout
        assert len(sink.created("customer_balance_transaction")) == ACCOUNTS
        assert sink.problems == []
    finally:
        sink.close()

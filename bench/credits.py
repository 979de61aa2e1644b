"""Benchmark of credits: 50,000 accounts and 1,000,000 spend records in PostgreSQL.

    .venv/bin/python bench/credits.py [--accounts 50000] [--spend 1000000]

Uses its own database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/hg_bench_credits), dropped, created and migrated here.
It writes the two CSV files to a temporary folder, imports them through the real importers
(`accounts_import`, `spend_import`: two passes, COPY into a staging table, INSERT … ON
CONFLICT), runs the credit report of the seed report's policy (USD/EUR/GBP minimum 10.00,
window 2026-06-21T00:00Z – 2026-06-24T00:00Z), and in the same run times one hand-written
SQL aggregate computing the same per-account sums, then checks they agree to the cent.

Goals: import of the million rows < 60 s; report ≤ 1.5 × the bare query. The report and the
bare query run alternately `--repeat` times (the machine may be shared: compare the best and
the median of each).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hg_bench_credits"
START = datetime(2026, 6, 21, tzinfo=UTC)
END = datetime(2026, 6, 24, tzinfo=UTC)


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def write_csvs(folder: Path, accounts: int, spend: int, seed: int = 7) -> tuple[Path, Path]:
    """accounts.csv and spend.csv: ~80% paying, USD/EUR/GBP, usage over 15–30 June, a monthly
    subscription per paying account, concurrency add-ons around the incident."""
    rng = random.Random(seed)
    accounts_path = folder / "accounts.csv"
    spend_path = folder / "spend.csv"
    currencies = []
    with accounts_path.open("w") as out:
        out.write("account_id,name,plan,paying,currency\n")
        for n in range(accounts):
            paying = rng.random() < 0.8
            currency = rng.choices(("USD", "EUR", "GBP"), (70, 20, 10))[0]
            currencies.append((currency, paying))
            plan = rng.choice(("hobby", "pro", "team")) if paying else "free"
            out.write(
                f"acct-{n:06d},Account {n},{plan},{'true' if paying else 'false'},{currency}\n"
            )
    base = datetime(2026, 6, 15, tzinfo=UTC)
    span = int(timedelta(days=16).total_seconds())
    regions = ("us-east-1", "eu-central-1")
    lines = []
    written = 0
    subscriptions = [n for n, (_c, paying) in enumerate(currencies) if paying]
    with spend_path.open("w") as out:
        out.write("account_id,amount,currency,occurred_at,period_start,period_end,region,kind\n")
        for n in subscriptions:
            if written >= spend:
                break
            currency = currencies[n][0]
            lines.append(
                f"acct-{n:06d},{rng.choice(('10.00', '50.00', '200.00'))},{currency},,"
                f"2026-06-01T00:00:00Z,2026-07-01T00:00:00Z,,subscription\n"
            )
            written += 1
        while written < spend:
            n = rng.randrange(accounts)
            currency = currencies[n][0]
            at = base + timedelta(
                seconds=rng.randrange(span), microseconds=rng.randrange(1000) * 1000
            )
            if rng.random() < 0.01:
                amount, kind = rng.choice(("25.00", "50.00", "100.00")), "concurrency_addon"
            else:
                amount, kind = f"{rng.randrange(1, 500000) / 10000:.4f}", "usage"
            lines.append(
                f"acct-{n:06d},{amount},{currency},{at.isoformat().replace('+00:00', 'Z')},,,"
                f"{regions[n % 2]},{kind}\n"
            )
            written += 1
            if len(lines) >= 50_000:
                out.writelines(lines)
                lines = []
        out.writelines(lines)
    return accounts_path, spend_path


BARE_SQL = """
SELECT s.account_id,
       ROUND(SUM(CASE WHEN s.occurred_at IS NOT NULL THEN s.amount_micros::numeric
                      ELSE s.amount_micros::numeric
                           * EXTRACT(EPOCH FROM LEAST(s.period_end, %(end)s)
                                                - GREATEST(s.period_start, %(start)s))
                           / EXTRACT(EPOCH FROM s.period_end - s.period_start) END) / 10000)
FROM incidents_spendrecord s
WHERE (s.occurred_at >= %(start)s AND s.occurred_at < %(end)s)
   OR (s.period_start < %(end)s AND s.period_end > %(start)s)
GROUP BY s.account_id
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--spend", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of report and query")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statuspage.conf.settings")
    os.environ.setdefault("HELIOGRAPH_INSECURE_DEV_KEY", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    recreate_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from incidents.credits import services
    from incidents.credits.models import Account
    from statuspage.services import Actor

    call_command("migrate", verbosity=0)
    actor = Actor.system("bench")
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="hg-bench-credits-") as tmp:
        t0 = time.perf_counter()
        accounts_csv, spend_csv = write_csvs(Path(tmp), args.accounts, args.spend)
        figures["generate"] = time.perf_counter() - t0
        print(
            f"generated {args.accounts} accounts, {args.spend} spend rows "
            f"({spend_csv.stat().st_size / 1e6:.0f} MB) in {figures['generate']:.1f} s"
        )

        def progress(message: str) -> None:
            print(f"  {time.perf_counter() - t0:6.1f} s  {message}", flush=True)

        t0 = time.perf_counter()
        services.accounts_import(source=str(accounts_csv), actor=actor, progress=progress)
        figures["import_accounts"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = services.spend_import(source=str(spend_csv), actor=actor, progress=progress)
        figures["import_spend"] = time.perf_counter() - t0
        assert result.created == args.spend, result
        t0 = time.perf_counter()
        again = services.spend_import(source=str(spend_csv), actor=actor)
        figures["reimport_spend"] = time.perf_counter() - t0
        assert again.created == 0, again
    print(
        f"import accounts: {figures['import_accounts']:.1f} s; import spend: "
        f"{figures['import_spend']:.1f} s; re-import (adds nothing): "
        f"{figures['reimport_spend']:.1f} s"
    )

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE incidents_spendrecord")
        cursor.execute("VACUUM ANALYZE incidents_account")
    policy = services.credit_policy_create(
        actor=actor,
        window_start=START,
        window_end=END,
        rules=[services.CurrencyRule(c, Decimal("10.00")) for c in ("USD", "EUR", "GBP")],
        invoice_month="2026-06",
    )

    def bare() -> tuple[float, dict[int, int]]:
        t = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(BARE_SQL, {"start": START, "end": END})
            rows = cursor.fetchall()
        return time.perf_counter() - t, {pk: int(cents) for pk, cents in rows}

    bare()  # warm the cache the same way for both
    report_times, bare_times = [], []
    report = None
    for _ in range(args.repeat):
        t = time.perf_counter()
        report = services.credit_report_run(policy=policy, actor=actor)
        report_times.append(time.perf_counter() - t)
        elapsed, sums = bare()
        bare_times.append(elapsed)
    assert report.status == "done", report.error
    # The report's spend per account agrees with the bare query to the cent.
    lines = dict(report.lines.filter(spend_cents__gt=0).values_list("account_id", "spend_cents"))
    paying = set(Account.objects.filter(paying=True).values_list("pk", flat=True))
    nonzero = {pk: cents for pk, cents in sums.items() if cents > 0 and pk in paying}
    assert lines == nonzero, "report and bare query disagree"
    best_report, best_bare = min(report_times), min(bare_times)
    totals = ", ".join(f"{t.currency} {t.credit} to {t.accounts}" for t in report.totals.all())
    print(f"report: {report.lines_count} lines, {report.addons.count()} add-ons; {totals}")
    print(
        f"report times: {', '.join(f'{x:.3f}' for x in report_times)} s (best {best_report:.3f} s)"
    )
    print(
        f"bare query times: {', '.join(f'{x:.3f}' for x in bare_times)} s (best {best_bare:.3f} s)"
    )
    median_ratio = statistics.median(report_times) / statistics.median(bare_times)
    print(
        f"ratio report / bare query: {best_report / best_bare:.2f} best to best, "
        f"{median_ratio:.2f} median to median (goal ≤ 1.5)"
    )
    print(f"import of {args.spend} spend rows: {figures['import_spend']:.1f} s (goal < 60 s)")


if __name__ == "__main__":
    main()

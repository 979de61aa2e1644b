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

    .venv/bin/python bench/credits.py --apply [--credits 40000] [--rate 100]

Applying (issue 14): `--credits` accounts, each with a Stripe customer id, a billing contact
and one charge in the window, imported, computed, approved by a second user and applied
through the real `stripe` SDK against the loopback Stripe of tests/credits/stripe_sink.py,
run in its own process and limited to `--rate` requests a second (429 with Retry-After past
it). Heliograph's own limit is set to the same rate. Goal: the run takes close to what the
limit implies (credits / rate seconds): throughput ≥ 0.9 × the rate, and memory flat (the
resident size is sampled through the run). Uses its own SQLite file in a temporary folder
(BENCH_APPLY_DATABASE_URL to use another database, dropped and migrated here), so it never
touches a shared PostgreSQL.
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


def _serve_sink(rate: float, customers: int, conn) -> None:  # noqa: ANN001 - a Pipe end
    """The loopback Stripe, in its own process (its own GIL, like a remote server)."""
    sys.path.insert(0, str(ROOT / "tests" / "credits"))
    from stripe_sink import StripeSink

    sink = StripeSink(rate_limit=rate, record=False)
    for n in range(customers):
        sink.add_customer(f"cus_{n:06d}", None)
    conn.send(sink.url)
    while True:
        command = conn.recv()
        if command == "stats":
            created = sink.created("customer_balance_transaction")
            conn.send(
                {
                    "applied": sink.applied,
                    "rate_limited": sink.rate_limited,
                    "objects": len(created),
                    "customers_credited": len({o["customer"] for o in created}),
                    "total": -sum(o["amount"] for o in created),
                    "problems": sink.problems[:5],
                }
            )
        else:
            sink.close()
            conn.send("stopped")
            return


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def apply_main(args: argparse.Namespace) -> None:
    import multiprocessing

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve_sink, args=(args.rate, args.credits, child))
    server.start()
    sink_url = parent.recv()
    tmp = tempfile.mkdtemp(prefix="hg-bench-apply-")
    url = os.environ.get("BENCH_APPLY_DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    if url.startswith("postgres"):
        recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statuspage.conf.settings")
    os.environ.setdefault("HELIOGRAPH_INSECURE_DEV_KEY", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["HELIOGRAPH_VAR_DIR"] = tmp
    os.environ["HELIOGRAPH_STRIPE_API_KEY"] = "sk_test_heliograph_sink"
    os.environ["HELIOGRAPH_STRIPE_API_BASE"] = sink_url
    os.environ["HELIOGRAPH_STRIPE_DRY_RUN"] = "0"
    os.environ["HELIOGRAPH_STRIPE_RATE_LIMIT"] = str(args.client_rate or args.rate)
    os.environ["HELIOGRAPH_STRIPE_CONCURRENCY"] = str(args.concurrency)
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"

    import logging

    import django

    django.setup()
    logging.getLogger("stripe").setLevel(logging.WARNING)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.core.management import call_command

    from incidents.credits import selectors, services
    from notifier.models import DirectEmail
    from statuspage.services import Actor

    call_command("migrate", verbosity=0)
    folder = Path(tmp)
    t0 = time.perf_counter()
    with (folder / "accounts.csv").open("w") as out:
        out.write("account_id,name,plan,paying,currency,stripe_customer_id,billing_email\n")
        for n in range(args.credits):
            out.write(f"acct-{n:06d},Account {n},pro,true,USD,cus_{n:06d},b{n}@example.com\n")
    with (folder / "spend.csv").open("w") as out:
        out.write("account_id,amount,currency,occurred_at\n")
        for n in range(args.credits):
            out.write(f"acct-{n:06d},{5 + n % 100}.25,USD,2026-06-22T10:00:00Z\n")
    system = Actor.system("bench")
    services.accounts_import(source=str(folder / "accounts.csv"), actor=system)
    services.spend_import(source=str(folder / "spend.csv"), actor=system)
    users = get_user_model()
    approve = Permission.objects.get(codename="approve_report")
    finance = users.objects.create_user("finance", is_staff=True)
    second = users.objects.create_user("second", is_staff=True)
    second.user_permissions.add(approve)
    second = users.objects.get(pk=second.pk)
    policy = services.credit_policy_create(
        actor=system,
        window_start=START,
        window_end=END,
        rules=[services.CurrencyRule("USD", Decimal("10.00"))],
        invoice_month="2026-06",
    )
    report = services.credit_report_run(policy=policy, actor=Actor.for_user(finance))
    services.credit_report_approve(report=report, actor=Actor.for_user(second))
    print(
        f"set up {args.credits} accounts and an approved report in {time.perf_counter() - t0:.1f} s"
    )
    application = services.credit_application_start(report=report, actor=Actor.for_user(finance))

    samples: list[tuple[int, float]] = []

    def progress(message: str) -> None:
        done = int(message.split()[0])
        samples.append((done, _rss_mb()))
        if len(samples) % 25 == 0:
            print(
                f"  {time.perf_counter() - t0:6.1f} s  {message}  RSS {samples[-1][1]:.0f} MB",
                flush=True,
            )

    rss_start = _rss_mb()
    t0 = time.perf_counter()
    run = services.credit_application_run(application_id=application.pk, progress=progress)
    elapsed = time.perf_counter() - t0
    parent.send("stats")
    stats = parent.recv()
    parent.send("stop")
    parent.recv()
    server.join(10)
    application.refresh_from_db()
    counts = selectors.application_counts(application)
    ideal = args.credits / args.rate
    print(
        f"applied {run.applied} credits ({counts['applied']['count']} recorded, "
        f"{counts['failed']['count']} failed) in {elapsed:.1f} s: {run.applied / elapsed:.1f} "
        f"requests/s against a limit of {args.rate:g}/s; the limit implies {ideal:.0f} s, "
        f"ratio {ideal / elapsed:.3f} (goal ≥ 0.9)"
    )
    print(
        f"sink: {stats['objects']} balance transactions for {stats['customers_credited']} "
        f"customers, total {stats['total'] / 100:.2f}, {stats['rate_limited']} answered 429 "
        f"(our run waited out {run.rate_limited}), problems {stats['problems']}"
    )
    notices = DirectEmail.objects.count()
    quarter = [rss for done, rss in samples if done >= args.credits // 10][:1]
    print(
        f"notices queued: {notices}; RSS before the run {rss_start:.0f} MB, after 10 % "
        f"{quarter[0] if quarter else 0:.0f} MB, max {max(r for _, r in samples):.0f} MB, "
        f"at the end {_rss_mb():.0f} MB"
    )
    assert stats["objects"] == args.credits == stats["customers_credited"], stats
    assert notices == args.credits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--spend", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of report and query")
    parser.add_argument("--apply", action="store_true", help="benchmark applying through Stripe")
    parser.add_argument("--credits", type=int, default=40_000, help="--apply: credits to apply")
    parser.add_argument("--rate", type=float, default=100.0, help="--apply: the sink's limit/s")
    parser.add_argument("--concurrency", type=int, default=16, help="--apply: requests at once")
    parser.add_argument(
        "--client-rate",
        type=float,
        default=None,
        help="--apply: Heliograph's own limit (default: the sink's; above it, 429s are met)",
    )
    args = parser.parse_args()
    if args.apply:
        apply_main(args)
        return

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

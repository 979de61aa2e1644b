"""Demo data for credits, called by `manage.py load_demo`.

A few hundred accounts with spend around the June 2026 incident, the credit policy of the
seed report ("everything spent from 00:00 on 21 June to 23:59 on 23 June (UTC) … minimum $10
per account", on the June invoice) and one report of it, so the report is there to look at.
Accounts carry (made-up) Stripe customer ids and billing contacts, add-ons their charge
ids, so the report can be approved and applied — as a dry run, the default in development.

It goes through the real importers (CSV text) and services, so running it again adds nothing:
accounts are upserted, spend rows are deduplicated by their natural key, the policy is found
by its parameters and a report is run only when the policy has none.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from incidents.credits import selectors, services
from incidents.credits.models import CreditReportStatus
from incidents.models import Incident
from statuspage.services import Actor

ACCOUNTS = 300
WINDOW_START = datetime(2026, 6, 21, tzinfo=UTC)
WINDOW_END = datetime(2026, 6, 24, tzinfo=UTC)
REGIONS = ["us-east-1", "eu-central-1"]
PLANS = [("free", False), ("hobby", True), ("pro", True), ("team", True), ("enterprise", True)]
NAMES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Wonka",
    "Gringotts",
    "Pied Piper",
    "Aperture",
    "Black Mesa",
    "Oscorp",
    "Monarch",
    "Nakatomi",
    "Dunder",
]
SUFFIXES = ["Labs", "Inc", "GmbH", "Ltd", "Systems", "Cloud", "AI", "Studio"]


def june_incident() -> Incident | None:
    """The seed report's incident: named with "June", or started on 22 June 2026."""
    incident = Incident.objects.filter(name__icontains="June").order_by("created_at").first()
    if incident is None:
        day = datetime(2026, 6, 22, tzinfo=UTC)
        incident = (
            Incident.objects.filter(started_at__gte=day, started_at__lt=day + timedelta(days=1))
            .order_by("started_at")
            .first()
        )
    return incident


def _csv(rows: list[list[str]]) -> io.StringIO:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    return buffer


def demo_csvs(seed: int = 20260622) -> tuple[io.StringIO, io.StringIO]:
    """Deterministic accounts.csv and spend.csv (the same every run: re-import adds nothing)."""
    rng = random.Random(seed)
    accounts = [
        ["account_id", "name", "plan", "paying", "currency", "stripe_customer_id", "billing_email"]
    ]
    spend = [
        [
            "account_id",
            "amount",
            "currency",
            "occurred_at",
            "period_start",
            "period_end",
            "region",
            "kind",
            "charge_id",
        ]
    ]
    for n in range(1, ACCOUNTS + 1):
        external_id = f"demo-{n:04d}"
        plan, paying = rng.choices(PLANS, weights=[30, 20, 30, 15, 5])[0]
        currency = rng.choices(["USD", "EUR", "GBP"], weights=[70, 20, 10])[0]
        name = f"{rng.choice(NAMES)} {rng.choice(SUFFIXES)} {n}"
        accounts.append(
            [
                external_id,
                name,
                plan,
                "true" if paying else "false",
                currency,
                f"cus_demo{n:04d}",
                f"billing+{external_id}@example.com",
            ]
        )
        region = rng.choice(REGIONS)
        scale = {"free": 0.2, "hobby": 1, "pro": 6, "team": 25, "enterprise": 120}[plan]
        # Usage charges every few hours from 15 to 30 June.
        at = datetime(2026, 6, 15, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 600))
        while at < datetime(2026, 7, 1, tzinfo=UTC):
            amount = (Decimal(rng.randint(1, 4000)) / 1000 * Decimal(str(scale))).quantize(
                Decimal("0.000001")
            )
            spend.append(
                [external_id, str(amount), currency, at.isoformat(), "", "", region, "usage", ""]
            )
            at += timedelta(hours=rng.randint(3, 30), minutes=rng.randint(0, 59))
        if paying:
            fee = {"hobby": "10.00", "pro": "50.00", "team": "200.00", "enterprise": "1500.00"}[
                plan
            ]
            spend.append(
                [
                    external_id,
                    fee,
                    currency,
                    "",
                    "2026-06-01T00:00:00+00:00",
                    "2026-07-01T00:00:00+00:00",
                    "",
                    "subscription",
                    "",
                ]
            )
            if plan in ("pro", "team", "enterprise") and rng.random() < 0.2:
                bought = datetime(2026, 6, 22, 20, tzinfo=UTC) + timedelta(
                    minutes=rng.randint(0, 900)
                )
                spend.append(
                    [
                        external_id,
                        f"{rng.choice([25, 50, 100])}.00",
                        currency,
                        bought.isoformat(),
                        "",
                        "",
                        rng.choice(REGIONS),
                        "concurrency_addon",
                        f"ch_demo{n:04d}",
                    ]
                )
    return _csv(accounts), _csv(spend)


def load_demo_credits() -> None:
    """Add demo accounts, spend around the June incident and the seed report's policy."""
    actor = Actor.system("load_demo")
    accounts_csv, spend_csv = demo_csvs()
    services.accounts_import(source=accounts_csv, actor=actor, filename="demo accounts")
    services.spend_import(source=spend_csv, actor=actor, filename="demo spend")
    policy, _created = services.credit_policy_find_or_create(
        actor=actor,
        incident=june_incident(),
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        rules=[
            services.CurrencyRule("USD", Decimal("10.00")),
            services.CurrencyRule("EUR", Decimal("10.00")),
            services.CurrencyRule("GBP", Decimal("10.00")),
        ],
        invoice_month="2026-06",
    )
    if not selectors.policy_reports(policy).filter(status=CreditReportStatus.DONE).exists():
        services.credit_report_run(policy=policy, actor=actor)

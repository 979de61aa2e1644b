"""Helpers of the credits tests: data goes in through the real CSV importers and services."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

from incidents.credits import services
from incidents.credits.models import CreditPolicy, CreditReport
from statuspage.services import Actor

ACTOR = Actor.system("credits-test")
START = datetime(2026, 6, 21, tzinfo=UTC)
END = datetime(2026, 6, 24, tzinfo=UTC)
SPEND_HEADER = "account_id,amount,currency,occurred_at,period_start,period_end,region,kind"


def csv_text(*lines: str) -> io.StringIO:
    return io.StringIO("\n".join(lines) + "\n")


def add_accounts(*rows: str) -> services.ImportResult:
    """rows: 'id,name,plan,paying,currency'."""
    return services.accounts_import(
        source=csv_text("account_id,name,plan,paying,currency", *rows), actor=ACTOR
    )


def add_spend(*rows: str) -> services.ImportResult:
    """rows in SPEND_HEADER order."""
    return services.spend_import(source=csv_text(SPEND_HEADER, *rows), actor=ACTOR)


def charge(
    account: str, amount: str, at: str, currency: str = "USD", kind: str = "usage", region: str = ""
) -> str:
    return f"{account},{amount},{currency},{at},,,{region},{kind}"


def period(
    account: str,
    amount: str,
    start: str,
    end: str,
    currency: str = "USD",
    kind: str = "subscription",
    region: str = "",
) -> str:
    return f"{account},{amount},{currency},,{start},{end},{region},{kind}"


def make_policy(
    minimum: str = "10.00",
    currency: str = "USD",
    cap: str | None = None,
    extra: list[services.CurrencyRule] | None = None,
    **kwargs,
) -> CreditPolicy:
    rules = [services.CurrencyRule(currency, Decimal(minimum), Decimal(cap) if cap else None)]
    return services.credit_policy_create(
        actor=ACTOR,
        window_start=kwargs.pop("window_start", START),
        window_end=kwargs.pop("window_end", END),
        rules=rules + (extra or []),
        **kwargs,
    )


def run(policy: CreditPolicy) -> CreditReport:
    return services.credit_report_run(policy=policy, actor=ACTOR)


def lines(report: CreditReport) -> dict[str, tuple[str, str, bool, bool]]:
    """account id → (spend, credit, minimum_applied, cap_applied) as strings."""
    return {
        line.account_external_id: (
            f"{line.spend:.2f}",
            f"{line.credit:.2f}",
            line.minimum_applied,
            line.cap_applied,
        )
        for line in report.lines.all()
    }


def totals(report: CreditReport) -> dict[str, tuple[int, str, int, int]]:
    return {
        t.currency: (t.accounts, f"{t.credit:.2f}", t.minimum_count, t.cap_count)
        for t in report.totals.all()
    }

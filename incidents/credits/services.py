"""Writes of credits: credit policies, credit report runs, and (re-exported) the CSV importers.

A credit report is computed by the database, not by a Python loop: one `INSERT … SELECT`
aggregates the spend of every eligible account inside the window (pro rata for billed
periods), rounds it once to the cent and applies the minimum and the cap; two more
statements freeze the concurrency add-ons and the per-currency totals. See docs/credits.md.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.credits.addons import AddonCharge, addon_split
from incidents.credits.currencies import validate_currency
from incidents.credits.importers import (  # noqa: F401 - part of this module's API
    ImportRejected,
    ImportResult,
    Progress,
    _Errors,
    _noop,
    _rows,
    accounts_import,
    parse_time,
    spend_import,
    stripe_id_problem,
)
from incidents.credits.models import (
    Account,
    ApplicationItemStatus,
    ApplicationStatus,
    CreditApplication,
    CreditApplicationItem,
    CreditPolicy,
    CreditPolicyCurrency,
    CreditRefundRequest,
    CreditReport,
    CreditReportAddon,
    CreditReportLine,
    CreditReportStatus,
    CreditReportTotal,
    RefundRequestStatus,
    SpendKind,
    SpendRecord,
)
from incidents.credits.selectors import (
    NOTICE_PURPOSE,
    NOTICE_SALT,
    notice_context,
    notice_key,
)
from incidents.credits.stripe_billing import (
    BALANCE_TRANSACTION,
    CREDIT_NOTE,
    REFUND,
    Operation,
    Outcome,
    StripeGateway,
    stripe_amount,
)
from incidents.models import Incident
from notifier.services import DirectEmailDraft, direct_emails_enqueue
from statuspage import queues
from statuspage.batching import chunks
from statuspage.services import Actor, audit_record
from statuspage.text import clean_text, one_line


def _stale_after() -> timedelta:
    """A running report that has not moved for this long is taken as abandoned (its worker
    died): settings.HELIOGRAPH_CREDIT_REPORT_STALE_SECONDS."""
    return timedelta(seconds=settings.HELIOGRAPH_CREDIT_REPORT_STALE_SECONDS)


@dataclass(frozen=True)
class CurrencyRule:
    """Minimum (and optional cap) in major units for accounts billed in `currency`."""

    currency: str
    minimum: Decimal
    cap: Decimal | None = None


# --- Policies -------------------------------------------------------------------------------


# Amounts of credit rules in major units: up to a trillion (their cents fit in 64 bits).
MAX_AMOUNT_DIGITS = 13


def _to_cents(value: Decimal | str | int | float | None, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError({field: f"'{value}' is not a decimal amount"}) from None
    if not amount.is_finite():
        raise ValidationError({field: f"'{value}' is not a finite amount"})
    if amount.adjusted() >= MAX_AMOUNT_DIGITS:  # 1e999999 would overflow, 1e30 not fit
        raise ValidationError({field: f"{value} is too large (at most {MAX_AMOUNT_DIGITS} digits)"})
    cents = amount.scaleb(2)
    if cents != cents.to_integral_value():
        raise ValidationError({field: f"{value} has more than 2 decimal places (give cents)"})
    return int(cents)


def _collect(errors: dict[str, str], parse: Callable[[], object]) -> object:
    """Run `parse`; on ValidationError add its messages to `errors` and return None."""
    try:
        return parse()
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
        return None


def _month(value: str) -> str:
    text = (value or "").strip()
    try:
        parsed = datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise ValidationError(
            {"invoice_month": f"'{value}' is not a month in the form YYYY-MM (e.g. 2026-06)"}
        ) from None
    return parsed.strftime("%Y-%m")


def _clean_policy(
    *,
    name: str,
    window_start: datetime | None,
    window_end: datetime | None,
    rules: list[CurrencyRule],
    regions: list[str] | None,
    invoice_month: str | None,
) -> tuple[str, datetime, datetime, list[tuple[str, int, int | None]], list[str], str]:
    errors: dict[str, str] = {}
    if window_start is None:
        errors["window_start"] = "the window needs a start (UTC)"
    if window_end is None:
        errors["window_end"] = "the window needs an end (UTC)"
    for label, value in (("window_start", window_start), ("window_end", window_end)):
        if value is not None and timezone.is_naive(value):
            errors[label] = f"{label} must carry a time zone (use UTC, e.g. 2026-06-21T00:00Z)"
    if not errors and window_end <= window_start:
        errors["window_end"] = (
            f"the window must end after it starts ({window_end.isoformat()} is not after "
            f"{window_start.isoformat()})"
        )
    clean_rules: list[tuple[str, int, int | None]] = []
    seen: set[str] = set()
    for rule in rules:
        currency = _collect(errors, lambda: validate_currency(rule.currency))  # noqa: B023
        minimum = _collect(errors, lambda: _to_cents(rule.minimum, "minimum"))  # noqa: B023
        cap = _collect(errors, lambda: _to_cents(rule.cap, "cap"))  # noqa: B023
        if minimum is not None and minimum < 0:
            errors["minimum"] = f"the minimum cannot be negative ({rule.minimum})"
        if currency is None or any(k in errors for k in ("minimum", "cap")):
            continue
        if currency in seen:
            errors["currency"] = f"{currency} is given twice"
            continue
        seen.add(currency)
        if minimum is None:
            minimum = 0
        if cap is not None and cap <= 0:
            errors["cap"] = f"the cap must be more than 0 ({rule.cap} {currency})"
            continue
        if cap is not None and cap < minimum:
            errors["cap"] = f"the cap {rule.cap} {currency} is below the minimum {rule.minimum}"
            continue
        clean_rules.append((currency, minimum, cap))
    clean_regions = sorted(
        {
            region
            for region in (
                _collect(errors, lambda r=r: clean_text(r, field="regions", single_line=True))
                for r in regions or []
                if r
            )
            if region
        }
    )
    for region in clean_regions:
        if len(region) > 64:
            errors["regions"] = f"region '{region[:20]}…' is longer than 64 characters"
    name = _collect(errors, lambda: clean_text(name or "", field="name", single_line=True)) or ""
    if len(name) > 200:
        errors["name"] = "the name is longer than 200 characters"
    month = ""
    try:
        if invoice_month:
            month = _month(invoice_month)
        elif window_start is not None:
            month = window_start.astimezone(UTC).strftime("%Y-%m")
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    if not name:
        name = f"Credits {window_start:%Y-%m-%d %H:%M} – {window_end:%Y-%m-%d %H:%M} UTC"
    return name, window_start, window_end, clean_rules, clean_regions, month


@transaction.atomic
def credit_policy_create(
    *,
    actor: Actor,
    window_start: datetime,
    window_end: datetime,
    rules: list[CurrencyRule],
    incident: Incident | None = None,
    name: str = "",
    regions: list[str] | None = None,
    invoice_month: str | None = None,
) -> CreditPolicy:
    """Create a credit policy with its per-currency minimums and caps."""
    name, start, end, clean_rules, clean_regions, month = _clean_policy(
        name=name or (f"Credits for {one_line(incident.name)}" if incident else ""),
        window_start=window_start,
        window_end=window_end,
        rules=rules,
        regions=regions,
        invoice_month=invoice_month,
    )
    policy = CreditPolicy.objects.create(
        incident=incident,
        name=name,
        window_start=start,
        window_end=end,
        regions=clean_regions,
        invoice_month=month,
        created_by=actor.user if getattr(actor.user, "pk", None) else None,
    )
    CreditPolicyCurrency.objects.bulk_create(
        CreditPolicyCurrency(policy=policy, currency=c, minimum_cents=m, cap_cents=cap)
        for c, m, cap in clean_rules
    )
    audit_record(
        actor=actor,
        action="credits.policy_create",
        obj=policy,
        summary=f"{name}: {start.isoformat()} – {end.isoformat()}",
        data=policy_parameters(policy),
    )
    return policy


@transaction.atomic
def credit_policy_update(
    *,
    policy: CreditPolicy,
    actor: Actor,
    window_start: datetime,
    window_end: datetime,
    rules: list[CurrencyRule],
    incident: Incident | None = None,
    name: str = "",
    regions: list[str] | None = None,
    invoice_month: str | None = None,
) -> CreditPolicy:
    """Change a policy. Reports already run keep the parameters they were run with."""
    name, start, end, clean_rules, clean_regions, month = _clean_policy(
        name=name or policy.name,
        window_start=window_start,
        window_end=window_end,
        rules=rules,
        regions=regions,
        invoice_month=invoice_month,
    )
    policy = CreditPolicy.objects.select_for_update().get(pk=policy.pk)
    before = policy_parameters(policy)
    policy.incident = incident
    policy.name = name
    policy.window_start = start
    policy.window_end = end
    policy.regions = clean_regions
    policy.invoice_month = month
    policy.save()
    policy.currencies.all().delete()
    CreditPolicyCurrency.objects.bulk_create(
        CreditPolicyCurrency(policy=policy, currency=c, minimum_cents=m, cap_cents=cap)
        for c, m, cap in clean_rules
    )
    audit_record(
        actor=actor,
        action="credits.policy_update",
        obj=policy,
        summary=name,
        data={"before": before, "after": policy_parameters(policy)},
    )
    return policy


def policy_parameters(policy: CreditPolicy) -> dict:
    """The policy as plain JSON: what a report freezes, what the audit trail records."""
    return {
        "policy_id": policy.pk,
        "name": policy.name,
        "incident": policy.incident.public_id if policy.incident_id else None,
        "window_start": policy.window_start.isoformat(),
        "window_end": policy.window_end.isoformat(),
        "regions": list(policy.regions or []),
        "invoice_month": policy.invoice_month,
        "currencies": {
            rule.currency: {"minimum_cents": rule.minimum_cents, "cap_cents": rule.cap_cents}
            for rule in policy.currencies.all()
        },
    }


def credit_policy_find_or_create(
    *,
    actor: Actor,
    incident: Incident | None,
    window_start: datetime,
    window_end: datetime,
    rules: list[CurrencyRule],
    regions: list[str] | None = None,
    invoice_month: str | None = None,
) -> tuple[CreditPolicy, bool]:
    """The policy of `incident` with exactly these parameters, created if there is none.

    Reusing it (rather than creating one per run) is what lets a second run be compared
    with the previous report of the same policy.
    """
    _name, start, end, clean_rules, clean_regions, month = _clean_policy(
        name="",
        window_start=window_start,
        window_end=window_end,
        rules=rules,
        regions=regions,
        invoice_month=invoice_month,
    )
    wanted = {c: {"minimum_cents": m, "cap_cents": cap} for c, m, cap in clean_rules}
    candidates = CreditPolicy.objects.filter(
        incident=incident, window_start=start, window_end=end, invoice_month=month
    ).prefetch_related("currencies")
    for policy in candidates.order_by("-id"):
        params = policy_parameters(policy)
        if params["currencies"] == wanted and params["regions"] == clean_regions:
            return policy, False
    policy = credit_policy_create(
        actor=actor,
        incident=incident,
        window_start=start,
        window_end=end,
        rules=rules,
        regions=clean_regions,
        invoice_month=month,
    )
    return policy, True


# --- Reports --------------------------------------------------------------------------------


class ReportAlreadyRunning(ValidationError):
    """Another run of the same policy is in progress: refused, not doubled."""

    def __init__(self, running: CreditReport) -> None:
        self.running = running
        super().__init__(
            {
                "policy": (
                    f"a report of this policy is already running (#{running.pk}, started "
                    f"{running.created_at:%Y-%m-%d %H:%M:%S} UTC, {running.progress}% done); "
                    "wait for it to finish"
                )
            }
        )


@transaction.atomic
def credit_report_start(*, policy: CreditPolicy, actor: Actor) -> CreditReport:
    """Create a `running` report of `policy`, or refuse if one is already running.

    The policy row is locked for the check, so two simultaneous starts cannot both pass.
    """
    policy = CreditPolicy.objects.select_for_update().get(pk=policy.pk)
    now = timezone.now()
    running = CreditReport.objects.filter(policy=policy, status=CreditReportStatus.RUNNING)
    for report in running:
        if report.updated_at < now - _stale_after():
            report.status = CreditReportStatus.FAILED
            report.error = f"abandoned: no progress since {report.updated_at:%Y-%m-%d %H:%M} UTC"
            report.finished_at = now
            report.updated_at = now
            report.save(update_fields=["status", "error", "finished_at", "updated_at"])
            audit_record(actor=actor, action="credits.report_abandoned", obj=report)
        else:
            raise ReportAlreadyRunning(report)
    previous = (
        CreditReport.objects.filter(policy=policy, status=CreditReportStatus.DONE)
        .order_by("-created_at", "-id")
        .first()
    )
    report = CreditReport.objects.create(
        policy=policy,
        status=CreditReportStatus.RUNNING,
        parameters=policy_parameters(policy),
        previous=previous,
        created_at=now,
        updated_at=now,
        progress_note="queued",
        created_by=actor.user if getattr(actor.user, "pk", None) else None,
        created_by_name=actor.name,
    )
    audit_record(
        actor=actor,
        action="credits.report_start",
        obj=report,
        summary=f"report #{report.pk} of {policy.name}",
    )
    return report


def credit_report_enqueue(*, policy: CreditPolicy, actor: Actor) -> CreditReport:
    """Start a report and hand the computation to a worker (queue "reports") after commit."""
    task = queues.task("incidents.credits.tasks.credit_report_compute_task")
    with transaction.atomic():
        report = credit_report_start(policy=policy, actor=actor)
        transaction.on_commit(lambda: task.apply_async(args=[report.pk], queue="reports"))
    return report


def credit_report_run(*, policy: CreditPolicy, actor: Actor) -> CreditReport:
    """Start and compute a report in this process (the command, the demo)."""
    report = credit_report_start(policy=policy, actor=actor)
    return credit_report_compute(report_id=report.pk, actor=actor)


class _Superseded(Exception):
    """Another attempt took over this report (a redelivered task); this one stops."""


def _step(report_id: int, token: str, progress: int, note: str) -> CreditReport:
    """Lock the report and check this attempt still owns it; record progress."""
    report = CreditReport.objects.select_for_update().get(pk=report_id)
    if report.status != CreditReportStatus.RUNNING or report.progress_note.split(" · ")[0] != token:
        raise _Superseded
    report.progress = progress
    report.progress_note = f"{token} · {note}"
    report.updated_at = timezone.now()
    report.save(update_fields=["progress", "progress_note", "updated_at"])
    return report


def credit_report_compute(*, report_id: int, actor: Actor | None = None) -> CreditReport:
    """Compute a running report in the database, freeze it and mark it done (or failed).

    Safe to call twice for the same report (a redelivered task): an attempt that finds the
    report done does nothing, and a newer attempt supersedes an older one.
    """
    actor = actor or Actor.system("credit-report")
    token = uuid.uuid4().hex[:12]
    with transaction.atomic():
        report = CreditReport.objects.select_for_update().get(pk=report_id)
        if report.status != CreditReportStatus.RUNNING:
            return report
        CreditReportLine.objects.filter(report=report).delete()
        CreditReportAddon.objects.filter(report=report).delete()
        CreditReportTotal.objects.filter(report=report).delete()
        report.progress = 5
        report.progress_note = f"{token} · computing spend in the window"
        report.updated_at = timezone.now()
        report.save(update_fields=["progress", "progress_note", "updated_at"])
    try:
        with transaction.atomic():
            report = _step(report_id, token, 10, "computing spend in the window")
            _insert_lines(report)
            _freeze_addons(report)
            _step(report_id, token, 80, "totals and comparison")
        with transaction.atomic():
            report = _step(report_id, token, 90, "totals and comparison")
            _freeze_totals_and_diff(report)
            now = timezone.now()
            report.status = CreditReportStatus.DONE
            report.progress = 100
            report.progress_note = "done"
            report.finished_at = now
            report.updated_at = now
            report.save()
            totals = ", ".join(
                f"{t.currency} {t.credit} to {t.accounts}" for t in report.totals.all()
            )
            audit_record(
                actor=actor,
                action="credits.report_done",
                obj=report,
                summary=f"report #{report.pk}: {totals or 'no account credited'}",
                data={"lines": report.lines_count},
            )
        return report
    except _Superseded:
        return CreditReport.objects.get(pk=report_id)
    except Exception as exc:
        _fail(report_id, token, exc, actor)
        raise


def _fail(report_id: int, token: str, exc: Exception, actor: Actor) -> None:
    with transaction.atomic():
        report = CreditReport.objects.select_for_update().get(pk=report_id)
        if report.status != CreditReportStatus.RUNNING or not report.progress_note.startswith(
            token
        ):
            return
        CreditReportLine.objects.filter(report=report).delete()
        CreditReportAddon.objects.filter(report=report).delete()
        CreditReportTotal.objects.filter(report=report).delete()
        now = timezone.now()
        report.status = CreditReportStatus.FAILED
        report.error = f"{type(exc).__name__}: {exc}"[:2000]
        report.progress_note = "failed"
        report.finished_at = now
        report.updated_at = now
        report.save()
        audit_record(actor=actor, action="credits.report_failed", obj=report, summary=report.error)


def _window_params(report: CreditReport) -> tuple:
    start, end = report.window
    if connection.vendor != "postgresql":
        adapt = connection.ops.adapt_datetimefield_value
        return adapt(start), adapt(end)
    return start, end


def spend_in_window_sql(vendor: str) -> str:
    """SELECT account_id, spend_cents per account: the one aggregate of a report.

    It does not join the accounts: eligibility is applied when the sums are joined to the
    paying accounts, which is cheaper than joining every spend row to its account.

    Parameters: `spend_in_window_params(start, end)`.
    A record with `occurred_at` counts whole if start ≤ occurred_at < end; a record with a
    period counts whole if the period lies inside the window, else by the share of its
    duration inside the window. The sum is exact on PostgreSQL (numeric); on SQLite the share
    of a straddling period is a floating-point fraction (integer sums stay exact).
    """
    spend = SpendRecord._meta.db_table
    if vendor == "postgresql":
        share = (
            "s.amount_micros::numeric(38,12) "
            "* EXTRACT(EPOCH FROM (LEAST(s.period_end, %s) - GREATEST(s.period_start, %s))) "
            "/ EXTRACT(EPOCH FROM (s.period_end - s.period_start))"
        )
    else:
        share = (
            "s.amount_micros * (julianday(MIN(s.period_end, %s)) "
            "- julianday(MAX(s.period_start, %s))) "
            "/ (julianday(s.period_end) - julianday(s.period_start))"
        )
    # Rounded once, here, per account: micro-units → cents, half away from zero.
    if vendor == "postgresql":
        round_open, round_close = "ROUND((", ") / 10000)::bigint"
    else:
        round_open, round_close = "CAST(ROUND((", ") / 10000.0) AS INTEGER)"
    if vendor == "postgresql":
        # numeric arithmetic is exact: a period wholly inside gets amount × d / d = amount.
        whole = "s.occurred_at IS NOT NULL"
        partial = "s.occurred_at IS NULL"
    else:
        # floating-point shares: count a period wholly inside whole, not as a × d / d.
        whole = "s.occurred_at IS NOT NULL OR (s.period_start >= %s AND s.period_end <= %s)"
        partial = "s.occurred_at IS NULL AND (s.period_start < %s OR s.period_end > %s)"
    return (
        f"SELECT s.account_id, "
        f"{round_open}COALESCE(SUM(CASE WHEN {whole} THEN s.amount_micros END), 0) "
        f"+ COALESCE(SUM(CASE WHEN {partial} THEN {share} END), 0){round_close} AS spend_cents "
        f"FROM {spend} s "
        f"WHERE (s.occurred_at >= %s AND s.occurred_at < %s) "
        f"OR (s.period_start < %s AND s.period_end > %s) "
        f"GROUP BY s.account_id"
    )


def spend_in_window_params(vendor: str, start: object, end: object) -> list:
    """The parameters of `spend_in_window_sql`, in the order its placeholders appear."""
    if vendor == "postgresql":
        return [end, start, start, end, end, start]
    return [start, end, start, end, end, start, start, end, end, start]


def _insert_lines(report: CreditReport) -> None:
    """The report's lines: one aggregate INSERT … SELECT."""
    vendor = connection.vendor
    start, end = _window_params(report)
    params: list = [report.pk]
    rules = report.parameters.get("currencies", {})
    rule_rows = []
    for currency, rule in rules.items():
        rule_rows.append("SELECT %s AS currency, %s AS minimum_cents, %s AS cap_cents")
        params += [currency, rule["minimum_cents"], rule["cap_cents"]]
    if not rule_rows:
        rule_rows.append("SELECT NULL AS currency, 0 AS minimum_cents, NULL AS cap_cents")
    if vendor == "postgresql":
        rules_sql = " UNION ALL ".join(
            r.replace("%s AS currency", "%s::text AS currency")
            .replace("%s AS minimum_cents", "%s::bigint AS minimum_cents")
            .replace("%s AS cap_cents", "%s::bigint AS cap_cents")
            .replace("NULL AS cap_cents", "NULL::bigint AS cap_cents")
            .replace("NULL AS currency", "NULL::text AS currency")
            for r in rule_rows
        )
    else:
        rules_sql = " UNION ALL ".join(rule_rows)
    params += spend_in_window_params(vendor, start, end)
    account = Account._meta.db_table
    spend = SpendRecord._meta.db_table
    region_sql = ""
    regions = report.parameters.get("regions") or []
    if regions:
        region_sql = (
            f"AND EXISTS (SELECT 1 FROM {spend} r WHERE r.account_id = a.id "
            f"AND r.region IN ({', '.join(['%s'] * len(regions))}) "
            f"AND ((r.occurred_at >= %s AND r.occurred_at < %s) "
            f"OR (r.period_start < %s AND r.period_end > %s)))"
        )
        params += [*regions, start, end, end, start]
    sql = f"""
        WITH rules AS ({rules_sql}),
        agg AS ({spend_in_window_sql(vendor)}),
        acc AS (
            SELECT a.id, a.external_id, a.name, a.currency,
                   COALESCE(agg.spend_cents, 0) AS spend_cents,
                   COALESCE(rules.minimum_cents, 0) AS minimum_cents,
                   rules.cap_cents AS cap_cents,
                   CASE WHEN rules.currency IS NULL THEN 1 ELSE 0 END AS minimum_missing
            FROM {account} a
            LEFT JOIN agg ON agg.account_id = a.id
            LEFT JOIN rules ON rules.currency = a.currency
            WHERE a.paying {region_sql}
        ),
        floored AS (
            SELECT acc.*,
                   CASE WHEN spend_cents > minimum_cents THEN spend_cents
                        ELSE minimum_cents END AS floor_cents
            FROM acc
        )
        INSERT INTO {CreditReportLine._meta.db_table}
            (report_id, account_id, account_external_id, account_name, currency, spend_cents,
             minimum_cents, cap_cents, credit_cents, minimum_applied, cap_applied,
             minimum_missing)
        SELECT %s, id, external_id, name, currency, spend_cents, minimum_cents, cap_cents,
               CASE WHEN cap_cents IS NOT NULL AND floor_cents > cap_cents THEN cap_cents
                    ELSE floor_cents END,
               minimum_cents > 0 AND spend_cents < minimum_cents,
               cap_cents IS NOT NULL AND floor_cents > cap_cents,
               minimum_missing = 1
        FROM floored
        WHERE floor_cents > 0 OR minimum_missing = 1
        ORDER BY id
    """
    # The report id is the INSERT's first placeholder but comes last in the text.
    ordered = params[1:] + [params[0]]
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            # Room for the per-account hash aggregate in memory (one entry per account).
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, ordered)


def _freeze_addons(report: CreditReport) -> None:
    """Freeze the report's concurrency add-ons and put the add-on figures on the lines.

    The add-ons are those overlapping the window (any account), and those named by the
    policy's refund requests (e.g. bought just before the window). Each account's figures
    follow `incidents.credits.addons` (exact fractions, rounded once); an account with
    add-ons but no line (not eligible, or nothing to credit) gets a line with credit 0, so
    its refund is in the lines, the CSV and the API like every other.
    """
    start, end = report.window
    requests = {
        r.account_id: r
        for r in CreditRefundRequest.objects.filter(policy_id=report.policy_id).order_by("pk")
    }
    overlapping = Q(occurred_at__gte=start, occurred_at__lt=end) | Q(
        period_start__lt=end, period_end__gt=start
    )
    named = Q(pk__in=[])
    for request in requests.values():
        ids = [i for i in request.charge_ids or [] if i]
        if ids:
            named |= Q(account_id=request.account_id) & (
                Q(charge_id__in=ids) | Q(invoice_id__in=ids)
            )
    rows = list(
        SpendRecord.objects.filter(kind=SpendKind.CONCURRENCY_ADDON)
        .filter(overlapping | named)
        .order_by("account_id", "occurred_at", "period_start", "pk")
        .values(
            "pk",
            "account_id",
            "amount_micros",
            "currency",
            "occurred_at",
            "period_start",
            "period_end",
            "region",
            "charge_id",
            "invoice_id",
        )
    )
    if not rows:
        return
    by_account: dict[int, list[dict]] = {}
    for row in rows:
        by_account.setdefault(row["account_id"], []).append(row)
    accounts = Account.objects.in_bulk(list(by_account))
    lines = {
        line.account_id: line
        for chunk in chunks(by_account)
        for line in CreditReportLine.objects.filter(report=report, account_id__in=chunk)
    }
    rules = report.parameters.get("currencies", {})
    addons: list[CreditReportAddon] = []
    updates: list[tuple] = []
    new_lines: list[CreditReportLine] = []
    for account_id, charges in by_account.items():
        account = accounts[account_id]
        line = lines.get(account_id)
        request = requests.get(account_id)
        split = addon_split(
            [
                AddonCharge(
                    c["amount_micros"], c["occurred_at"], c["period_start"], c["period_end"]
                )
                for c in charges
            ],
            start=start,
            end=end,
            spend_cents=line.spend_cents if line else 0,
            credit_cents=line.credit_cents if line else 0,
            cap_applied=bool(line and line.cap_applied),
            refund_approved=bool(request and request.status == RefundRequestStatus.APPROVED),
        )
        for charge, (paid, in_credit, refund) in zip(charges, split.charges, strict=True):
            addons.append(
                CreditReportAddon(
                    report=report,
                    account_id=account_id,
                    spend_id=charge["pk"],
                    account_external_id=account.external_id,
                    account_name=account.name,
                    amount_micros=charge["amount_micros"],
                    currency=charge["currency"],
                    occurred_at=charge["occurred_at"],
                    period_start=charge["period_start"],
                    period_end=charge["period_end"],
                    region=charge["region"],
                    charge_id=charge["charge_id"],
                    invoice_id=charge["invoice_id"],
                    paid_cents=paid,
                    in_credit_cents=in_credit,
                    refund_cents=refund,
                )
            )
        figures = (split.paid_cents, split.in_credit_cents, split.refund_cents)
        if line is not None:
            updates.append((*figures, report.pk, account_id))
            continue
        rule = rules.get(account.currency)
        new_lines.append(
            CreditReportLine(
                report=report,
                account_id=account_id,
                account_external_id=account.external_id,
                account_name=account.name,
                currency=account.currency,
                spend_cents=0,
                minimum_cents=rule["minimum_cents"] if rule else 0,
                cap_cents=rule["cap_cents"] if rule else None,
                credit_cents=0,
                minimum_applied=False,
                cap_applied=False,
                minimum_missing=rule is None,
                addon_paid_cents=figures[0],
                addon_in_credit_cents=figures[1],
                addon_refund_cents=figures[2],
            )
        )
    CreditReportAddon.objects.bulk_create(addons, batch_size=2000)
    CreditReportLine.objects.bulk_create(new_lines, batch_size=2000)
    if updates:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {CreditReportLine._meta.db_table} SET addon_paid_cents = %s, "
                f"addon_in_credit_cents = %s, addon_refund_cents = %s "
                f"WHERE report_id = %s AND account_id = %s",
                updates,
            )


def _freeze_totals_and_diff(report: CreditReport) -> None:
    lines = CreditReportLine.objects.filter(report=report)
    rows = list(
        lines.values("currency")
        .annotate(
            accounts=Count("account", filter=Q(credit_cents__gt=0)),
            spend_cents=Sum("spend_cents"),
            credit_cents=Sum("credit_cents"),
            minimum_count=Count("account", filter=Q(minimum_applied=True)),
            cap_count=Count("account", filter=Q(cap_applied=True)),
            addon_refund_cents=Sum("addon_refund_cents"),
        )
        .order_by("currency")
    )
    ruled = set(report.parameters.get("currencies", {}))
    CreditReportTotal.objects.bulk_create(
        CreditReportTotal(report=report, minimum_missing=row["currency"] not in ruled, **row)
        for row in rows
    )
    report.lines_count = lines.count()
    if report.previous_id:
        report.added_count, report.removed_count, report.changed_count = _diff_counts(
            report.pk, report.previous_id
        )


def _diff_counts(new_id: int, old_id: int) -> tuple[int, int, int]:
    """(added, removed, changed) accounts between two reports, in one pass over both."""
    table = CreditReportLine._meta.db_table
    if connection.vendor == "postgresql":
        # A merge of both reports' lines on the account (FULL JOIN), counted in one pass.
        sql = f"""
            SELECT COUNT(*) FILTER (WHERE o.account_id IS NULL),
                   COUNT(*) FILTER (WHERE n.account_id IS NULL),
                   COUNT(*) FILTER (WHERE n.account_id IS NOT NULL AND o.account_id IS NOT NULL AND (
                       n.currency <> o.currency OR n.spend_cents <> o.spend_cents
                       OR n.credit_cents <> o.credit_cents
                       OR n.minimum_applied <> o.minimum_applied
                       OR n.cap_applied <> o.cap_applied
                       OR n.addon_refund_cents <> o.addon_refund_cents))
            FROM (SELECT * FROM {table} WHERE report_id = %s) n
            FULL JOIN (SELECT * FROM {table} WHERE report_id = %s) o
                ON n.account_external_id = o.account_external_id
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, [new_id, old_id])
            added, removed, changed = cursor.fetchone()
        return int(added), int(removed), int(changed)
    # Elsewhere (SQLite before 3.39 has no FULL JOIN): group the union of both reports.
    columns = (
        "account_external_id, currency, spend_cents, credit_cents, addon_refund_cents, "
        "CASE WHEN minimum_applied THEN 1 ELSE 0 END AS minimum_applied, "
        "CASE WHEN cap_applied THEN 1 ELSE 0 END AS cap_applied"
    )
    sql = f"""
        SELECT COALESCE(SUM(CASE WHEN n = 1 AND o = 0 THEN 1 ELSE 0 END), 0),
               COALESCE(SUM(CASE WHEN n = 0 AND o = 1 THEN 1 ELSE 0 END), 0),
               COALESCE(SUM(CASE WHEN n = 1 AND o = 1 AND differs THEN 1 ELSE 0 END), 0)
        FROM (
            SELECT MAX(is_new) AS n, MAX(is_old) AS o,
                   (MIN(currency) <> MAX(currency) OR MIN(spend_cents) <> MAX(spend_cents)
                    OR MIN(credit_cents) <> MAX(credit_cents)
                    OR MIN(addon_refund_cents) <> MAX(addon_refund_cents)
                    OR MIN(minimum_applied) <> MAX(minimum_applied)
                    OR MIN(cap_applied) <> MAX(cap_applied)) AS differs
            FROM (
                SELECT {columns}, 1 AS is_new, 0 AS is_old FROM {table} WHERE report_id = %s
                UNION ALL
                SELECT {columns}, 0, 1 FROM {table} WHERE report_id = %s
            ) both_reports
            GROUP BY account_external_id
        ) per_account
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [new_id, old_id])
        added, removed, changed = cursor.fetchone()
    return int(added), int(removed), int(changed)


# --- Approval (four eyes) -------------------------------------------------------------------

APPROVE_PERMISSION = "credits.approve_report"


def _live_application(policy_id: int) -> CreditApplication | None:
    return (
        CreditApplication.objects.filter(report__policy_id=policy_id, dry_run=False)
        .order_by("pk")
        .first()
    )


@transaction.atomic
def credit_report_approve(*, report: CreditReport, actor: Actor) -> CreditReport:
    """Approve a computed report for application: `computed → approved`.

    Four eyes: the approver is an active staff user with `credits.approve_report` who did
    not compute the report. From then on the report never changes (its lines, totals and
    add-ons are only ever written while it runs); a correction is a recompute, i.e. a new
    report with a diff, approved again. Refused once a report of the same policy has been
    applied (its credits are on invoices already)."""
    report = CreditReport.objects.select_for_update().get(pk=report.pk)
    user = actor.user if getattr(actor.user, "pk", None) else None
    if report.status != CreditReportStatus.DONE:
        raise ValidationError({"report": f"report #{report.pk} is {report.status}, not computed"})
    if report.approved_at is not None:
        raise ValidationError(
            {"report": f"report #{report.pk} was already approved by {report.approved_by_name}"}
        )
    if user is None or not (user.is_active and user.is_staff):
        raise ValidationError({"approver": "approving needs a signed-in, active staff user"})
    if not user.has_perm(APPROVE_PERMISSION):
        raise ValidationError(
            {"approver": f"{user.get_username()} lacks the permission {APPROVE_PERMISSION}"}
        )
    if report.created_by_id is not None and report.created_by_id == user.pk:
        raise ValidationError(
            {
                "approver": (
                    f"{user.get_username()} computed report #{report.pk}: someone else must "
                    "approve it (four eyes)"
                )
            }
        )
    applied = _live_application(report.policy_id)
    if applied is not None:
        raise ValidationError(
            {
                "report": (
                    f"report #{applied.report_id} of this policy is being or has been applied "
                    "through Stripe; its credits are on customers' invoices, so no other "
                    "report of the policy can be approved (make a new policy for a correction)"
                )
            }
        )
    now = timezone.now()
    report.approved_at = now
    report.approved_by = user
    report.approved_by_name = actor.name
    report.updated_at = now
    report.save(update_fields=["approved_at", "approved_by", "approved_by_name", "updated_at"])
    totals = ", ".join(f"{t.currency} {t.credit}" for t in report.totals.all())
    audit_record(
        actor=actor,
        action="credits.report_approve",
        obj=report,
        summary=f"report #{report.pk} approved: {totals or 'nothing to credit'}",
    )
    return report


# --- Refund requests ------------------------------------------------------------------------


REFUND_CONTACT_MAX = 254
REFUND_MESSAGE_MAX = 10_000


def _account_addon_ids(account: Account) -> set[str]:
    """The Stripe charge and invoice ids of the account's concurrency add-ons."""
    rows = SpendRecord.objects.filter(
        account=account, kind=SpendKind.CONCURRENCY_ADDON
    ).values_list("charge_id", "invoice_id")
    return {value for row in rows for value in row if value}


def _refund_request_fields(
    *,
    account_label: str,
    addon_ids: set[str] | None,
    contact: str,
    message: str,
    charge_ids: list[str] | tuple[str, ...],
) -> tuple[str, str, list[str]]:
    """The one check of a refund request's fields, for the console, the API and the CSV
    import alike: text through `clean_text`, the lengths, and charge ids that are Stripe
    charge or invoice ids of add-ons of the account (`addon_ids`; None: the account is not
    known, only the ids' shape is checked), so a typo cannot refund someone else's charge.
    Every bad field is named in the one `ValidationError`."""
    errors: dict[str, str] = {}
    clean_contact = str(
        _collect(errors, lambda: clean_text(contact or "", field="contact", single_line=True)) or ""
    )
    if len(clean_contact) > REFUND_CONTACT_MAX:
        errors["contact"] = f"the contact is longer than {REFUND_CONTACT_MAX} characters"
    clean_message = str(_collect(errors, lambda: clean_text(message or "", field="message")) or "")
    if len(clean_message) > REFUND_MESSAGE_MAX:
        errors["message"] = f"the message is longer than {REFUND_MESSAGE_MAX:,} characters"
    ids: list[str] = []
    for raw in charge_ids or []:
        value = _collect(
            errors, lambda raw=raw: clean_text(raw or "", field="charge_ids", single_line=True)
        )
        if not value:
            continue
        problem = stripe_id_problem(value, ("ch_", "py_", "pi_", "in_"), "charge_ids")
        if problem:
            errors.setdefault("charge_ids", problem)
        elif addon_ids is not None and value not in addon_ids:
            errors.setdefault(
                "charge_ids", f"{value} is not a concurrency add-on of {account_label}"
            )
        elif value not in ids:
            ids.append(value)
    if errors:
        raise ValidationError(errors)
    return clean_contact, clean_message, ids


@transaction.atomic
def refund_request_record(
    *,
    policy: CreditPolicy,
    account: Account,
    actor: Actor,
    source: str = "console",
    requested_at: datetime | None = None,
    contact: str = "",
    message: str = "",
    charge_ids: list[str] | tuple[str, ...] = (),
) -> CreditRefundRequest:
    """Record that an account asks for its concurrency add-ons to be refunded (one request
    per account and policy). It waits for review (`refund_request_decide`)."""
    contact, message, ids = _refund_request_fields(
        account_label=account.external_id,
        addon_ids=_account_addon_ids(account),
        contact=contact,
        message=message,
        charge_ids=charge_ids,
    )
    if requested_at is not None and timezone.is_naive(requested_at):
        raise ValidationError({"requested_at": "give a time zone (UTC, e.g. 2026-06-23T10:00Z)"})
    if CreditRefundRequest.objects.filter(policy=policy, account=account).exists():
        raise ValidationError(
            {"account": f"{account.external_id} already has a refund request for this policy"}
        )
    request = CreditRefundRequest.objects.create(
        policy=policy,
        account=account,
        requested_at=requested_at or timezone.now(),
        source=source,
        contact=contact,
        message=message,
        charge_ids=ids,
        created_by_name=actor.name,
    )
    audit_record(
        actor=actor,
        action="credits.refund_request",
        obj=request,
        summary=f"{account.external_id} asks for its add-ons to be refunded ({policy.name})",
    )
    return request


# --- Refund requests: the contact form's export ---------------------------------------------

REFUND_COLUMNS = ["account_id", "requested_at", "contact", "message", "charge_ids"]
REFUND_REQUIRED = {"account_id"}
_SEPARATORS = re.compile(r"[\s;,]+")


def _parse_refund(
    row: dict[str, str], accounts: dict[str, int], addon_ids: dict[int, set[str]]
) -> tuple[tuple | None, list[str]]:
    """A line of the export, checked by the same rule as a request recorded by hand."""
    reasons: list[str] = []
    external_id = row["account_id"].strip()
    account_id = accounts.get(external_id)
    if not external_id:
        reasons.append("account_id is empty")
    elif account_id is None:
        reasons.append(f"unknown account '{external_id}' (import accounts first)")
    requested_at = None
    raw_time = row.get("requested_at", "").strip()
    if raw_time:
        try:
            requested_at = parse_time(raw_time, "requested_at")
        except ValueError as exc:
            reasons.append(str(exc))
    try:
        contact, message, charge_ids = _refund_request_fields(
            account_label=external_id,
            addon_ids=addon_ids.get(account_id, set()) if account_id is not None else None,
            contact=row.get("contact", ""),
            message=row.get("message", ""),
            charge_ids=[c for c in _SEPARATORS.split(row.get("charge_ids", "").strip()) if c],
        )
    except ValidationError as exc:
        reasons.extend(exc.messages)
    if reasons:
        return None, reasons
    return (account_id, requested_at, contact, message, charge_ids), []


def refund_requests_import(
    *, policy, source: str | IO, actor: Actor, progress: Progress = _noop, filename: str = ""
) -> ImportResult:
    """Record the refund requests of a contact-form export
    (`account_id,requested_at,contact,message,charge_ids`) for `policy`: validated whole
    first; an account that already has a request keeps it (re-importing adds nothing), and
    an account named twice in the file keeps its first line."""
    accounts = dict(Account.objects.values_list("external_id", "pk"))
    addon_ids: dict[int, set[str]] = {}
    for account_id, charge_id, invoice_id in SpendRecord.objects.filter(
        kind=SpendKind.CONCURRENCY_ADDON
    ).values_list("account_id", "charge_id", "invoice_id"):
        addon_ids.setdefault(account_id, set()).update(i for i in (charge_id, invoice_id) if i)
    errors = _Errors()
    result = ImportResult()
    parsed_rows: list[tuple] = []
    for line, row in _rows(source, REFUND_COLUMNS, REFUND_REQUIRED, errors):
        result.lines += 1
        parsed, reasons = _parse_refund(row, accounts, addon_ids)
        for reason in reasons:
            errors.add(line, reason)
        if parsed is not None:
            parsed_rows.append(parsed)
    errors.raise_if_any()
    existing = set(
        CreditRefundRequest.objects.filter(policy=policy).values_list("account_id", flat=True)
    )
    now = datetime.now(UTC)
    with transaction.atomic():
        new = []
        for account_id, requested_at, contact, message, charge_ids in parsed_rows:
            if account_id in existing:
                result.unchanged += 1
                continue
            existing.add(account_id)
            new.append(
                CreditRefundRequest(
                    policy=policy,
                    account_id=account_id,
                    requested_at=requested_at or now,
                    source="import",
                    contact=contact,
                    message=message,
                    charge_ids=charge_ids,
                    created_by_name=actor.name,
                )
            )
        CreditRefundRequest.objects.bulk_create(new, batch_size=1000)
        result.created = len(new)
        audit_record(
            actor=actor,
            action="credits.refund_requests_import",
            obj=policy,
            summary=(
                f"{filename or 'refund requests CSV'}: {result.created} new, "
                f"{result.unchanged} already recorded"
            ),
        )
    progress(f"done: {result.created} new, {result.unchanged} already recorded")
    return result


@transaction.atomic
def refund_request_decide(
    *, request: CreditRefundRequest, actor: Actor, approve: bool, reason: str
) -> CreditRefundRequest:
    """Approve or refuse a refund request, with a reason. A report computed after this
    carries the refund (approved) or not; reports computed before keep what they froze."""
    reason = clean_text(reason or "", field="reason").strip()
    if not reason:
        raise ValidationError({"reason": "say why the refund is approved or refused"})
    request = CreditRefundRequest.objects.select_for_update().get(pk=request.pk)
    request.status = RefundRequestStatus.APPROVED if approve else RefundRequestStatus.REFUSED
    request.reason = reason
    request.decided_at = timezone.now()
    request.decided_by_name = actor.name
    request.save(update_fields=["status", "reason", "decided_at", "decided_by_name"])
    audit_record(
        actor=actor,
        action="credits.refund_request_decide",
        obj=request,
        summary=f"{request.account.external_id}: {request.status} — {reason}"[:1000],
    )
    return request


@transaction.atomic
def refund_request_record_reset(
    *, request: CreditRefundRequest, actor: Actor, note: str = ""
) -> CreditRefundRequest:
    """Record that the account's concurrency was reset ("we'll reset it and refund you")."""
    note = clean_text(note or "", field="note", single_line=True)[:500]
    request = CreditRefundRequest.objects.select_for_update().get(pk=request.pk)
    if request.concurrency_reset_at is not None:
        raise ValidationError(
            {"concurrency": f"already recorded as reset by {request.concurrency_reset_by_name}"}
        )
    request.concurrency_reset_at = timezone.now()
    request.concurrency_reset_by_name = actor.name
    request.concurrency_reset_note = note
    request.save(
        update_fields=[
            "concurrency_reset_at",
            "concurrency_reset_by_name",
            "concurrency_reset_note",
        ]
    )
    audit_record(
        actor=actor,
        action="credits.concurrency_reset",
        obj=request,
        summary=f"{request.account.external_id}: concurrency reset {note}".strip(),
    )
    return request


# --- Application through Stripe -------------------------------------------------------------

CREDIT_KIND = "credit"
APPLY_BATCH = 200
# Stripe forgets an idempotency key after 24 hours; an answer not recorded by then cannot be
# settled by sending again (docs/credits.md, "Exactly once").
KEY_LIFETIME = timedelta(hours=23)


class ApplicationBusy(ValidationError):
    """Another run of the same application is alive: refused, not doubled."""

    def __init__(self, application: CreditApplication) -> None:
        self.application = application
        super().__init__(
            {
                "application": (
                    f"a run ({application.runner}) is applying report #{application.report_id}; "
                    f"last heard of {application.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC. Wait for "
                    "it, or take over if it died"
                )
            }
        )


def _runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _runner_alive(application: CreditApplication, now: datetime) -> bool:
    """Whether the run that holds an application may still be going: it reported recently
    and, on this host, its process exists."""
    if application.status != ApplicationStatus.RUNNING or not application.runner_token:
        return False
    if application.heartbeat_at is None or application.heartbeat_at < now - timedelta(
        seconds=settings.HELIOGRAPH_CREDIT_APPLY_STALE_SECONDS
    ):
        return False
    host, _, pid = application.runner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


def _create_items(application: CreditApplication) -> None:
    """One item per account credit and per add-on refund of the report, in two INSERT …
    SELECT statements; an item without a Stripe target is skipped with the reason."""
    report_id = application.report_id
    prefix = f"hg-{application.key_prefix}-"
    items = CreditApplicationItem._meta.db_table
    columns = (
        "application_id, account_id, account_external_id, kind, currency, amount_cents, "
        "target, idempotency_key, status, attempts, claim_token, stripe_object, error, "
        "error_permanent"
    )
    credit_sql = f"""
        INSERT INTO {items} ({columns})
        SELECT %s, l.account_id, l.account_external_id, %s, l.currency, l.credit_cents,
               a.stripe_customer_id, %s || l.account_external_id || %s,
               CASE WHEN a.stripe_customer_id = '' THEN %s ELSE %s END, 0, '', '',
               CASE WHEN a.stripe_customer_id = '' THEN %s ELSE '' END, %s
        FROM {CreditReportLine._meta.db_table} l
        JOIN {Account._meta.db_table} a ON a.id = l.account_id
        WHERE l.report_id = %s AND l.credit_cents > 0
        ORDER BY l.currency, l.account_external_id
    """
    target = "CASE WHEN x.charge_id <> '' THEN x.charge_id ELSE x.invoice_id END"
    refund_sql = f"""
        INSERT INTO {items} ({columns})
        SELECT %s, x.account_id, x.account_external_id,
               %s || CASE WHEN {target} <> '' THEN {target} ELSE 'spend' || x.spend_id END,
               x.currency, x.refund_cents, {target},
               %s || x.account_external_id || %s
                  || CASE WHEN {target} <> '' THEN {target} ELSE 'spend' || x.spend_id END,
               CASE WHEN {target} = '' THEN %s ELSE %s END, 0, '', '',
               CASE WHEN {target} = '' THEN %s ELSE '' END, %s
        FROM {CreditReportAddon._meta.db_table} x
        WHERE x.report_id = %s AND x.refund_cents > 0
        ORDER BY x.account_external_id, x.id
    """
    pending, skipped = ApplicationItemStatus.PENDING, ApplicationItemStatus.SKIPPED
    with connection.cursor() as cursor:
        cursor.execute(
            credit_sql,
            [
                application.pk,
                CREDIT_KIND,
                prefix,
                f"-{CREDIT_KIND}",
                skipped,
                pending,
                "no Stripe customer id (import accounts with stripe_customer_id, then resume)",
                False,
                report_id,
            ],
        )
        cursor.execute(
            refund_sql,
            [
                application.pk,
                "refund-",
                prefix,
                "-refund-",
                skipped,
                pending,
                "the add-on charge has no Stripe charge or invoice id (import spend with "
                "charge_id or invoice_id, then recompute)",
                False,
                report_id,
            ],
        )


@transaction.atomic
def credit_application_start(
    *, report: CreditReport, actor: Actor, dry_run: bool | None = None
) -> CreditApplication:
    """Start applying an approved report (`approved → applied`), or return its live
    application to resume it. A dry run (the default in development, see
    HELIOGRAPH_STRIPE_DRY_RUN) records every request it would send and sends none; a new
    dry run replaces the last one."""
    dry_run = settings.HELIOGRAPH_STRIPE_DRY_RUN if dry_run is None else dry_run
    report = CreditReport.objects.select_for_update().get(pk=report.pk)
    if report.approved_at is None:
        raise ValidationError(
            {"report": f"report #{report.pk} is not approved: someone else must approve it first"}
        )
    if not dry_run:
        live = _live_application(report.policy_id)
        if live is not None and live.report_id == report.pk:
            return live
        if live is not None:
            raise ValidationError(
                {"report": f"report #{live.report_id} of this policy is already applied"}
            )
        newer = (
            CreditReport.objects.filter(policy_id=report.policy_id, approved_at__isnull=False)
            .exclude(pk=report.pk)
            .filter(created_at__gt=report.created_at)
            .first()
        )
        if newer is not None:
            raise ValidationError(
                {"report": f"report #{newer.pk} of this policy was approved after this one"}
            )
        if not settings.HELIOGRAPH_STRIPE_API_KEY:
            raise ValidationError(
                {"stripe": "no Stripe key is configured (HELIOGRAPH_STRIPE_API_KEY)"}
            )
    else:
        CreditApplication.objects.filter(report=report, dry_run=True).delete()
    application = CreditApplication.objects.create(
        report=report,
        dry_run=dry_run,
        key_prefix=uuid.uuid4().hex[:20],
        status=ApplicationStatus.RUNNING,
        started_at=timezone.now(),
        started_by_name=actor.name,
    )
    _create_items(application)
    counts = dict(
        application.items.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    audit_record(
        actor=actor,
        action="credits.apply_start",
        obj=report,
        summary=(
            f"{'dry run of' if dry_run else 'applying'} report #{report.pk}: "
            f"{counts.get(ApplicationItemStatus.PENDING, 0)} to send, "
            f"{counts.get(ApplicationItemStatus.SKIPPED, 0)} skipped"
        ),
    )
    return application


def credit_application_enqueue(
    *, report: CreditReport, actor: Actor, dry_run: bool | None = None
) -> CreditApplication:
    """Start (or resume) applying and hand the run to a worker (queue "reports")."""
    task = queues.task("incidents.credits.tasks.credit_apply_task")
    with transaction.atomic():
        application = credit_application_start(report=report, actor=actor, dry_run=dry_run)
        transaction.on_commit(lambda: task.apply_async(args=[application.pk], queue="reports"))
    return application


@dataclass
class ApplyRun:
    """What one run did (for the command's and the task's summary)."""

    applied: int = 0
    failed: int = 0
    simulated: int = 0
    rate_limited: int = 0
    notices: int = 0
    stopped: str = ""


@transaction.atomic
def _take_application(
    application_id: int, token: str, takeover: bool, resend_unchecked: bool
) -> CreditApplication:
    application = CreditApplication.objects.select_for_update().get(pk=application_id)
    now = timezone.now()
    if _runner_alive(application, now) and not takeover:
        raise ApplicationBusy(application)
    items = CreditApplicationItem.objects.filter(application=application)
    old = now - KEY_LIFETIME
    # A dead run's requests in flight: sent again with the same key (Stripe answers with the
    # first result) — unless Stripe has forgotten the key.
    items.filter(status=ApplicationItemStatus.SENDING, first_sent_at__lt=old).update(
        status=ApplicationItemStatus.CHECK,
        error="sent more than 23 hours ago with no answer recorded; Stripe has forgotten its "
        "idempotency key: find it in Stripe (metadata heliograph_key) before sending again",
    )
    items.filter(
        status=ApplicationItemStatus.FAILED, error_permanent=False, first_sent_at__lt=old
    ).update(status=ApplicationItemStatus.CHECK)
    # A credit Stripe refused (e.g. "No such customer") goes to the account's customer id as
    # it is now: staff may have imported the right one since. (A refused request was not
    # saved under its key, so the key may carry the corrected request.)
    refused = items.filter(
        status=ApplicationItemStatus.FAILED, error_permanent=True, kind=CREDIT_KIND
    ).select_related("account")
    for item in refused:
        if item.account.stripe_customer_id and item.account.stripe_customer_id != item.target:
            items.filter(pk=item.pk).update(target=item.account.stripe_customer_id)
    # …and what failed is tried again (the same key: a settled request answers the same).
    items.filter(status__in=[ApplicationItemStatus.SENDING, ApplicationItemStatus.FAILED]).update(
        status=ApplicationItemStatus.PENDING, claim_token=""
    )
    if resend_unchecked:
        items.filter(status=ApplicationItemStatus.CHECK).update(
            status=ApplicationItemStatus.PENDING, first_sent_at=None
        )
    # Accounts given a Stripe customer id since: their credit can go now.
    skipped = items.filter(status=ApplicationItemStatus.SKIPPED, kind=CREDIT_KIND)
    for item_id, customer in skipped.filter(
        account_id__in=Account.objects.exclude(stripe_customer_id="").values("pk")
    ).values_list("pk", "account_id"):
        account = Account.objects.get(pk=customer)
        items.filter(pk=item_id).update(
            status=ApplicationItemStatus.PENDING, target=account.stripe_customer_id, error=""
        )
    application.status = ApplicationStatus.RUNNING
    application.runner = _runner_name()
    application.runner_token = token
    application.heartbeat_at = now
    application.save(update_fields=["status", "runner", "runner_token", "heartbeat_at"])
    return application


def _claim_items(application: CreditApplication, token: str) -> list[CreditApplicationItem]:
    """Take the next batch of items to send (pending, or failed and worth retrying), if this
    run still holds the application."""
    with transaction.atomic():
        held = CreditApplication.objects.select_for_update().get(pk=application.pk)
        if held.runner_token != token:
            return []
        now = timezone.now()
        held.heartbeat_at = now
        held.save(update_fields=["heartbeat_at"])
        ids = list(
            CreditApplicationItem.objects.filter(
                application=application, status=ApplicationItemStatus.PENDING
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:APPLY_BATCH]
        )
        if not ids:
            return []
        CreditApplicationItem.objects.filter(pk__in=ids).update(
            status=ApplicationItemStatus.SENDING,
            claim_token=token,
            attempts=F("attempts") + 1,
            first_sent_at=Coalesce("first_sent_at", Value(now)),
        )
        return list(CreditApplicationItem.objects.filter(pk__in=ids).order_by("pk"))


def _operation(item: CreditApplicationItem, report: CreditReport, incident: str) -> Operation:
    key = item.idempotency_key
    metadata = {
        "heliograph_key": key,
        "heliograph_report": str(report.pk),
        "account_id": item.account_external_id,
    }
    about = f"{incident} " if incident else ""
    if item.kind == CREDIT_KIND:
        return Operation(
            kind=BALANCE_TRANSACTION,
            target=item.target,
            amount=stripe_amount(item.amount_cents, item.currency),
            currency=item.currency,
            idempotency_key=key,
            description=f"Credit for the {about}outage ({report.invoice_month} invoice)",
            metadata=metadata,
        )
    return Operation(
        kind=CREDIT_NOTE if item.target.startswith("in_") else REFUND,
        target=item.target,
        amount=stripe_amount(item.amount_cents, item.currency),
        currency=item.currency,
        idempotency_key=key,
        description=f"Refund of the concurrency add-on bought during the {about}outage",
        metadata=metadata,
    )


def _record(
    application: CreditApplication,
    token: str,
    results: list[tuple[CreditApplicationItem, Outcome | None]],
    run: ApplyRun,
) -> None:
    """Write the answers of a batch in one transaction (guarded by the claim token), then
    queue the notices of the accounts that are done."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    applied: list[tuple] = []
    failed: list[tuple] = []
    simulated: list[tuple] = []
    for item, outcome in results:
        if outcome is None:
            simulated.append((now, item.pk, token))
        elif outcome.ok:
            applied.append((outcome.object_id, now, item.pk, token))
        else:
            failed.append((outcome.error, outcome.permanent, item.pk, token))
    run.simulated += len(simulated)
    run.applied += len(applied)
    run.failed += len(failed)
    table = CreditApplicationItem._meta.db_table
    guard = "WHERE id = %s AND claim_token = %s"
    with transaction.atomic():
        # One statement per kind of answer, one row each (executemany): this runs for every
        # one of tens of thousands of items, where building an ORM query per item shows.
        with connection.cursor() as cursor:
            if simulated:
                cursor.executemany(
                    f"UPDATE {table} SET status = '{ApplicationItemStatus.SIMULATED.value}', "
                    f"applied_at = %s, error = '' {guard}",
                    simulated,
                )
            if applied:
                cursor.executemany(
                    f"UPDATE {table} SET status = '{ApplicationItemStatus.APPLIED.value}', "
                    f"stripe_object = %s, applied_at = %s, error = '', error_permanent = %s "
                    f"{guard}",
                    [(obj, at, False, pk, tok) for obj, at, pk, tok in applied],
                )
            if failed:
                cursor.executemany(
                    f"UPDATE {table} SET status = '{ApplicationItemStatus.FAILED.value}', "
                    f"error = %s, error_permanent = %s {guard}",
                    failed,
                )
        if not application.dry_run:
            run.notices += _notices_for(application, {item.account_id for item, _ in results})


def credit_application_run(
    *,
    application_id: int,
    actor: Actor | None = None,
    takeover: bool = False,
    resend_unchecked: bool = False,
    gateway: StripeGateway | None = None,
    progress: Callable[[str], None] | None = None,
) -> ApplyRun:
    """Send an application's pending items to Stripe, in batches, and record each answer.

    Resumable at any point: every item keeps its idempotency key, a run killed mid-batch
    leaves its items `sending` and the next run sends them again with the same keys (Stripe
    answers with the first result), so each credit is applied exactly once. Failed items are
    sent again by the next run (a resume). Requests go `HELIOGRAPH_STRIPE_CONCURRENCY` at a
    time, paced by the gateway's rate limit."""
    actor = actor or Actor.system("credit-apply")
    token = uuid.uuid4().hex
    dry_run = CreditApplication.objects.values_list("dry_run", flat=True).get(pk=application_id)
    if not dry_run and gateway is None:
        gateway = StripeGateway()  # no key: refused before the application is taken
    application = _take_application(application_id, token, takeover, resend_unchecked)
    report = CreditReport.objects.select_related("policy__incident").get(pk=application.report_id)
    incident = one_line(report.policy.incident.name) if report.policy.incident_id else ""
    run = ApplyRun()
    workers = max(1, settings.HELIOGRAPH_STRIPE_CONCURRENCY)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # Double-buffered: the next batch is on the wire while the last one's answers are
            # written, so the database never holds up the requests.
            in_flight: tuple[list[CreditApplicationItem], list] | None = None
            while True:
                batch = _claim_items(application, token)
                sent = None
                if batch and not application.dry_run:
                    operations = [_operation(item, report, incident) for item in batch]
                    sent = (batch, [pool.submit(gateway.send, op) for op in operations])
                elif batch:
                    sent = (batch, [])
                if in_flight is not None:
                    _record_sent(application, token, in_flight, run, progress)
                in_flight = sent
                if not batch:
                    break
    finally:
        run.rate_limited = gateway.rate_limited if gateway else 0
        _finish(application, token, run, actor)
    return run


def _record_sent(
    application: CreditApplication,
    token: str,
    sent: tuple[list[CreditApplicationItem], list],
    run: ApplyRun,
    progress: Callable[[str], None] | None,
) -> None:
    batch, futures = sent
    if application.dry_run:
        results: list[tuple[CreditApplicationItem, Outcome | None]] = [(i, None) for i in batch]
    else:
        results = [(item, future.result()) for item, future in zip(batch, futures, strict=True)]
    _record(application, token, results, run)
    if progress:
        progress(
            f"{run.applied} applied, {run.failed} failed"
            + (f", {run.simulated} simulated" if application.dry_run else "")
        )


def _finish(application: CreditApplication, token: str, run: ApplyRun, actor: Actor) -> None:
    with transaction.atomic():
        held = CreditApplication.objects.select_for_update().get(pk=application.pk)
        if held.runner_token != token:
            run.stopped = "another run took over"
            return
        open_items = CreditApplicationItem.objects.filter(
            application=held,
            status__in=[
                ApplicationItemStatus.PENDING,
                ApplicationItemStatus.SENDING,
                ApplicationItemStatus.FAILED,
                ApplicationItemStatus.CHECK,
            ],
        ).count()
        now = timezone.now()
        held.status = ApplicationStatus.INCOMPLETE if open_items else ApplicationStatus.DONE
        held.runner_token = ""
        held.heartbeat_at = now
        held.finished_at = now
        held.save(update_fields=["status", "runner_token", "heartbeat_at", "finished_at"])
        audit_record(
            actor=actor,
            action="credits.apply_run",
            obj=held.report,
            summary=(
                f"{'dry run of ' if held.dry_run else ''}report #{held.report_id}: "
                f"{run.applied} applied, {run.failed} failed, {run.simulated} simulated, "
                f"{open_items} left to resume, {run.notices} notices queued"
            ),
        )


# --- Account notices ------------------------------------------------------------------------


def _notices_for(application: CreditApplication, account_ids: set[int]) -> int:
    """Queue the notice of each of these accounts whose items are all done (applied or
    skipped, at least one applied) and that has a billing contact. Once per account and
    application: the notifier's key refuses a second one."""
    if not account_ids:
        return 0
    report = application.report
    items_by_account: dict[int, list[CreditApplicationItem]] = {}
    ids = list(account_ids)
    for chunk in chunks(ids):
        for item in CreditApplicationItem.objects.filter(
            application=application, account_id__in=chunk
        ):
            items_by_account.setdefault(item.account_id, []).append(item)
    done = ApplicationItemStatus.APPLIED
    ready = [
        account_id
        for account_id, items in items_by_account.items()
        if all(i.status in (done, ApplicationItemStatus.SKIPPED) for i in items)
        and any(i.status == done for i in items)
    ]
    if not ready:
        return 0
    accounts = Account.objects.in_bulk(ready)
    lines = {
        line.account_id: line
        for chunk in chunks(ready)
        for line in CreditReportLine.objects.filter(report=report, account_id__in=chunk)
    }
    drafts = []
    for account_id in ready:
        account = accounts.get(account_id)
        line = lines.get(account_id)
        if account is None or line is None or not account.billing_email:
            continue
        applied = [i for i in items_by_account[account_id] if i.status == done]
        drafts.append(
            notice_draft(
                report=report, line=line, account=account, applied=applied, application=application
            )
        )
    return direct_emails_enqueue(emails=drafts, purpose=NOTICE_PURPOSE)


def notice_draft(
    *,
    report: CreditReport,
    line: CreditReportLine,
    account: Account,
    applied: list[CreditApplicationItem],
    application: CreditApplication,
) -> DirectEmailDraft:
    """The email to an account's billing contact: the incident, the window, the credit, the
    minimum if it applied, the add-on refund if any, the invoice it comes off, and a signed
    link to the same notice as a page."""
    notice = notice_context(report=report, line=line, applied=applied)
    notice["url"] = notice_url(report.pk, account.external_id)
    subject = f"[{settings.SITE_NAME}] Your credit for {notice['incident'] or 'the outage'}"
    return DirectEmailDraft(
        key=notice_key(application, account.external_id),
        to=account.billing_email,
        subject=subject,
        text=render_to_string("credits/notice_email.txt", {"n": notice}),
        html=render_to_string("credits/notice_email.html", {"n": notice}),
    )


def notice_url(report_id: int, account_external_id: str) -> str:
    token = signing.dumps([report_id, account_external_id], salt=NOTICE_SALT, compress=True)
    return f"{settings.SITE_URL}/credits/notice/{token}/"

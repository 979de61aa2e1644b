"""Writes of credits: credit policies, credit report runs, and (re-exported) the CSV importers.

A credit report is computed by the database, not by a Python loop: one `INSERT … SELECT`
aggregates the spend of every eligible account inside the window (pro rata for billed
periods), rounds it once to the cent and applies the minimum and the cap; two more
statements freeze the concurrency add-ons and the per-currency totals. See docs/credits.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from incidents.credits.currencies import validate_currency
from incidents.credits.importers import (  # noqa: F401 - part of this module's API
    ImportRejected,
    ImportResult,
    accounts_import,
    spend_import,
)
from incidents.credits.models import (
    Account,
    CreditPolicy,
    CreditPolicyCurrency,
    CreditReport,
    CreditReportAddon,
    CreditReportLine,
    CreditReportStatus,
    CreditReportTotal,
    SpendKind,
    SpendRecord,
)
from incidents.models import Incident
from statuspage import queues
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
            _insert_addons(report)
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
    start = datetime.fromisoformat(report.parameters["window_start"])
    end = datetime.fromisoformat(report.parameters["window_end"])
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
                   rules.cap_cents AS cap_cents
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
             minimum_cents, cap_cents, credit_cents, minimum_applied, cap_applied)
        SELECT %s, id, external_id, name, currency, spend_cents, minimum_cents, cap_cents,
               CASE WHEN cap_cents IS NOT NULL AND floor_cents > cap_cents THEN cap_cents
                    ELSE floor_cents END,
               minimum_cents > 0 AND spend_cents < minimum_cents,
               cap_cents IS NOT NULL AND floor_cents > cap_cents
        FROM floored
        WHERE floor_cents > 0
        ORDER BY id
    """
    # The report id is the INSERT's first placeholder but comes last in the text.
    ordered = params[1:] + [params[0]]
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            # Room for the per-account hash aggregate in memory (one entry per account).
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, ordered)


def _insert_addons(report: CreditReport) -> None:
    """Freeze the concurrency add-ons bought inside the window (any account)."""
    start, end = _window_params(report)
    sql = f"""
        INSERT INTO {CreditReportAddon._meta.db_table}
            (report_id, account_external_id, account_name, amount_micros, currency,
             occurred_at, period_start, period_end, region)
        SELECT %s, a.external_id, a.name, s.amount_micros, s.currency, s.occurred_at,
               s.period_start, s.period_end, s.region
        FROM {SpendRecord._meta.db_table} s
        JOIN {Account._meta.db_table} a ON a.id = s.account_id
        WHERE s.kind = %s
          AND ((s.occurred_at >= %s AND s.occurred_at < %s)
               OR (s.period_start < %s AND s.period_end > %s))
        ORDER BY a.external_id, s.occurred_at, s.period_start, s.id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [report.pk, SpendKind.CONCURRENCY_ADDON, start, end, end, start])


def _freeze_totals_and_diff(report: CreditReport) -> None:
    lines = CreditReportLine.objects.filter(report=report)
    rows = (
        lines.values("currency")
        .annotate(
            accounts=Count("account"),
            spend_cents=Sum("spend_cents"),
            credit_cents=Sum("credit_cents"),
            minimum_count=Count("account", filter=Q(minimum_applied=True)),
            cap_count=Count("account", filter=Q(cap_applied=True)),
        )
        .order_by("currency")
    )
    CreditReportTotal.objects.bulk_create(CreditReportTotal(report=report, **row) for row in rows)
    report.lines_count = sum(row["accounts"] for row in rows)
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
                       OR n.cap_applied <> o.cap_applied))
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
        "account_external_id, currency, spend_cents, credit_cents, "
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

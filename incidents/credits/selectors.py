"""Reads of credits: policies, reports, their frozen lines, the diff and the credit note."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from incidents.credits.models import (
    Account,
    ApplicationItemStatus,
    ApplicationStatus,
    CreditApplication,
    CreditApplicationItem,
    CreditPolicy,
    CreditRefundRequest,
    CreditReport,
    CreditReportLine,
    CreditReportStatus,
    SpendRecord,
    cents_to_decimal,
)
from incidents.models import Incident
from notifier.models import DirectEmail
from statuspage.batching import chunks
from statuspage.text import one_line

CSV_COLUMNS = [
    "account_id",
    "name",
    "currency",
    "spend_in_window",
    "credit",
    "minimum_applied",
    "cap_applied",
    "invoice_month",
    "addon_paid",
    "addon_in_credit",
    "addon_refund",
]


def incident_find(value: str | int) -> Incident | None:
    """An incident by public id or by primary key (the command's --incident)."""
    text = str(value).strip()
    incident = Incident.objects.filter(public_id=text).first()
    if incident is None and text.isascii() and text.isdigit():  # not "²": int() refuses it
        incident = Incident.objects.filter(pk=int(text)).first()
    return incident


def policy_list() -> QuerySet[CreditPolicy]:
    return CreditPolicy.objects.select_related("incident").prefetch_related("currencies")


def policy_reports(policy: CreditPolicy) -> QuerySet[CreditReport]:
    return policy.reports.order_by("-created_at", "-id")


def policy_latest_done(policy: CreditPolicy) -> CreditReport | None:
    return policy_reports(policy).filter(status=CreditReportStatus.DONE).first()


def currencies_without_rule(policy: CreditPolicy) -> list[str]:
    """Currencies of paying accounts that the policy has no minimum for (shown as a warning)."""
    ruled = set(policy.currencies.values_list("currency", flat=True))
    used = (
        Account.objects.filter(paying=True)
        .values_list("currency", flat=True)
        .distinct()
        .order_by("currency")
    )
    return [currency for currency in used if currency not in ruled]


def data_counts() -> dict[str, int]:
    return {
        "accounts": Account.objects.count(),
        "paying": Account.objects.filter(paying=True).count(),
        "spend": SpendRecord.objects.count(),
    }


def report_lines(report: CreditReport, query: str = "") -> QuerySet[CreditReportLine]:
    """Lines of a report; `query` matches the account id (exact or prefix) or the name."""
    lines = CreditReportLine.objects.filter(report=report)
    query = (query or "").strip()
    if query:
        lines = lines.filter(
            Q(account_external_id=query)
            | Q(account_external_id__istartswith=query)
            | Q(account_name__icontains=query)
        )
    return lines.order_by("currency", "account_external_id")


def report_line(report: CreditReport, account_id: str) -> CreditReportLine | None:
    return CreditReportLine.objects.filter(report=report, account_external_id=account_id).first()


def report_diff(report: CreditReport, limit: int = 50) -> dict[str, list]:
    """What changed against the previous report of the same policy (first `limit` of each)."""
    if not report.previous_id:
        return {"added": [], "removed": [], "changed": []}
    new = CreditReportLine.objects.filter(report=report)
    old = CreditReportLine.objects.filter(report_id=report.previous_id)
    same_old = old.filter(account_external_id=OuterRef("account_external_id"))
    added = new.exclude(Exists(same_old)).order_by("account_external_id")[:limit]
    removed = old.exclude(
        Exists(new.filter(account_external_id=OuterRef("account_external_id")))
    ).order_by("account_external_id")[:limit]
    changed_new = new.filter(
        Exists(
            same_old.exclude(
                currency=OuterRef("currency"),
                spend_cents=OuterRef("spend_cents"),
                credit_cents=OuterRef("credit_cents"),
                minimum_applied=OuterRef("minimum_applied"),
                cap_applied=OuterRef("cap_applied"),
                addon_refund_cents=OuterRef("addon_refund_cents"),
            )
        )
    ).order_by("account_external_id")[:limit]
    before = {
        line.account_external_id: line
        for line in old.filter(
            account_external_id__in=[line.account_external_id for line in changed_new]
        )
    }
    changed = [(before.get(line.account_external_id), line) for line in changed_new]
    return {"added": list(added), "removed": list(removed), "changed": changed}


def report_parameters_display(report: CreditReport) -> dict:
    """The frozen parameters of a report, as datetimes and Decimals for the page."""
    params = report.parameters
    window_start, window_end = report.window
    return {
        "window_start": window_start,
        "window_end": window_end,
        "regions": params.get("regions") or [],
        "invoice_month": params.get("invoice_month", ""),
        "rules": [
            (
                currency,
                cents_to_decimal(rule["minimum_cents"]),
                cents_to_decimal(rule["cap_cents"]),
            )
            for currency, rule in sorted(params.get("currencies", {}).items())
        ],
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text_cell(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (finance opens this CSV in one)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _fmt_bool(value: bool) -> str:
    return "true" if value else "false"


def report_csv_rows(report: CreditReport) -> Iterator[list[str]]:
    """The CSV export, header first, streamed from the frozen lines."""
    yield CSV_COLUMNS
    month = report.invoice_month
    for line in (
        CreditReportLine.objects.filter(report=report)
        .order_by("currency", "account_external_id")
        .iterator(chunk_size=5000)
    ):
        yield [
            csv_text_cell(line.account_external_id),
            csv_text_cell(line.account_name),
            line.currency,
            f"{cents_to_decimal(line.spend_cents):.2f}",
            f"{cents_to_decimal(line.credit_cents):.2f}",
            _fmt_bool(line.minimum_applied),
            _fmt_bool(line.cap_applied),
            month,
            f"{cents_to_decimal(line.addon_paid_cents):.2f}",
            f"{cents_to_decimal(line.addon_in_credit_cents):.2f}",
            f"{cents_to_decimal(line.addon_refund_cents):.2f}",
        ]


def _day(value: datetime) -> str:
    return f"{value.day} {value:%B %Y %H:%M}"


def _window_text(report: CreditReport) -> tuple[str, str]:
    start, end = report.window
    # "[21 June 00:00, 24 June 00:00)" reads to people as "21 June 00:00 to 23 June 23:59".
    if end.second == 0 and end.microsecond == 0:
        end = end - timedelta(minutes=1)
    return _day(start), _day(end)


def credit_note(report: CreditReport, line: CreditReportLine, incident_name: str = "") -> str:
    """A short note support can paste to the customer: amount, why, and where it shows."""
    start, end = _window_text(report)
    month = report.invoice_month
    try:
        month_text = datetime.strptime(month, "%Y-%m").strftime("%B %Y")
    except ValueError:
        month_text = month
    about = f" during {incident_name}" if incident_name else ""
    spend = f"{line.currency} {cents_to_decimal(line.spend_cents):.2f}"
    credit = f"{line.currency} {cents_to_decimal(line.credit_cents):.2f}"
    if line.cap_applied:
        how = f"everything you spent in that time ({spend}), up to the maximum credit of {credit}"
    elif line.minimum_applied:
        how = f"the minimum credit of {credit}, which is more than you spent in that time ({spend})"
    else:
        how = f"everything you spent in that time ({spend})"
    return (
        f"Hi {line.account_name},\n\n"
        f"We're sorry for the disruption{about}. As promised, account {line.account_external_id} "
        f"is credited {credit}: {how}, from {start} to {end} UTC.\n\n"
        f"The credit comes off your {month_text} invoice automatically; there is nothing you "
        f"need to do."
    )


# --- Approval, application, reconciliation --------------------------------------------------

RECONCILIATION_COLUMNS = [
    "account_id",
    "kind",
    "currency",
    "amount",
    "status",
    "stripe_object",
    "target",
    "idempotency_key",
    "error",
    "notice",
]


def live_application(report: CreditReport) -> CreditApplication | None:
    return report.applications.filter(dry_run=False).first()


def dry_run_application(report: CreditReport) -> CreditApplication | None:
    return report.applications.filter(dry_run=True).order_by("-pk").first()


def report_state(report: CreditReport) -> str:
    """Where a report is on its way to the invoices: running, failed, computed, approved,
    applying, incomplete (failures to resume) or applied."""
    if report.status != CreditReportStatus.DONE:
        return report.status
    if report.approved_at is None:
        return "computed"
    application = live_application(report)
    if application is None:
        return "approved"
    return {
        ApplicationStatus.RUNNING: "applying",
        ApplicationStatus.INCOMPLETE: "incomplete",
        ApplicationStatus.DONE: "applied",
    }[application.status]


def application_counts(application: CreditApplication | None) -> dict[str, dict]:
    """Items by status: {status: {"count", "amount_cents"}} (every status present)."""
    counts = {s: {"count": 0, "amount_cents": 0} for s in ApplicationItemStatus.values}
    if application is None:
        return counts
    rows = (
        CreditApplicationItem.objects.filter(application=application)
        .values("status")
        .annotate(count=Count("pk"), amount_cents=Sum("amount_cents"))
    )
    for row in rows:
        counts[row["status"]] = {"count": row["count"], "amount_cents": row["amount_cents"] or 0}
    return counts


def application_items(
    application: CreditApplication, status: str = "", query: str = ""
) -> QuerySet[CreditApplicationItem]:
    items = CreditApplicationItem.objects.filter(application=application)
    if status:
        items = items.filter(status=status)
    if query:
        items = items.filter(account_external_id__istartswith=query.strip())
    return items.order_by("pk")


def notice_statuses(application: CreditApplication, account_ids: list[str]) -> dict[str, str]:
    """The notice email of each account (external id → delivery status), if queued."""
    keys = {notice_key(application, a): a for a in account_ids}
    rows = DirectEmail.objects.filter(key__in=list(keys)).values_list("key", "status")
    return {keys[key]: status for key, status in rows}


def reconciliation_rows(application: CreditApplication) -> Iterator[list[str]]:
    """The reconciliation CSV: one row per Stripe operation (applied, failed, skipped, …)
    with the Stripe object's id, streamed."""
    yield RECONCILIATION_COLUMNS
    items = CreditApplicationItem.objects.filter(application=application).order_by("pk")
    for batch in chunks(items.iterator(chunk_size=2000), 2000):
        yield from _reconciliation_batch(application, batch)


def _reconciliation_batch(
    application: CreditApplication, batch: list[CreditApplicationItem]
) -> Iterator[list[str]]:
    notices = notice_statuses(application, list({i.account_external_id for i in batch}))
    for item in batch:
        yield [
            csv_text_cell(item.account_external_id),
            item.kind,
            item.currency,
            f"{cents_to_decimal(item.amount_cents):.2f}",
            item.status,
            item.stripe_object,
            item.target,
            item.idempotency_key,
            csv_text_cell(item.error),
            notices.get(item.account_external_id, ""),
        ]


def refund_requests(policy: CreditPolicy, status: str = "") -> QuerySet[CreditRefundRequest]:
    requests = CreditRefundRequest.objects.filter(policy=policy).select_related("account")
    if status:
        requests = requests.filter(status=status)
    return requests.order_by("account__external_id")


def notice_from_token(token: str) -> dict | None:
    """The notice a signed link shows: what was applied to the account, or None (a forged,
    changed or expired link, or nothing applied yet)."""
    try:
        report_id, account_external_id = signing.loads(
            token, salt=NOTICE_SALT, max_age=NOTICE_MAX_AGE
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    report = CreditReport.objects.select_related("policy__incident").filter(pk=report_id).first()
    if report is None:
        return None
    application = live_application(report)
    line = report_line(report, str(account_external_id))
    if application is None or line is None:
        return None
    applied = list(
        CreditApplicationItem.objects.filter(
            application=application,
            account_external_id=line.account_external_id,
            status=ApplicationItemStatus.APPLIED,
        )
    )
    if not applied:
        return None
    return notice_context(report=report, line=line, applied=applied)


# --- Account notices ------------------------------------------------------------------------

NOTICE_PURPOSE = "credits.notice"
NOTICE_SALT = "credits.account.notice"
NOTICE_MAX_AGE = 400 * 24 * 3600  # a year and a bit: the invoice it speaks of is long paid


def notice_key(application: CreditApplication, account_external_id: str) -> str:
    return f"{NOTICE_PURPOSE}:{application.key_prefix}:{account_external_id}"


def notice_context(
    *, report: CreditReport, line: CreditReportLine, applied: list[CreditApplicationItem]
) -> dict:
    """What the notice says (email and page), from the frozen line and what was applied."""
    start, end = report.window
    shown_end = end - timedelta(minutes=1) if end.second == 0 and not end.microsecond else end
    month = report.invoice_month
    try:
        month_text = datetime.strptime(month, "%Y-%m").strftime("%B %Y")
    except ValueError:
        month_text = month
    credited = sum(i.amount_cents for i in applied if i.kind == "credit")
    refunded = sum(i.amount_cents for i in applied if i.kind != "credit")
    incident = report.policy.incident
    return {
        "site_name": settings.SITE_NAME,
        "account_name": line.account_name,
        "account_id": line.account_external_id,
        "incident": one_line(incident.name) if incident else "",
        "window_start": f"{start.day} {start:%B %Y %H:%M}",
        "window_end": f"{shown_end.day} {shown_end:%B %Y %H:%M}",
        "currency": line.currency,
        "credit": f"{cents_to_decimal(credited):.2f}" if credited else "",
        "spend": f"{line.spend:.2f}",
        "minimum": f"{line.minimum:.2f}" if line.minimum_applied and credited else "",
        "cap": f"{line.cap:.2f}" if line.cap_applied and credited else "",
        "refund": f"{cents_to_decimal(refunded):.2f}" if refunded else "",
        "addon_paid": f"{line.addon_paid:.2f}",
        "addon_in_credit": f"{line.addon_in_credit:.2f}",
        "invoice": month_text,
    }

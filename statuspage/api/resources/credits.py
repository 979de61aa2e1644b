"""Credits (scope `credits` for reads and writes: spend is customer data).

Policies are created and changed with incidents.credits.services (credit_policy_create /
credit_policy_update), reports are run with credit_report_enqueue (a worker computes it) or
credit_report_run (`"wait": true`, computed in the request), spend and accounts are imported
with the same two-pass importers as the console (a bad file is refused whole). Money is in
cents (integers) with the decimal amount as a string beside it.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpResponse

from incidents.credits.models import CreditPolicy, CreditReport, CreditReportTotal
from incidents.credits.selectors import report_csv_rows
from incidents.credits.services import (
    CurrencyRule,
    accounts_import,
    credit_policy_create,
    credit_policy_update,
    credit_report_enqueue,
    credit_report_run,
    spend_import,
)
from incidents.documents import iso
from incidents.models import Incident
from statuspage.api.framework import (
    Call,
    Page,
    get,
    invalid,
    is_number,
    not_found,
    paginate,
    post,
    put,
    route,
)
from statuspage.api.models import ApiScope
from statuspage.api.schema import IDS, PAGED, B, S, T


def _money(cents: int | None) -> str | None:
    return None if cents is None else f"{Decimal(cents) / 100:.2f}"


def policy_dict(policy: CreditPolicy) -> dict:
    return {
        "id": str(policy.pk),
        "name": policy.name,
        "incident_id": policy.incident.public_id if policy.incident_id else None,
        "window_start": iso(policy.window_start),
        "window_end": iso(policy.window_end),
        "regions": list(policy.regions or []),
        "invoice_month": policy.invoice_month,
        "rules": [
            {
                "currency": r.currency,
                "minimum_cents": r.minimum_cents,
                "minimum": _money(r.minimum_cents),
                "cap_cents": r.cap_cents,
                "cap": _money(r.cap_cents),
            }
            for r in policy.currencies.order_by("currency")
        ],
        "created_at": iso(policy.created_at),
        "updated_at": iso(policy.updated_at),
    }


def report_dict(report: CreditReport) -> dict:
    totals = CreditReportTotal.objects.filter(report=report).order_by("currency")
    return {
        "id": str(report.pk),
        "policy_id": str(report.policy_id),
        "status": report.status,
        "progress": report.progress,
        "progress_note": report.progress_note,
        "error": report.error or None,
        "parameters": report.parameters,
        "lines": report.lines_count,
        "added": report.added_count,
        "removed": report.removed_count,
        "changed": report.changed_count,
        "totals": [
            {
                "currency": t.currency,
                "accounts": t.accounts,
                "spend_cents": t.spend_cents,
                "spend": _money(t.spend_cents),
                "credit_cents": t.credit_cents,
                "credit": _money(t.credit_cents),
                "minimum_applied": t.minimum_count,
                "cap_applied": t.cap_count,
            }
            for t in totals
        ],
        "created_at": iso(report.created_at),
        "finished_at": iso(report.finished_at),
        "created_by": report.created_by_name,
    }


def _policy(policy_id: str) -> CreditPolicy:
    policy = CreditPolicy.objects.filter(pk=policy_id).first() if is_number(policy_id) else None
    if policy is None:
        raise not_found("credit policy", policy_id)
    return policy


def _report(report_id: str) -> CreditReport:
    report = CreditReport.objects.filter(pk=report_id).first() if is_number(report_id) else None
    if report is None:
        raise not_found("credit report", report_id)
    return report


def _decimal(value: Any, field_name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise invalid(field_name, f"'{value}' is not an amount.") from None


def _rules(call: Call) -> list[CurrencyRule]:
    """`rules: [{currency, minimum, cap}]` (form: `credit_policy[rules][0][currency]=USD`)."""
    raw = call.data.get("rules")
    if isinstance(raw, dict):
        raw = list(raw.values())
    if not isinstance(raw, list) or not raw or not all(isinstance(r, dict) for r in raw):
        raise invalid("rules", 'is required: [{"currency": "USD", "minimum": "10.00"}].')
    rules = []
    for n, rule in enumerate(raw):
        currency = rule.get("currency")
        if not isinstance(currency, str) or not currency:
            raise invalid(f"rules[{n}][currency]", "is required.")
        minimum = _decimal(rule.get("minimum"), f"rules[{n}][minimum]") or Decimal("0")
        rules.append(
            CurrencyRule(
                currency=currency.upper(),
                minimum=minimum,
                cap=_decimal(rule.get("cap"), f"rules[{n}][cap]"),
            )
        )
    return rules


def _policy_fields(call: Call) -> dict:
    incident = None
    incident_id = call.str("incident_id")
    if incident_id:
        incident = Incident.objects.filter(public_id=incident_id).first()
        if incident is None:
            raise invalid("incident_id", f"unknown incident '{incident_id}'.")
    window_start = call.datetime("window_start")
    window_end = call.datetime("window_end")
    if window_start is None:
        raise invalid("window_start", "is required.")
    if window_end is None:
        raise invalid("window_end", "is required.")
    return {
        "incident": incident,
        "name": call.str("name", max_length=200) or "",
        "window_start": window_start,
        "window_end": window_end,
        "regions": call.list("regions") or [],
        "invoice_month": call.str("invoice_month"),
        "rules": _rules(call),
    }


def policies_list(call: Call) -> Page:
    return paginate(CreditPolicy.objects.prefetch_related("currencies"), call, policy_dict)


def policy_get(call: Call, policy_id: str) -> dict:
    return policy_dict(_policy(policy_id))


def policy_post(call: Call) -> dict:
    return policy_dict(credit_policy_create(actor=call.actor, **_policy_fields(call)))


def policy_put(call: Call, policy_id: str) -> dict:
    policy = _policy(policy_id)
    return policy_dict(
        credit_policy_update(policy=policy, actor=call.actor, **_policy_fields(call))
    )


def policy_reports(call: Call, policy_id: str) -> Page:
    policy = _policy(policy_id)
    return paginate(CreditReport.objects.filter(policy=policy), call, report_dict)


def report_post(call: Call, policy_id: str) -> dict:
    """Run a report: queued to a worker, or computed now with `"wait": true`."""
    policy = _policy(policy_id)
    if call.bool("wait"):
        report = credit_report_run(policy=policy, actor=call.actor)
    else:
        report = credit_report_enqueue(policy=policy, actor=call.actor)
    report.refresh_from_db()
    return report_dict(report)


def report_get(call: Call, report_id: str) -> dict:
    return report_dict(_report(report_id))


def report_csv(call: Call, report_id: str) -> HttpResponse:
    report = _report(report_id)
    if report.status != "done":
        raise invalid("status", f"the report is {report.status}; its CSV exists once done.")
    out = io.StringIO()
    writer = csv.writer(out)
    for row in report_csv_rows(report):
        writer.writerow(row)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="credit-report-{report.pk}.csv"'
    return response


def _import(call: Call, importer: Any) -> dict:
    text = call.str("csv", required=True) or ""
    result = importer(source=io.StringIO(text), actor=call.actor, filename="api")
    return {
        "lines": result.lines,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        **(result.extra or {}),
    }


def spend_import_post(call: Call) -> dict:
    return _import(call, spend_import)


def accounts_import_post(call: Call) -> dict:
    return _import(call, accounts_import)


POLICY_FIELDS = {
    "name": S,
    "incident_id": S,
    "window_start": T,
    "window_end": T,
    "regions": IDS,
    "invoice_month": {**S, "description": "YYYY-MM"},
    "rules": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"currency": S, "minimum": S, "cap": S},
        },
    },
}
CSV_FIELDS = {
    "csv": {
        **S,
        "description": "The CSV text (or send the file itself with Content-Type: text/csv)",
    }
}

ROUTES = [
    route(
        "credit-policies",
        "credit_policies",
        get(
            policies_list,
            "List credit policies",
            scope=ApiScope.CREDITS,
            paginated=True,
            query=PAGED,
            response="credit_policy",
            many=True,
        ),
        post(
            policy_post,
            ApiScope.CREDITS,
            "Create a credit policy (window, regions, per-currency minimum and cap)",
            envelope="credit_policy",
            fields=POLICY_FIELDS,
            required=["window_start", "window_end", "rules"],
            status=201,
            response="credit_policy",
        ),
        tag="Credits",
    ),
    route(
        "credit-policies/{policy_id}/reports",
        "credit_policy_reports",
        get(
            policy_reports,
            "Reports of a policy, newest first",
            scope=ApiScope.CREDITS,
            paginated=True,
            query=PAGED,
            response="credit_report",
            many=True,
        ),
        post(
            report_post,
            ApiScope.CREDITS,
            "Run a credit report (queued; `wait: true` computes it in the request)",
            envelope="credit_report",
            fields={"wait": B},
            status=201,
            response="credit_report",
        ),
        tag="Credits",
    ),
    route(
        "credit-policies/{policy_id}",
        "credit_policy",
        get(policy_get, "A credit policy", scope=ApiScope.CREDITS, response="credit_policy"),
        put(
            policy_put,
            ApiScope.CREDITS,
            "Replace a credit policy (reports already run keep their parameters)",
            envelope="credit_policy",
            fields=POLICY_FIELDS,
            required=["window_start", "window_end", "rules"],
            response="credit_policy",
        ),
        tag="Credits",
    ),
    route(
        "credit-reports/{report_id}/csv",
        "credit_report_csv",
        get(
            report_csv,
            "The report as CSV (text/csv), one line per credited account",
            scope=ApiScope.CREDITS,
            response="object",
        ),
        tag="Credits",
    ),
    route(
        "credit-reports/{report_id}",
        "credit_report",
        get(
            report_get,
            "A credit report: status, progress, totals per currency",
            scope=ApiScope.CREDITS,
            response="credit_report",
        ),
        tag="Credits",
    ),
    route(
        "spend-imports",
        "spend_imports",
        post(
            spend_import_post,
            ApiScope.CREDITS,
            "Import spend rows (account_id,amount,currency,…); a bad file is refused whole",
            envelope="spend_import",
            fields=CSV_FIELDS,
            required=["csv"],
            status=201,
            response="object",
            raw_body="csv",
        ),
        tag="Credits",
    ),
    route(
        "account-imports",
        "account_imports",
        post(
            accounts_import_post,
            ApiScope.CREDITS,
            "Import accounts (account_id,name,plan,paying,currency)",
            envelope="account_import",
            fields=CSV_FIELDS,
            required=["csv"],
            status=201,
            response="object",
            raw_body="csv",
        ),
        tag="Credits",
    ),
]

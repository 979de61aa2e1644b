"""Credits (scope `credits` for reads and writes: spend is customer data).

Policies are created and changed with incidents.credits.services (credit_policy_create /
credit_policy_update), reports are run with credit_report_enqueue (a worker computes it) or
credit_report_run (`"wait": true`, computed in the request), spend and accounts are imported
with the same two-pass importers as the console (a bad file is refused whole). Money is in
cents (integers) with the decimal amount as a string beside it.

Below `credit-reports/{report_id}/`: the frozen lines and add-ons, the refund requests of the
report's policy (record, import, decide), the approval (four eyes: the approver is the user
who created the token, with `credits.approve_report`, not the one who computed the report)
and the application through Stripe (start or resume, status, the reconciliation).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpResponse

from incidents.credits.models import (
    Account,
    ApplicationItemStatus,
    CreditApplicationItem,
    CreditPolicy,
    CreditRefundRequest,
    CreditReport,
    CreditReportAddon,
    CreditReportLine,
    CreditReportTotal,
    RefundRequestStatus,
    cents_to_decimal,
)
from incidents.credits.selectors import (
    application_counts,
    application_items,
    live_application,
    reconciliation_rows,
    refund_requests,
    report_csv_rows,
    report_lines,
    report_state,
)
from incidents.credits.services import (
    CurrencyRule,
    accounts_import,
    credit_application_enqueue,
    credit_policy_create,
    credit_policy_update,
    credit_report_approve,
    credit_report_enqueue,
    credit_report_run,
    refund_request_decide,
    refund_request_record,
    refund_requests_import,
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
from statuspage.api.schema import IDS, PAGED, B, S, T, enum
from statuspage.services import Actor


def _money(cents: int | None) -> str | None:
    """Cents as the API writes money: a string with two decimals (never a float)."""
    return None if cents is None else f"{cents_to_decimal(cents):.2f}"


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
                "minimum_missing": t.minimum_missing,
                "addon_refund_cents": t.addon_refund_cents,
                "addon_refund": _money(t.addon_refund_cents),
            }
            for t in totals
        ],
        "created_at": iso(report.created_at),
        "finished_at": iso(report.finished_at),
        "created_by": report.created_by_name,
        "state": report_state(report),
        "approved_at": iso(report.approved_at),
        "approved_by": report.approved_by_name or None,
    }


def line_dict(line: CreditReportLine) -> dict:
    return {
        "account_id": line.account_external_id,
        "name": line.account_name,
        "currency": line.currency,
        "spend_cents": line.spend_cents,
        "credit_cents": line.credit_cents,
        "credit": _money(line.credit_cents),
        "minimum_cents": line.minimum_cents,
        "cap_cents": line.cap_cents,
        "minimum_applied": line.minimum_applied,
        "cap_applied": line.cap_applied,
        "minimum_missing": line.minimum_missing,
        "addon_paid_cents": line.addon_paid_cents,
        "addon_in_credit_cents": line.addon_in_credit_cents,
        "addon_refund_cents": line.addon_refund_cents,
        "addon_refund": _money(line.addon_refund_cents),
    }


def addon_dict(addon: CreditReportAddon) -> dict:
    return {
        "account_id": addon.account_external_id,
        "currency": addon.currency,
        "amount_micros": addon.amount_micros,
        "occurred_at": iso(addon.occurred_at),
        "period_start": iso(addon.period_start),
        "period_end": iso(addon.period_end),
        "region": addon.region,
        "charge_id": addon.charge_id or None,
        "invoice_id": addon.invoice_id or None,
        "paid_cents": addon.paid_cents,
        "in_credit_cents": addon.in_credit_cents,
        "refund_cents": addon.refund_cents,
    }


def refund_dict(request: CreditRefundRequest) -> dict:
    return {
        "id": str(request.pk),
        "account_id": request.account.external_id,
        "status": request.status,
        "requested_at": iso(request.requested_at),
        "source": request.source,
        "contact": request.contact,
        "message": request.message,
        "charge_ids": list(request.charge_ids or []),
        "reason": request.reason or None,
        "decided_at": iso(request.decided_at),
        "decided_by": request.decided_by_name or None,
        "concurrency_reset_at": iso(request.concurrency_reset_at),
    }


def item_dict(item: CreditApplicationItem) -> dict:
    return {
        "account_id": item.account_external_id,
        "kind": item.kind,
        "currency": item.currency,
        "amount_cents": item.amount_cents,
        "amount": _money(item.amount_cents),
        "status": item.status,
        "stripe_object": item.stripe_object or None,
        "target": item.target or None,
        "idempotency_key": item.idempotency_key,
        "attempts": item.attempts,
        "error": item.error or None,
    }


def application_dict(report: CreditReport) -> dict:
    application = live_application(report)
    counts = application_counts(application)
    return {
        "report_id": str(report.pk),
        "state": report_state(report),
        "status": application.status if application else None,
        "started_at": iso(application.started_at) if application else None,
        "finished_at": iso(application.finished_at) if application else None,
        "counts": {status: c["count"] for status, c in counts.items()},
        "amounts_cents": {status: c["amount_cents"] for status, c in counts.items()},
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


def _acting_user(call: Call) -> Actor:
    """The token's name and the staff user who created the token (for four eyes)."""
    return Actor(name=call.actor.name, user=call.token.created_by)


def _refund_request(report: CreditReport, account_id: str) -> CreditRefundRequest:
    request = (
        CreditRefundRequest.objects.select_related("account")
        .filter(policy_id=report.policy_id, account__external_id=account_id)
        .first()
    )
    if request is None:
        raise not_found("refund request of account", account_id)
    return request


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
    actor = _acting_user(call)  # the computer, whom four eyes keeps from approving it
    if call.bool("wait"):
        report = credit_report_run(policy=policy, actor=actor)
    else:
        report = credit_report_enqueue(policy=policy, actor=actor)
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


def report_lines_list(call: Call, report_id: str) -> Page:
    report = _report(report_id)
    return paginate(report_lines(report, call.query.get("q", "")), call, line_dict)


def report_addons_list(call: Call, report_id: str) -> Page:
    report = _report(report_id)
    return paginate(report.addons.order_by("account_external_id", "pk"), call, addon_dict)


def refunds_list(call: Call, report_id: str) -> Page:
    report = _report(report_id)
    status = call.query.get("status", "")
    if status and status not in RefundRequestStatus.values:
        raise invalid(
            "status", f"'{status}' is not one of {', '.join(RefundRequestStatus.values)}."
        )
    return paginate(refund_requests(report.policy, status), call, refund_dict)


def refund_post(call: Call, report_id: str) -> dict:
    report = _report(report_id)
    account_id = call.str("account_id", required=True) or ""
    account = Account.objects.filter(external_id=account_id).first()
    if account is None:
        raise invalid("account_id", f"unknown account '{account_id}'.")
    request = refund_request_record(
        policy=report.policy,
        account=account,
        actor=call.actor,
        source="api",
        requested_at=call.datetime("requested_at"),
        contact=call.str("contact") or "",
        message=call.str("message") or "",
        charge_ids=call.list("charge_ids") or [],
    )
    return refund_dict(request)


def refund_get(call: Call, report_id: str, account_id: str) -> dict:
    return refund_dict(_refund_request(_report(report_id), account_id))


def refund_decision_post(call: Call, report_id: str, account_id: str) -> dict:
    request = _refund_request(_report(report_id), account_id)
    decision = call.choice("decision", ["approve", "refuse"], required=True)
    request = refund_request_decide(
        request=request,
        actor=call.actor,
        approve=decision == "approve",
        reason=call.str("reason", required=True, max_length=2000) or "",
    )
    return refund_dict(request)


def refund_import_post(call: Call, report_id: str) -> dict:
    report = _report(report_id)
    text = call.str("csv", required=True) or ""
    result = refund_requests_import(
        policy=report.policy, source=io.StringIO(text), actor=call.actor, filename="api"
    )
    return {"lines": result.lines, "created": result.created, "unchanged": result.unchanged}


def approval_post(call: Call, report_id: str) -> dict:
    """Approve (four eyes): the token's creator must hold `credits.approve_report` and must
    not be the user who computed the report."""
    report = credit_report_approve(report=_report(report_id), actor=_acting_user(call))
    return report_dict(report)


def application_get(call: Call, report_id: str) -> dict:
    return application_dict(_report(report_id))


def application_post(call: Call, report_id: str) -> dict:
    """Start (or resume) applying the approved report; a worker sends it to Stripe."""
    report = _report(report_id)
    credit_application_enqueue(
        report=report, actor=_acting_user(call), dry_run=call.bool("dry_run")
    )
    return application_dict(report)


def application_items_list(call: Call, report_id: str) -> Page:
    report = _report(report_id)
    application = live_application(report)
    if application is None:
        raise not_found("application of credit report", report_id)
    status = call.query.get("status", "")
    if status and status not in ApplicationItemStatus.values:
        raise invalid(
            "status", f"'{status}' is not one of {', '.join(ApplicationItemStatus.values)}."
        )
    return paginate(application_items(application, status=status), call, item_dict)


def reconciliation_csv(call: Call, report_id: str) -> HttpResponse:
    report = _report(report_id)
    application = live_application(report)
    if application is None:
        raise not_found("application of credit report", report_id)
    out = io.StringIO()
    writer = csv.writer(out)
    for row in reconciliation_rows(application):
        writer.writerow(row)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="credit-report-{report.pk}-reconciliation.csv"'
    )
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
        "credit-reports/{report_id}/lines",
        "credit_report_lines",
        get(
            report_lines_list,
            "The report's lines (one per account), with the add-on figures; `q` searches",
            scope=ApiScope.CREDITS,
            paginated=True,
            query={**PAGED, "q": "Account id (prefix) or name"},
            response="object",
            many=True,
        ),
        tag="Credits",
    ),
    route(
        "credit-reports/{report_id}/addons",
        "credit_report_addons",
        get(
            report_addons_list,
            "The report's concurrency add-ons, with each charge's share of the refund",
            scope=ApiScope.CREDITS,
            paginated=True,
            query=PAGED,
            response="object",
            many=True,
        ),
        tag="Credits",
    ),
    route(
        "credit-reports/{report_id}/refund-imports",
        "credit_report_refund_imports",
        post(
            refund_import_post,
            ApiScope.CREDITS,
            "Import the contact form's refund requests (account_id,requested_at,contact,"
            "message,charge_ids) for the report's policy; a bad file is refused whole",
            envelope="refund_import",
            fields=CSV_FIELDS,
            required=["csv"],
            status=201,
            response="object",
            raw_body="csv",
        ),
        tag="Credits",
    ),
    route(
        "credit-reports/{report_id}/refunds/{account_id}/decision",
        "credit_report_refund_decision",
        post(
            refund_decision_post,
            ApiScope.CREDITS,
            "Approve or refuse an account's add-on refund request, with a reason",
            envelope="decision",
            fields={"decision": enum(["approve", "refuse"]), "reason": S},
            required=["decision", "reason"],
            response="object",
        ),
        tag="Credits",
    ),
    route(
        "credit-reports/{report_id}/refunds/{account_id}",
        "credit_report_refund",
        get(refund_get, "An account's refund request", scope=ApiScope.CREDITS, response="object"),
        tag="Credits",
    ),
    route(
        "credit-reports/{report_id}/refunds",
        "credit_report_refunds",
        get(
            refunds_list,
            "Refund requests of the report's policy (`status`: requested, approved, refused)",
            scope=ApiScope.CREDITS,
            paginated=True,
            query={**PAGED, "status": "requested, approved or refused"},
            response="object",
            many=True,
        ),
        post(
            refund_post,
            ApiScope.CREDITS,
            "Record an account's request to refund its concurrency add-ons",
            envelope="refund",
            fields={
                "account_id": S,
                "requested_at": T,
                "contact": S,
                "message": S,
                "charge_ids": IDS,
            },
            required=["account_id"],
            status=201,
            response="object",
        ),
        tag="Credits",
    ),
    route(
        "credit-reports/{report_id}/approval",
        "credit_report_approval",
        post(
            approval_post,
            ApiScope.CREDITS,
            "Approve the report (four eyes: the token's creator, with credits.approve_report, "
            "not the user who computed it)",
            status=201,
            response="credit_report",
        ),
        tag="Credits",
    ),
    route(
        "credit-reports/{report_id}/application/items",
        "credit_report_application_items",
        get(
            application_items_list,
            "Each Stripe operation of the application: status, Stripe object, key, error",
            scope=ApiScope.CREDITS,
            paginated=True,
            query={**PAGED, "status": "pending, sending, applied, failed, skipped, check"},
            response="object",
            many=True,
        ),
        tag="Credits",
    ),
    route(
        "credit-reports/{report_id}/application",
        "credit_report_application",
        get(
            application_get,
            "Where applying the report through Stripe stands (counts by status)",
            scope=ApiScope.CREDITS,
            response="object",
        ),
        post(
            application_post,
            ApiScope.CREDITS,
            "Apply the approved report through Stripe, or resume it (a worker sends it)",
            envelope="application",
            fields={"dry_run": B},
            status=202,
            response="object",
        ),
        tag="Credits",
    ),
    route(
        "credit-reports/{report_id}/reconciliation",
        "credit_report_reconciliation",
        get(
            reconciliation_csv,
            "The reconciliation as CSV (text/csv): applied, failed, skipped per operation",
            scope=ApiScope.CREDITS,
            response="object",
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

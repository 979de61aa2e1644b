"""Staff pages of credits at /console/credits/: policies, reports, CSV export and import.

Credit reports contain customers' spend: every page needs a signed-in staff user with the
`credits.view_credits` permission (superusers have it); changing a policy, running a report
or importing needs `credits.run_credits`. Anonymous visitors go to the login page, others
get a 403 page. The views are thin: they call selectors and service functions.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from incidents.credits import selectors, services
from incidents.credits.forms import (
    CreditPolicyForm,
    ImportForm,
    RefundImportForm,
    RefundRequestForm,
)
from incidents.credits.importers import ImportRejected
from incidents.credits.models import (
    ApplicationItemStatus,
    CreditPolicy,
    CreditRefundRequest,
    CreditReport,
    CreditReportStatus,
    RefundRequestStatus,
)
from statuspage.forms import show_refusal
from statuspage.services import Actor

VIEW_PERMISSION = "credits.view_credits"
RUN_PERMISSION = "credits.run_credits"
APPROVE_PERMISSION = "credits.approve_report"


def can_view_credits(user) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and (user.has_perm(VIEW_PERMISSION) or user.has_perm(RUN_PERMISSION))
    )


def can_run_credits(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff) and user.has_perm(
        RUN_PERMISSION
    )


def can_approve_reports(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff) and user.has_perm(
        APPROVE_PERMISSION
    )


def credits_view(run: bool = False) -> Callable:
    """Login, staff and the credit permission (`run`: the one that allows changes)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            allowed = can_run_credits(request.user) if run else can_view_credits(request.user)
            if not allowed:
                return render(
                    request,
                    "credits/403.html",
                    {"needs": RUN_PERMISSION if run else VIEW_PERMISSION},
                    status=403,
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


def _apply_errors(form, exc: ValidationError) -> None:
    """A service's refusal on a credits form; minimums, caps and currencies are its rules."""
    show_refusal(form, exc, fields={"minimum": "rules", "cap": "rules", "currency": "rules"})


@credits_view()
def index(request: HttpRequest) -> HttpResponse:
    policies = list(selectors.policy_list())
    for policy in policies:
        policy.latest = selectors.policy_reports(policy).first()
    return render(
        request,
        "credits/index.html",
        {
            "policies": policies,
            "counts": selectors.data_counts(),
            "can_run": can_run_credits(request.user),
        },
    )


@credits_view(run=True)
def policy_new(request: HttpRequest) -> HttpResponse:
    initial = {}
    incident = (
        selectors.incident_find(request.GET.get("incident", ""))
        if request.GET.get("incident")
        else None
    )
    if incident:
        initial = {"incident": incident.pk}
    form = CreditPolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            policy = services.credit_policy_create(
                actor=_actor(request),
                incident=data["incident"],
                name=data["name"],
                window_start=data["window_start"],
                window_end=data["window_end"],
                rules=data["rules"],
                regions=data["regions"],
                invoice_month=data["invoice_month"] or None,
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Credit policy “{policy.name}” created.")
            return redirect("credits:policy", pk=policy.pk)
    return render(request, "credits/policy_form.html", {"form": form, "policy": None})


@credits_view(run=True)
def policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(CreditPolicy, pk=pk)
    form = CreditPolicyForm(request.POST or None, initial=CreditPolicyForm.initial_for(policy))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.credit_policy_update(
                policy=policy,
                actor=_actor(request),
                incident=data["incident"],
                name=data["name"],
                window_start=data["window_start"],
                window_end=data["window_end"],
                rules=data["rules"],
                regions=data["regions"],
                invoice_month=data["invoice_month"] or None,
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(
                request, "Credit policy saved. Reports already run keep their parameters."
            )
            return redirect("credits:policy", pk=policy.pk)
    return render(request, "credits/policy_form.html", {"form": form, "policy": policy})


@credits_view()
def policy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(selectors.policy_list(), pk=pk)
    return render(
        request,
        "credits/policy.html",
        {
            "policy": policy,
            "reports": selectors.policy_reports(policy)[:50],
            "missing_currencies": selectors.currencies_without_rule(policy),
            "can_run": can_run_credits(request.user),
        },
    )


@require_POST
@credits_view(run=True)
def policy_run(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(CreditPolicy, pk=pk)
    try:
        report = services.credit_report_enqueue(policy=policy, actor=_actor(request))
    except services.ReportAlreadyRunning as exc:
        messages.error(request, exc.message_dict["policy"][0])
        return redirect("credits:report", pk=exc.running.pk)
    messages.success(request, f"Report #{report.pk} started; a worker computes it.")
    return redirect("credits:report", pk=report.pk)


@credits_view()
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(CreditReport.objects.select_related("policy__incident"), pk=pk)
    query = request.GET.get("q", "").strip()
    lines = selectors.report_lines(report, query)
    page = Paginator(lines, 50).get_page(request.GET.get("page"))
    done = report.status == CreditReportStatus.DONE
    return render(
        request,
        "credits/report.html",
        {
            "report": report,
            "params": selectors.report_parameters_display(report),
            "policy": report.policy,
            "done": done,
            "running": report.status == CreditReportStatus.RUNNING,
            "totals": report.totals.all() if done else [],
            "page": page,
            "q": query,
            "diff": selectors.report_diff(report) if done and report.previous_id else None,
            "addons": report.addons.all()[:500] if done else [],
            "addon_count": report.addons.count() if done else 0,
            "state": selectors.report_state(report),
            "can_approve": (
                done
                and report.approved_at is None
                and can_approve_reports(request.user)
                and report.created_by_id != request.user.pk
            ),
            "computed_by_me": report.created_by_id == request.user.pk,
            "can_run": can_run_credits(request.user),
            "application": selectors.live_application(report),
            "dry_run": selectors.dry_run_application(report),
            "dry_run_default": settings.HELIOGRAPH_STRIPE_DRY_RUN,
            "refund_count": report.policy.refund_requests.count(),
        },
    )


def _service_error(request: HttpRequest, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else []:
        for message in errors:
            messages.error(request, f"{field}: {message}")
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            messages.error(request, message)


@require_POST
@credits_view()
def report_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """Four eyes: the service refuses the user who computed the report, and users without
    `credits.approve_report`."""
    report = get_object_or_404(CreditReport, pk=pk)
    try:
        services.credit_report_approve(report=report, actor=_actor(request))
    except ValidationError as exc:
        _service_error(request, exc)
    else:
        messages.success(request, f"Report #{report.pk} approved. It can now be applied.")
    return redirect("credits:report", pk=report.pk)


@require_POST
@credits_view(run=True)
def report_apply(request: HttpRequest, pk: int) -> HttpResponse:
    """Apply (or resume) through Stripe, or a dry run; a worker sends it."""
    report = get_object_or_404(CreditReport, pk=pk)
    dry_run = request.POST.get("mode") == "dry_run"
    try:
        services.credit_application_enqueue(report=report, actor=_actor(request), dry_run=dry_run)
    except ValidationError as exc:
        _service_error(request, exc)
        return redirect("credits:report", pk=report.pk)
    messages.success(
        request,
        "Dry run started: nothing is sent to Stripe."
        if dry_run
        else "Applying through Stripe; a worker sends it. Resume here if anything fails.",
    )
    return redirect("credits:reconciliation", pk=report.pk)


@credits_view()
def report_reconciliation(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(CreditReport.objects.select_related("policy"), pk=pk)
    which = request.GET.get("run", "")
    application = (
        selectors.dry_run_application(report)
        if which == "dry"
        else selectors.live_application(report)
    )
    status = request.GET.get("status", "")
    if status not in ApplicationItemStatus.values:
        status = ""
    query = request.GET.get("q", "").strip()
    counts = selectors.application_counts(application)
    page = None
    notices: dict[str, str] = {}
    if application is not None:
        items = selectors.application_items(application, status=status, query=query)
        page = Paginator(items, 100).get_page(request.GET.get("page"))
        notices = selectors.notice_statuses(
            application, [item.account_external_id for item in page]
        )
        for item in page:
            item.notice = notices.get(item.account_external_id, "")
    return render(
        request,
        "credits/reconciliation.html",
        {
            "report": report,
            "policy": report.policy,
            "application": application,
            "count_rows": [
                (value, label, counts[value]["count"], counts[value]["amount_cents"])
                for value, label in ApplicationItemStatus.choices
            ],
            "state": selectors.report_state(report),
            "page": page,
            "status": status,
            "q": query,
            "which": which,
            "statuses": ApplicationItemStatus.choices,
            "can_run": can_run_credits(request.user),
            "resumable": application is not None
            and not application.dry_run
            and application.status != "done",
        },
    )


@credits_view()
def report_reconciliation_csv(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(CreditReport, pk=pk)
    application = (
        selectors.dry_run_application(report)
        if request.GET.get("run") == "dry"
        else selectors.live_application(report)
    )
    if application is None:
        return render(
            request, "credits/404.html", {"report": report, "account_id": "—"}, status=404
        )
    writer = csv.writer(_Echo(), lineterminator="\n")
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in selectors.reconciliation_rows(application)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="credit-report-{report.pk}-reconciliation.csv"'
    )
    return response


@credits_view()
def refunds(request: HttpRequest, pk: int) -> HttpResponse:
    """A policy's add-on refund requests: record one, import the contact form's export,
    approve or refuse each with a reason, record the concurrency reset."""
    policy = get_object_or_404(CreditPolicy, pk=pk)
    form = (
        RefundRequestForm(request.POST or None)
        if request.POST.get("action") == "record"
        else RefundRequestForm()
    )
    upload = (
        RefundImportForm(request.POST or None, request.FILES or None)
        if request.POST.get("action") == "import"
        else RefundImportForm()
    )
    rejected = None
    if request.method == "POST":
        if not can_run_credits(request.user):
            return render(request, "credits/403.html", {"needs": RUN_PERMISSION}, status=403)
        if request.POST.get("action") == "record" and form.is_valid():
            data = form.cleaned_data
            try:
                services.refund_request_record(
                    policy=policy,
                    account=data["account"],
                    actor=_actor(request),
                    contact=data["contact"],
                    message=data["message"],
                    charge_ids=data["charge_ids"],
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(
                    request, f"Refund request of {data['account'].external_id} recorded."
                )
                return redirect("credits:refunds", pk=policy.pk)
        if request.POST.get("action") == "import" and upload.is_valid():
            file = upload.cleaned_data["file"]
            try:
                result = services.refund_requests_import(
                    policy=policy, source=file.file, actor=_actor(request), filename=file.name
                )
            except ImportRejected as exc:
                rejected = exc
            else:
                messages.success(
                    request,
                    f"{file.name}: {result.created} new, {result.unchanged} already recorded.",
                )
                return redirect("credits:refunds", pk=policy.pk)
    status = request.GET.get("status", "")
    return render(
        request,
        "credits/refunds.html",
        {
            "policy": policy,
            "requests": selectors.refund_requests(
                policy, status if status in RefundRequestStatus.values else ""
            )[:500],
            "form": form,
            "upload": upload,
            "rejected": rejected,
            "rejected_lines": rejected.line_errors[:200] if rejected else [],
            "status": status,
            "can_run": can_run_credits(request.user),
        },
        status=400 if rejected else 200,
    )


@require_POST
@credits_view(run=True)
def refund_decide(request: HttpRequest, pk: int) -> HttpResponse:
    refund = get_object_or_404(CreditRefundRequest, pk=pk)
    try:
        if request.POST.get("action") == "reset":
            services.refund_request_record_reset(
                request=refund, actor=_actor(request), note=request.POST.get("note", "")
            )
        else:
            services.refund_request_decide(
                request=refund,
                actor=_actor(request),
                approve=request.POST.get("decision") == "approve",
                reason=request.POST.get("reason", ""),
            )
    except ValidationError as exc:
        _service_error(request, exc)
    else:
        messages.success(
            request, f"{refund.account.external_id}: saved. Recompute the report to include it."
        )
    return redirect("credits:refunds", pk=refund.policy_id)


@credits_view()
def report_line(request: HttpRequest, pk: int, account_id: str) -> HttpResponse:
    report = get_object_or_404(CreditReport.objects.select_related("policy__incident"), pk=pk)
    line = selectors.report_line(report, account_id)
    if line is None:
        return render(
            request, "credits/404.html", {"report": report, "account_id": account_id}, status=404
        )
    incident = report.policy.incident
    note = selectors.credit_note(report, line, incident.name if incident else "")
    return render(request, "credits/line.html", {"report": report, "line": line, "note": note})


class _Echo:
    def write(self, value: str) -> str:
        return value


@credits_view()
def report_csv(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(CreditReport, pk=pk, status=CreditReportStatus.DONE)
    writer = csv.writer(_Echo(), lineterminator="\n")
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in selectors.report_csv_rows(report)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="credit-report-{report.pk}.csv"'
    return response


@credits_view(run=True)
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    result = rejected = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        importer = (
            services.accounts_import
            if form.cleaned_data["what"] == "accounts"
            else services.spend_import
        )
        try:
            result = importer(source=upload.file, actor=_actor(request), filename=upload.name)
        except ImportRejected as exc:
            rejected = exc
        else:
            messages.success(request, f"{upload.name}: imported.")
    return render(
        request,
        "credits/import.html",
        {
            "form": form,
            "result": result,
            "rejected": rejected,
            "rejected_lines": rejected.line_errors[:500] if rejected else [],
            "counts": selectors.data_counts(),
        },
        status=400 if rejected else 200,
    )


def notice(request: HttpRequest, token: str) -> HttpResponse:
    """An account's credit notice, public behind its signed link (no login: the billing
    contact follows it from the email). A forged, changed or expired link is a 404."""
    context = selectors.notice_from_token(token)
    if context is None:
        return render(request, "credits/notice_gone.html", status=404)
    response = render(request, "credits/notice.html", {"n": context})
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response

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

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from incidents.credits import selectors, services
from incidents.credits.forms import CreditPolicyForm, ImportForm
from incidents.credits.importers import ImportRejected
from incidents.credits.models import CreditPolicy, CreditReport, CreditReportStatus
from statuspage.services import Actor

VIEW_PERMISSION = "credits.view_credits"
RUN_PERMISSION = "credits.run_credits"


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
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    mapping = {"minimum": "rules", "cap": "rules", "currency": "rules"}
    for key, errors in exc.message_dict.items():
        field = mapping.get(key, key)
        for message in errors:
            form.add_error(field if field in form.fields else None, message)


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
        },
    )


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

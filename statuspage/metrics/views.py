"""Views of metrics and detection.

Staff console (login and console permission, `incidents.views.console_view`):
- `/console/metrics/`: every metric's graph, thresholds, open alerts and alert history;
- `/console/metrics/alerts/`: alert sources and check-ins with their intake URLs, open and
  recent alerts, the last intakes; forms to add a source or a check-in;
- `/console/metrics/drafts/<id>/publish|discard`: the dashboard's one-click buttons.

Intake (anonymous; the secret in the URL is the credential; no cookies, no CSRF):
- `POST /intake/alerts/<secret>`: an alert source's payload (Alertmanager, Grafana, generic);
- `GET|POST /checkin/<secret>` and `…/fail`: a job's check-in.
Each answers JSON (`message`, `actions`) or, for check-ins, one line of text; a payload
that cannot be read gets 400 with the reason and changes nothing; an unexpected error gets
503 (senders retry), never a 500 page.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from incidents.views import console_view
from statuspage.forms import show_refusal
from statuspage.metrics.charts import series_svg
from statuspage.metrics.models import (
    AlertSource,
    AlertSourceKind,
    Automation,
    CheckIn,
    IncidentDraft,
    Metric,
    MetricAlert,
)
from statuspage.metrics.selectors import detection_overview, metric_latest_points, metric_series
from statuspage.metrics.services import (
    IntakeResult,
    alert_source_create,
    alert_source_intake,
    checkin_create,
    checkin_ping,
    incident_draft_discard,
    incident_draft_publish,
)
from statuspage.models import Component, ComponentStatus
from statuspage.services import Actor

log = logging.getLogger(__name__)


@console_view
def metrics_console(request: HttpRequest) -> HttpResponse:
    hours = request.GET.get("hours", "24")
    # isdigit() alone takes "²", which int() refuses: ASCII digits only.
    valid = hours.isascii() and hours.isdigit() and int(hours) > 0
    span = timedelta(hours=min(int(hours), 24 * 90) if valid else 24)
    latest = metric_latest_points()
    open_alerts = {a.metric_id: a for a in MetricAlert.objects.filter(closed_at__isnull=True)}
    rows = []
    for metric in Metric.objects.select_related("component__service", "component__region"):
        rows.append(
            {
                "metric": metric,
                "latest": latest.get(metric.pk),
                "alert": open_alerts.get(metric.pk),
                "svg": mark_safe(  # built by series_svg, which escapes every text it writes
                    series_svg(
                        metric_series(metric, span=span),
                        title=f"{metric.name}, last {span.total_seconds() / 3600:g} h",
                        unit=metric.unit,
                        warning=metric.warning_threshold,
                        critical=metric.critical_threshold,
                    )
                ),
            }
        )
    history = MetricAlert.objects.select_related("metric")[:50]
    return render(
        request,
        "console/metrics.html",
        {"rows": rows, "history": history, "hours": int(span.total_seconds() // 3600)},
    )


# --- Console: alert sources, check-ins, drafts ---------------------------------------------------


class AlertSourceForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=AlertSourceKind.choices)
    automation = forms.ChoiceField(choices=Automation.choices, initial=Automation.COMPONENT)
    hold_down = forms.IntegerField(
        min_value=0, required=False, label="Hold-down (seconds)", initial=None
    )


class CheckInForm(forms.Form):
    name = forms.CharField(max_length=200)
    period = forms.IntegerField(min_value=1, label="Period (seconds)", initial=3600)
    grace = forms.IntegerField(min_value=0, label="Grace (seconds)", initial=300)
    component = forms.ModelChoiceField(
        queryset=Component.objects.select_related("service", "region"), required=False
    )
    component_status = forms.ChoiceField(
        choices=ComponentStatus.choices, initial=ComponentStatus.DEGRADED_PERFORMANCE
    )
    automation = forms.ChoiceField(choices=Automation.choices, initial=Automation.COMPONENT)


@console_view
def alerts_console(request: HttpRequest) -> HttpResponse:
    """Alert sources and check-ins (with their intake URLs), alerts, intakes; add a source
    or a check-in."""
    actor = Actor.for_user(request.user)
    source_form = AlertSourceForm(prefix="source")
    checkin_form = CheckInForm(prefix="checkin")
    if request.method == "POST":
        if "source-name" in request.POST:
            source_form = AlertSourceForm(request.POST, prefix="source")
            if source_form.is_valid():
                try:
                    source = alert_source_create(actor=actor, **source_form.cleaned_data)
                except ValidationError as error:
                    show_refusal(source_form, error)
                else:
                    messages.success(request, f"Alert source “{source.name}” added.")
                    return redirect("metrics:alerts")
        else:
            checkin_form = CheckInForm(request.POST, prefix="checkin")
            if checkin_form.is_valid():
                try:
                    checkin = checkin_create(actor=actor, **checkin_form.cleaned_data)
                except ValidationError as error:
                    show_refusal(checkin_form, error)
                else:
                    messages.success(request, f"Check-in “{checkin.name}” added.")
                    return redirect("metrics:alerts")
    return render(
        request,
        "console/metrics_alerts.html",
        {
            **detection_overview(),
            "site_url": settings.SITE_URL,
            "source_form": source_form,
            "checkin_form": checkin_form,
        },
    )


@console_view
@require_POST
def draft_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """The dashboard's one click: declare the drafted incident."""
    draft = get_object_or_404(IncidentDraft, pk=pk)
    try:
        incident = incident_draft_publish(draft=draft, actor=Actor.for_user(request.user))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("console:dashboard")
    messages.success(request, f"“{incident.name}” is published.")
    return redirect("console:incident", public_id=incident.public_id)


@console_view
@require_POST
def draft_discard(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(IncidentDraft, pk=pk)
    try:
        incident_draft_discard(draft=draft, actor=Actor.for_user(request.user))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Draft “{draft.name}” discarded.")
    return redirect("console:dashboard")


# --- Intake (anonymous, secret in the URL) --------------------------------------------------------


def _body(request: HttpRequest) -> bytes | None:
    """The request body, or None when it is larger than HELIOGRAPH_INTAKE_MAX_BODY."""
    limit = settings.HELIOGRAPH_INTAKE_MAX_BODY
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def _client(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _unavailable(what: str) -> HttpResponse:
    log.exception("intake of %s failed", what)
    return _no_store(
        JsonResponse(
            {"message": "Heliograph could not take this now; it has been logged. Try again."},
            status=503,
            headers={"Retry-After": "10"},
        )
    )


@csrf_exempt
@require_http_methods(["POST"])
def alert_intake(request: HttpRequest, secret: str) -> HttpResponse:
    """An alert source's intake URL (Alertmanager / Grafana webhook, generic JSON)."""
    try:
        source = AlertSource.objects.filter(secret=secret).first()
        if source is None:
            return _no_store(JsonResponse({"message": "Unknown intake URL."}, status=404))
        body = _body(request)
        if body is None:
            limit = settings.HELIOGRAPH_INTAKE_MAX_BODY
            return _no_store(
                JsonResponse({"message": f"The body is larger than {limit} bytes."}, status=413)
            )
        result: IntakeResult = alert_source_intake(
            source=source, body=body, remote_addr=_client(request)
        )
    except Exception:
        return _unavailable("an alert source")
    return _no_store(
        JsonResponse(
            {"message": result.message, "actions": result.actions}, status=result.status_code
        )
    )


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def checkin(request: HttpRequest, secret: str, failed: bool = False) -> HttpResponse:
    """A job's check-in (`curl -fsS …/checkin/<secret>` at the end of a cron job; `…/fail`
    when it failed). Answers one line of text."""
    try:
        found = CheckIn.objects.filter(secret=secret).first()
        if found is None:
            return _no_store(HttpResponse("Unknown check-in URL.\n", status=404))
        body = _body(request) if request.method == "POST" else b""
        if body is None:
            return _no_store(HttpResponse("The body is too large.\n", status=413))
        result = checkin_ping(checkin=found, failed=failed, body=body, remote_addr=_client(request))
    except Exception:
        return _unavailable("a check-in")
    return _no_store(
        HttpResponse(f"{result.message}\n", status=result.status_code, content_type="text/plain")
    )

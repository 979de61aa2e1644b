"""The staff incident console: thin views over `incidents.selectors` and the service functions.

Every action calls one service function with `Actor.for_user(request.user)`; the services
write the audit trail and republish the public snapshot. A refused action re-renders the
form with the service's message on the field it concerns and everything that was typed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from incidents import console, selectors, services
from incidents.forms import (
    INCIDENT_IMPACT_CHOICES,
    INCIDENT_STATUS_CHOICES,
    ComponentStatusForm,
    DeclareForm,
    EditIncidentForm,
    MaintenanceForm,
    PostmortemForm,
    PreviewForm,
    ResolveForm,
    UpdateForm,
    UpdateTextForm,
    apply_service_errors,
)
from incidents.models import (
    MAINTENANCE_STATUSES,
    Incident,
    IncidentKind,
    IncidentStatus,
    IncidentTemplate,
    IncidentUpdate,
)
from statuspage.markdown import render_markdown
from statuspage.selectors import component_matrix, components_for_page
from statuspage.services import Actor, component_set_status
from statuspage.status import STATUS_IMPACT, impact_for_component_statuses

CONSOLE_PERMISSIONS = ("incidents.add_incident", "incidents.change_incident")


def can_use_console(user) -> bool:
    """Staff with the console permission (or both add and change incident); superusers pass."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return (
        user.is_superuser
        or user.has_perm("incidents.run_console")
        or user.has_perms(CONSOLE_PERMISSIONS)
    )


def console_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page; signed-in users without access get a 403 page
    that says why (a redirect loop to the login page would not)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not can_use_console(request.user):
            return render(request, "console/403.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


def _templates_json(templates) -> list[dict]:
    return [
        {
            "id": t.pk,
            "title": t.title,
            "status": t.status,
            "impact": t.impact,
            "component_status": t.component_status,
            "body": t.body,
        }
        for t in templates
    ]


def _impact_rule() -> dict:
    """What the declare form's script needs to say live which impact "from the components"
    gives (the server decides: statuspage.status.impact_for_component_statuses)."""
    labels = dict(INCIDENT_IMPACT_CHOICES)
    default = impact_for_component_statuses([])
    return {
        "status_impact": {str(s): i for s, i in STATUS_IMPACT.items()},
        "order": ["none", "minor", "major", "critical"],
        "default": default,
        "labels": labels,
    }


def _template_initial(template: IncidentTemplate | None) -> dict:
    if template is None:
        return {}
    initial = {"body": template.body}
    if template.title:
        initial["name"] = template.title
    if template.status:
        initial["status"] = template.status
    if template.impact and template.impact != "maintenance":
        initial["impact"] = template.impact
    return initial


# --- Dashboard and declaration -------------------------------------------------------------------


@console_view
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/dashboard.html",
        {
            "open_incidents": selectors.with_latest_updates(selectors.incidents_open()),
            "active_maintenances": selectors.with_components(selectors.maintenances_active()),
            "upcoming_maintenances": selectors.with_components(selectors.maintenances_upcoming()),
            "matrix": component_matrix(),
            **console.dashboard_context(),
        },
    )


@console_view
def incident_declare(request: HttpRequest) -> HttpResponse:
    """One form: name, impact, status, component grid, first update, notify, template."""
    matrix = component_matrix()
    templates = selectors.templates_for_console()
    template = selectors.template_get(template_id=request.GET.get("template"))
    if request.method == "POST":
        form = DeclareForm(request.POST, matrix=matrix)
        if form.is_valid():
            data = form.cleaned_data
            chosen = form.component_statuses()
            try:
                incident = services.incident_declare(
                    name=data["name"],
                    body=data["body"],
                    # Not chosen (None): the service takes the impact of the worst component
                    # status set (statuspage.status), so the badge says what the matrix shows.
                    impact=data["impact"] or None,
                    status=data["status"],
                    component_statuses=chosen,
                    deliver_notifications=data["notify"],
                    translations=form.translations(),
                    actor=_actor(request),
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, f"Incident declared: {incident.name}")
                return redirect("console:incident", public_id=incident.public_id)
    elif request.method == "GET":
        initial = _template_initial(template)
        # ?component=<id> (repeatable) pre-selects components, e.g. from a dashboard cell.
        wanted = set(request.GET.getlist("component"))
        suggested = (template.component_status if template else "") or "major_outage"
        for component in matrix.components:
            if component.public_id in wanted:
                initial[DeclareForm.component_field_name(component)] = suggested
        form = DeclareForm(initial=initial, matrix=matrix)
    else:
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(
        request,
        "console/declare.html",
        {
            "form": form,
            "template": template,
            "templates": templates,
            "templates_json": _templates_json(templates),
            "wanted_components": request.GET.getlist("component"),
            "impact_rule": _impact_rule(),
            # Under stress two commanders may declare the same outage: show what is open.
            "open_incidents": list(selectors.incidents_open().only("public_id", "name", "status")),
        },
        status=400 if form.is_bound else 200,
    )


@console_view
@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    """The sanitized HTML a Markdown body will have on the public page."""
    form = PreviewForm(request.POST)
    if not form.is_valid():
        return HttpResponse(
            json.dumps(form.errors.get_json_data()), status=400, content_type="application/json"
        )
    return HttpResponse(
        render_markdown(form.cleaned_data["body"]), content_type="text/html; charset=utf-8"
    )


# --- One incident ------------------------------------------------------------------------------


def _status_choices(incident: Incident) -> list[tuple[str, str]]:
    if incident.kind == IncidentKind.MAINTENANCE:
        return [(s, IncidentStatus(s).label) for s in MAINTENANCE_STATUSES]
    return INCIDENT_STATUS_CHOICES


def _last_update(incident: Incident) -> IncidentUpdate | None:
    """The update written last (whatever time it displays): what a stale tab has not seen."""
    return incident.updates.order_by("-id").first() if incident.pk else None


def _incident_page(
    request: HttpRequest,
    incident: Incident,
    *,
    status: int = 200,
    stale: dict | None = None,
    **forms,
) -> HttpResponse:
    matrix = component_matrix()
    templates = selectors.templates_for_console(incident.kind)
    template = selectors.template_get(template_id=request.GET.get("template"))
    last = _last_update(incident)
    update_initial = {"status": incident.status, "seen": last.public_id if last else ""}
    if template is not None:
        update_initial["body"] = template.body
        if template.status in dict(_status_choices(incident)):
            update_initial["status"] = template.status
    forms.setdefault(
        "update_form",
        UpdateForm(
            initial=update_initial,
            matrix=matrix,
            status_choices=_status_choices(incident),
        ),
    )
    forms.setdefault("resolve_form", ResolveForm())
    forms.setdefault(
        "edit_form", EditIncidentForm(initial={"name": incident.name, "impact": incident.impact})
    )
    postmortem = getattr(incident, "postmortem", None) if incident.pk else None
    forms.setdefault(
        "postmortem_form", PostmortemForm(initial={"body": postmortem.body if postmortem else ""})
    )
    timeline = selectors.incident_timeline(incident=incident)
    return render(
        request,
        "console/incident.html",
        {
            "incident": incident,
            "affected_ids": {c.pk for c in incident.components.all()},
            "timeline": timeline,
            "stale": stale,
            # What each update sent to whom (the notifier adds it: incidents.console).
            **console.incident_context(incident=incident, updates=timeline),
            "postmortem": postmortem,
            "can_postmortem": incident.kind == IncidentKind.INCIDENT
            and incident.status in (IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM),
            "template": template,
            "templates": templates,
            "templates_json": _templates_json(templates),
            **forms,
        },
        status=status,
    )


def _get_incident(public_id: str) -> Incident:
    try:
        return selectors.incident_get(public_id=public_id)
    except Incident.DoesNotExist as exc:
        raise Http404("No such incident.") from exc


@console_view
def incident_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    return _incident_page(request, _get_incident(public_id))


def _stale(incident: Incident, *, seen: str | None) -> dict | None:
    """What the commander's page did not show when they typed: the incident closed meanwhile,
    or (when `seen` is given) another update was posted after the one they saw. None when the
    page was current. The view then posts nothing and shows this, with the typed text kept."""
    last = _last_update(incident)
    if not incident.is_open:
        return {"closed": True, "last": last}
    if seen is not None and seen and (last is None or last.public_id != seen):
        return {"closed": False, "last": last}
    return None


def _stale_response(request, incident, stale, **forms) -> HttpResponse:
    """Refused like any console form (400): nothing was posted; the page says what changed,
    links to it, and keeps the form as typed."""
    return _incident_page(request, incident, status=400, stale=stale, **forms)


@console_view
@require_POST
def incident_update(request: HttpRequest, public_id: str) -> HttpResponse:
    incident = _get_incident(public_id)
    form = UpdateForm(
        request.POST,
        matrix=component_matrix(),
        status_choices=_status_choices(incident),
    )
    stale = _stale(incident, seen=request.POST.get("seen"))
    if stale is not None:
        # Keep what was typed, and mark the newest update as seen: posting again sends it.
        data = request.POST.copy()
        data["seen"] = stale["last"].public_id if stale["last"] else ""
        kept = UpdateForm(data, matrix=component_matrix(), status_choices=_status_choices(incident))
        return _stale_response(request, incident, stale, update_form=kept)
    if form.is_valid():
        data = form.cleaned_data
        chosen = form.component_statuses()
        try:
            services.incident_post_update(
                incident=incident,
                status=data["status"],
                body=data["body"],
                impact=data["impact"] or None,  # None: the service raises it if need be
                # Nothing chosen: let the service apply its defaults (operational on resolve,
                # maintenance statuses for a maintenance); otherwise exactly what was chosen.
                component_statuses=chosen or None,
                deliver_notifications=data["notify"],
                translations=form.translations(),
                actor=_actor(request),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"Update posted: {IncidentStatus(data['status']).label}. What it sent is "
                "under it in the timeline.",
            )
            return redirect("console:incident", public_id=incident.public_id)
        fresh = _get_incident(public_id)
        if not fresh.is_open:  # closed between the check above and the post
            return _stale_response(request, fresh, _stale(fresh, seen=None), update_form=form)
    return _incident_page(request, incident, status=400, update_form=form)


@console_view
@require_POST
def incident_resolve(request: HttpRequest, public_id: str) -> HttpResponse:
    incident = _get_incident(public_id)
    form = ResolveForm(request.POST)
    if not incident.is_open:
        return _stale_response(request, incident, _stale(incident, seen=None), resolve_form=form)
    if form.is_valid():
        try:
            if incident.kind == IncidentKind.MAINTENANCE:
                services.maintenance_complete(
                    incident=incident, body=form.cleaned_data["body"], actor=_actor(request)
                )
            else:
                services.incident_resolve(
                    incident=incident,
                    body=form.cleaned_data["body"],
                    deliver_notifications=form.cleaned_data["notify"],
                    actor=_actor(request),
                )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, f"Resolved: {incident.name}")
            return redirect("console:incident", public_id=incident.public_id)
    return _incident_page(request, incident, status=400, resolve_form=form)


@console_view
@require_POST
def incident_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    incident = _get_incident(public_id)
    form = EditIncidentForm(request.POST)
    if form.is_valid():
        try:
            services.incident_edit(
                incident=incident,
                name=form.cleaned_data["name"],
                impact=form.cleaned_data["impact"],
                actor=_actor(request),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, "Incident edited.")
            return redirect("console:incident", public_id=incident.public_id)
    return _incident_page(request, incident, status=400, edit_form=form)


@console_view
@require_POST
def incident_postmortem(request: HttpRequest, public_id: str) -> HttpResponse:
    incident = _get_incident(public_id)
    form = PostmortemForm(request.POST)
    if form.is_valid():
        try:
            services.postmortem_publish(
                incident=incident,
                body=form.cleaned_data["body"],
                actor=_actor(request),
                notify=form.cleaned_data["notify"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, "Postmortem published.")
            return redirect("console:incident", public_id=incident.public_id)
    return _incident_page(request, incident, status=400, postmortem_form=form)


@console_view
def update_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    """Correct a timeline entry's text; the public page changes, nobody is notified again."""
    update = get_object_or_404(
        IncidentUpdate.objects.select_related("incident"), public_id=public_id
    )
    if request.method == "POST":
        form = UpdateTextForm(request.POST)
        if form.is_valid():
            try:
                services.incident_update_edit(
                    update=update,
                    body=form.cleaned_data["body"],
                    translations=form.translations(keep_empty=True),
                    actor=_actor(request),
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, "Update text corrected.")
                return redirect("console:incident", public_id=update.incident.public_id)
        status = 400
    else:
        form = UpdateTextForm(
            initial={"body": update.body},
            translations={t.language: t.body for t in update.translations.all()},
        )
        status = 200
    return render(
        request, "console/update_edit.html", {"form": form, "update": update}, status=status
    )


@console_view
def incident_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.with_components(selectors.incidents_recent()), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "console/incidents.html", {"page": page})


# --- Maintenance -------------------------------------------------------------------------------


@console_view
def maintenance_new(request: HttpRequest) -> HttpResponse:
    components = components_for_page()
    if request.method == "POST":
        form = MaintenanceForm(request.POST, components=components)
        if form.is_valid():
            data = form.cleaned_data
            try:
                incident = services.maintenance_schedule(
                    name=data["name"],
                    body=data["body"],
                    scheduled_for=data["scheduled_for"],
                    scheduled_until=data["scheduled_until"],
                    components=data["components"],
                    auto_in_progress=data["auto_in_progress"],
                    auto_completed=data["auto_completed"],
                    deliver_notifications=data["notify"],
                    actor=_actor(request),
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, f"Maintenance scheduled: {incident.name}")
                return redirect("console:incident", public_id=incident.public_id)
        status = 400
    elif request.method == "GET":
        form = MaintenanceForm(components=components)
        status = 200
    else:
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(request, "console/maintenance.html", {"form": form}, status=status)


MAINTENANCE_ACTIONS = {
    "start": (services.maintenance_start, gettext_lazy("Maintenance started.")),
    "complete": (services.maintenance_complete, gettext_lazy("Maintenance completed.")),
    "cancel": (services.maintenance_cancel, gettext_lazy("Maintenance cancelled.")),
}


def _maintenance_action(request: HttpRequest, public_id: str, action: str) -> HttpResponse:
    incident = get_object_or_404(Incident, public_id=public_id, kind=IncidentKind.MAINTENANCE)
    move, done = MAINTENANCE_ACTIONS[action]
    try:
        move(incident=incident, actor=_actor(request))
    except ValidationError as exc:
        for errors in exc.message_dict.values():
            for message in errors:
                messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("console:incident", public_id=incident.public_id)


@console_view
@require_POST
def maintenance_start(request: HttpRequest, public_id: str) -> HttpResponse:
    return _maintenance_action(request, public_id, "start")


@console_view
@require_POST
def maintenance_complete(request: HttpRequest, public_id: str) -> HttpResponse:
    return _maintenance_action(request, public_id, "complete")


@console_view
@require_POST
def maintenance_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    return _maintenance_action(request, public_id, "cancel")


# --- Components and audit ----------------------------------------------------------------------


@console_view
def components(request: HttpRequest) -> HttpResponse:
    """Set one component's status directly (outside an incident), with a reason."""
    queryset = components_for_page()
    status = 200
    if request.method == "POST":
        form = ComponentStatusForm(request.POST, components=queryset)
        if form.is_valid():
            data = form.cleaned_data
            try:
                change = component_set_status(
                    component=data["component"],
                    status=data["status"],
                    reason=data["reason"],
                    actor=_actor(request),
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                if change is None:
                    messages.info(request, f"{data['component'].name} already had that status.")
                else:
                    messages.success(
                        request,
                        f"{data['component'].name}: {change.old_status} → {change.new_status}",
                    )
                return redirect("console:components")
        status = 400
    else:
        initial = {}
        if request.GET.get("component"):
            found = queryset.filter(public_id=request.GET["component"]).first()
            if found is not None:
                initial = {"component": found.pk, "status": found.status}
        form = ComponentStatusForm(initial=initial, components=queryset)
    return render(
        request,
        "console/components.html",
        {"form": form, "matrix": component_matrix()},
        status=status,
    )


@console_view
def audit(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.audit_entries(), 50).get_page(request.GET.get("page"))
    return render(request, "console/audit.html", {"page": page})


def console_url(incident: Incident) -> str:
    """Where an incident is handled in the console (the admin links here)."""
    return reverse("console:incident", kwargs={"public_id": incident.public_id})

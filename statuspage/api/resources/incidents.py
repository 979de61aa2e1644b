"""Incidents: the lists, declare, update (PATCH adds a timeline update), delete, corrections
of an update, postmortems, and the bulk actions on several incidents.

A maintenance is an incident of kind maintenance: `POST incidents` with a window schedules
one, and maintenances.py answers with the handlers of this module."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from incidents.documents import incident_dict, incident_update_dict, incidents_for_json, iso
from incidents.models import (
    MAINTENANCE_STATUSES,
    Impact,
    Incident,
    IncidentKind,
    IncidentStatus,
    IncidentUpdate,
    Postmortem,
)
from incidents.selectors import (
    incidents_open,
    incidents_recent,
    maintenances_active,
    maintenances_upcoming,
)
from incidents.services import (
    MAX_BODY,
    MAX_NAME,
    incident_change,
    incident_declare,
    incident_delete,
    incident_update_edit,
    incidents_post_update_bulk,
    maintenance_create,
    postmortem_publish,
)
from statuspage.api.framework import (
    Call,
    Page,
    delete,
    get,
    given,
    invalid,
    not_found,
    paginate,
    patch_and_put,
    post,
    put,
    route,
)
from statuspage.api.lookups import find_components, find_incident
from statuspage.api.models import ApiScope
from statuspage.api.schema import (
    IDS,
    IMPACT,
    INCIDENT_STATUS,
    PAGED,
    STATUS_MAP,
    B,
    S,
    T,
)
from statuspage.models import Component, ComponentStatus

# --- Reading a call and answering ---------------------------------------------------------


def incident_json(incident: Incident) -> dict:
    return incident_dict(incidents_for_json(Incident.objects.filter(pk=incident.pk)).get())


def incidents_page(call: Call, qs: Any, **kw: Any) -> Page:
    return paginate(incidents_for_json(qs), call, incident_dict, **kw)


def _component_statuses(call: Call) -> dict[Component, str] | None:
    """`components: {"<component id>": "<component status>"}`, or None when not given."""
    mapping = call.mapping("components")
    if mapping is None:
        return None
    components = find_components(list(mapping), "components")
    result = {}
    for component in components:
        status = mapping[component.public_id]
        if status not in ComponentStatus.values:
            raise invalid(
                "components",
                f"'{status}' for {component.public_id} is not a component status; use one of "
                + ", ".join(ComponentStatus.values)
                + ".",
            )
        result[component] = status
    return result


def _impact(call: Call) -> str | None:
    return call.choice("impact_override", Impact.values) or call.choice("impact", Impact.values)


def _deliver(call: Call) -> bool:
    deliver = call.bool("deliver_notifications")
    return True if deliver is None else deliver


# --- Lists --------------------------------------------------------------------------------


def incidents_list(call: Call) -> Page:
    qs = incidents_recent()
    q = (call.query.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(updates__body__icontains=q)).distinct()
    return incidents_page(call, qs, limit_name="limit")


def incidents_unresolved(call: Call) -> Page:
    return incidents_page(call, incidents_open())


def incidents_upcoming(call: Call) -> Page:
    """Also `incidents/scheduled`: v1 names the same list twice. A window already begun but
    not started yet is still to come (as on the page and in /api/v2)."""
    return incidents_page(call, maintenances_upcoming())


def incidents_active_maintenance(call: Call) -> Page:
    return incidents_page(call, maintenances_active())


# --- One incident -------------------------------------------------------------------------


def incident_get(call: Call, incident_id: str) -> dict:
    return incident_json(find_incident(incident_id))


def incident_create(call: Call, *, maintenance: bool = False) -> dict:
    """Declare an incident, or schedule a maintenance when a window is given."""
    name = call.str("name", required=True, max_length=MAX_NAME)
    body = call.str("body", max_length=MAX_BODY) or ""
    status = call.str("status") or None  # "": not sent
    impact = _impact(call)
    statuses = _component_statuses(call)
    affected = find_components(call.list("component_ids") or [], "component_ids")
    deliver = _deliver(call)
    scheduled_for = call.datetime("scheduled_for")
    scheduled_until = call.datetime("scheduled_until")
    if maintenance or scheduled_for or scheduled_until or status in MAINTENANCE_STATUSES:
        if scheduled_for is None:
            raise invalid("scheduled_for", "is required for a scheduled maintenance.")
        if scheduled_until is None:
            raise invalid("scheduled_until", "is required for a scheduled maintenance.")
        if status is not None and status not in MAINTENANCE_STATUSES:
            raise invalid(
                "status", f"'{status}' is not a maintenance status; use scheduled or in_progress."
            )
        incident = maintenance_create(
            name=name or "",
            body=body,
            actor=call.actor,
            scheduled_for=scheduled_for,
            scheduled_until=scheduled_until,
            components=affected,
            component_statuses=statuses,
            deliver_notifications=deliver,
            **given(
                status=status,
                auto_in_progress=call.bool("scheduled_auto_in_progress"),
                auto_completed=call.bool("scheduled_auto_completed"),
            ),
        )
        return incident_json(incident)
    incident = incident_declare(
        name=name or "",
        body=body,
        actor=call.actor,
        impact=impact,  # None: the service takes it from the component statuses
        component_statuses=statuses,
        **given(status=status, translations=_translations(call)),
        components=affected,
        deliver_notifications=deliver,
    )
    return incident_json(incident)


def incident_patch(call: Call, incident_id: str, *, kind: str | None = None) -> dict:
    """Edit name/impact/affected components (and a maintenance's window); a new status, body
    or component statuses add a timeline update. One transaction (incident_change): a refused part writes nothing."""
    incident = find_incident(incident_id, kind=kind)
    name = call.str("name", max_length=MAX_NAME)
    if name is not None and not name.strip():
        raise invalid("name", "must not be empty.")
    impact = _impact(call)
    status = call.str("status")
    body = call.str("body", max_length=MAX_BODY)
    statuses = _component_statuses(call)
    ids = call.list("component_ids")
    affected = find_components(ids, "component_ids") if ids is not None else None
    incident = incident_change(
        incident=incident,
        actor=call.actor,
        name=name,
        impact=impact,
        components=affected,
        status=status,
        body=body,
        component_statuses=statuses,
        deliver_notifications=_deliver(call),
        # A maintenance rescheduled (the calendars' SEQUENCE goes up).
        scheduled_for=call.datetime("scheduled_for"),
        scheduled_until=call.datetime("scheduled_until"),
        translations=_translations(call),
    )
    return incident_json(incident)


def incident_remove(call: Call, incident_id: str) -> None:
    incident_delete(incident=find_incident(incident_id), actor=call.actor)


def incident_update_patch(call: Call, incident_id: str, update_id: str) -> dict:
    incident = find_incident(incident_id)
    update = IncidentUpdate.objects.filter(incident=incident, public_id=update_id).first()
    if update is None:
        raise not_found("incident update", update_id)
    update = incident_update_edit(
        update=update,
        actor=call.actor,
        body=call.str("body", max_length=MAX_BODY),
        deliver_notifications=call.bool("deliver_notifications"),
        translations=_translations(call),
    )
    return {**incident_update_dict(update, incident), "translations": _translations_dict(update)}


def _translations(call: Call) -> dict[str, str] | None:
    """`translations`: {"de": "…", "ja": "…"}, staff's translations of the update's text
    (an empty text removes one); the incident services check the languages."""
    value = call.data.get("translations")
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid("translations", 'must be an object like {"de": "<text>"}.')
    return value


def _translations_dict(update: IncidentUpdate) -> dict[str, str]:
    return {t.language: t.body for t in update.translations.all()}


# --- Postmortems --------------------------------------------------------------------------


def _postmortem_dict(incident: Incident, postmortem: Postmortem) -> dict:
    return {
        "incident_id": incident.public_id,
        "body": postmortem.body,
        "body_html": postmortem.body_html,
        "published_at": iso(postmortem.published_at),
        "updated_at": iso(postmortem.updated_at),
    }


def postmortem_get(call: Call, incident_id: str) -> dict:
    incident = find_incident(incident_id)
    postmortem = Postmortem.objects.filter(incident=incident).first()
    if postmortem is None:
        raise not_found("postmortem of incident", incident_id)
    return _postmortem_dict(incident, postmortem)


def postmortem_put(call: Call, incident_id: str) -> dict:
    incident = find_incident(incident_id)
    body = call.str("body", max_length=MAX_BODY)
    if body is None:
        body = call.str("body_draft", required=True, max_length=MAX_BODY)
    postmortem = postmortem_publish(
        incident=incident,
        body=body or "",
        actor=call.actor,
        notify=call.bool("notify_subscribers") or False,
    )
    return _postmortem_dict(incident, postmortem)


# --- Bulk ---------------------------------------------------------------------------------


def _bulk_incidents(call: Call) -> list[Incident]:
    ids = call.list("incident_ids")
    if not ids:
        raise invalid("incident_ids", "is required.")
    found = {i.public_id: i for i in Incident.objects.filter(public_id__in=ids)}
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise invalid("incident_ids", f"unknown incident {', '.join(unknown)}.")
    return [found[i] for i in dict.fromkeys(ids)]


def incidents_bulk_update(call: Call, *, resolve: bool = False) -> list[dict]:
    incidents = _bulk_incidents(call)
    if resolve:
        maintenance = incidents[0].kind == IncidentKind.MAINTENANCE
        status = IncidentStatus.COMPLETED if maintenance else IncidentStatus.RESOLVED
        default = "This incident has been resolved."
        body = call.str("body", max_length=MAX_BODY) or default
    else:
        status = call.str("status", required=True) or ""
        body = call.str("body", max_length=MAX_BODY) or ""
    incidents_post_update_bulk(
        incidents=incidents,
        status=status,
        body=body,
        actor=call.actor,
        deliver_notifications=_deliver(call),
    )
    qs = incidents_for_json(Incident.objects.filter(pk__in=[i.pk for i in incidents]))
    return [incident_dict(i) for i in qs]


def incidents_bulk_resolve(call: Call) -> list[dict]:
    return incidents_bulk_update(call, resolve=True)


# --- Routes -------------------------------------------------------------------------------

# Staff translations of the update's text, by language (statuspage/languages.py).
TRANSLATIONS = {
    "type": "object",
    "description": "The update's text translated by staff, by language (de, fr, es, pt-br, ja, "
    "en): shown to that language's readers and sent to its subscribers. An empty text removes "
    "a translation.",
    "additionalProperties": {"type": "string", "maxLength": MAX_BODY},
}
INCIDENT_FIELDS = {
    "name": {**S, "maxLength": MAX_NAME},
    "status": INCIDENT_STATUS,
    "impact_override": IMPACT,
    "body": {**S, "maxLength": MAX_BODY},
    "component_ids": IDS,
    "components": STATUS_MAP,
    "deliver_notifications": B,
    "scheduled_for": T,
    "scheduled_until": T,
    "scheduled_auto_in_progress": B,
    "scheduled_auto_completed": B,
    "translations": TRANSLATIONS,
}
INCIDENT_LIST = {"paginated": True, "response": "incident", "many": True}
BULK = {"envelope": "bulk", "response": "incident", "many": True, "tag": "Bulk actions"}

ROUTES = [
    # Fixed paths before `incidents/{incident_id}`, which would match them too.
    route(
        "incidents/bulk-resolve",
        "incidents_bulk_resolve",
        post(
            incidents_bulk_resolve,
            ApiScope.INCIDENTS,
            "Resolve several incidents at once (all or nothing)",
            fields={"incident_ids": IDS, "body": S, "deliver_notifications": B},
            required=["incident_ids"],
            **BULK,
        ),
    ),
    route(
        "incidents/bulk-update",
        "incidents_bulk_update",
        post(
            incidents_bulk_update,
            ApiScope.INCIDENTS,
            "Post one update to several incidents (all or nothing)",
            fields={
                "incident_ids": IDS,
                "status": INCIDENT_STATUS,
                "body": S,
                "deliver_notifications": B,
            },
            required=["incident_ids", "status"],
            **BULK,
        ),
    ),
    route(
        "incidents",
        "incidents",
        get(
            incidents_list,
            "List incidents and maintenances, newest first",
            query={"q": "Search in names and update bodies", "limit": "At most 100"},
            **INCIDENT_LIST,
        ),
        post(
            incident_create,
            ApiScope.INCIDENTS,
            "Declare an incident (or schedule a maintenance with scheduled_for/until)",
            envelope="incident",
            fields=INCIDENT_FIELDS,
            required=["name"],
            status=201,
            response="incident",
        ),
        tag="Incidents",
    ),
    *[
        route(
            f"incidents/{suffix}",
            f"incidents_{suffix}",
            get(handler, summary, query=PAGED, **INCIDENT_LIST),
            tag="Incidents",
        )
        for suffix, handler, summary in (
            ("unresolved", incidents_unresolved, "Open incidents"),
            ("upcoming", incidents_upcoming, "Scheduled maintenances yet to start"),
            ("scheduled", incidents_upcoming, "Scheduled maintenances"),
            ("active_maintenance", incidents_active_maintenance, "Maintenances in progress"),
        )
    ],
    route(
        "incidents/{incident_id}",
        "incident",
        get(incident_get, "An incident", response="incident"),
        patch_and_put(
            incident_patch,
            ApiScope.INCIDENTS,
            "Update an incident; a new status, body or component statuses add a timeline update",
            envelope="incident",
            fields=INCIDENT_FIELDS,
            response="incident",
        ),
        delete(incident_remove, ApiScope.INCIDENTS, "Delete an incident"),
        tag="Incidents",
    ),
    route(
        "incidents/{incident_id}/incident_updates/{update_id}",
        "incident_update",
        patch_and_put(
            incident_update_patch,
            ApiScope.INCIDENTS,
            "Correct an incident update (it is not sent again)",
            envelope="incident_update",
            fields={
                "body": {**S, "maxLength": MAX_BODY},
                "deliver_notifications": B,
                "translations": TRANSLATIONS,
            },
            response="incident_update",
        ),
        tag="Incidents",
    ),
    route(
        "incidents/{incident_id}/postmortem",
        "postmortem",
        get(postmortem_get, "The postmortem of an incident", response="postmortem"),
        put(
            postmortem_put,
            ApiScope.INCIDENTS,
            "Publish (or replace) the postmortem of a resolved incident",
            envelope="postmortem",
            fields={
                "body": {**S, "maxLength": MAX_BODY},
                "body_draft": S,
                "notify_subscribers": B,
            },
            response="postmortem",
        ),
        tag="Postmortems",
    ),
]

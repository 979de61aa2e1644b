"""Detection in the v1 API: alert sources, check-ins, the alerts they raise and the incidents
drafted from them.

- `GET/POST alert-sources`, `GET/PATCH/PUT/DELETE alert-sources/{source_id}`,
  `GET alert-sources/{source_id}/intakes` (what came in, what was done);
- `GET/POST checkins`, `GET/PATCH/PUT/DELETE checkins/{checkin_id}`;
- `GET alerts` (`?state=open` for the open ones);
- `GET incident-drafts`, `POST incident-drafts/{draft_id}/publish` and `…/discard`.

Writes need the `components` scope (an alert source or a check-in can change a component's
status); publishing a draft needs `incidents`. The intake URL carries the secret that lets
anyone post alerts, so it is shown only to tokens with the `components` scope; `new_secret:
true` in a PATCH replaces it (the old URL stops working).
"""

from __future__ import annotations

from django.conf import settings

from incidents.documents import iso
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
    route,
)
from statuspage.api.lookups import component_field
from statuspage.api.models import ApiScope
from statuspage.api.schema import COMPONENT_STATUS, OBJECT, PAGED, B, I, S, enum, nullable
from statuspage.metrics.models import (
    Alert,
    AlertSource,
    AlertSourceKind,
    Automation,
    CheckIn,
    IncidentDraft,
)
from statuspage.metrics.services import (
    alert_source_create,
    alert_source_delete,
    alert_source_update,
    checkin_create,
    checkin_delete,
    checkin_update,
    incident_draft_discard,
    incident_draft_publish,
)
from statuspage.models import ComponentStatus


def _intake_url(call: Call, path: str) -> str | None:
    """The URL with its secret, for tokens that may change components anyway."""
    if not call.token.has_scope(ApiScope.COMPONENTS):
        return None
    return f"{settings.SITE_URL}{path}"


def source_dict(source: AlertSource, call: Call) -> dict:
    return {
        "id": source.public_id,
        "name": source.name,
        "kind": source.kind,
        "automation": source.automation,
        "severity_map": source.severity_map,
        "hold_down": source.hold_down,
        "enabled": source.enabled,
        "intake_url": _intake_url(call, source.intake_path),
        "last_intake_at": iso(source.last_intake_at),
        "created_at": iso(source.created_at),
    }


def checkin_dict(checkin: CheckIn, call: Call) -> dict:
    return {
        "id": checkin.public_id,
        "name": checkin.name,
        "period": checkin.period,
        "grace": checkin.grace,
        "component_id": checkin.component.public_id if checkin.component_id else None,
        "component_status": checkin.component_status,
        "automation": checkin.automation,
        "enabled": checkin.enabled,
        "url": _intake_url(call, checkin.intake_path),
        "last_ping_at": iso(checkin.last_ping_at),
        "last_failed_at": iso(checkin.last_failed_at),
        "due_at": iso(checkin.due_at),
        "created_at": iso(checkin.created_at),
    }


def alert_dict(alert: Alert) -> dict:
    return {
        "id": str(alert.pk),
        "name": alert.name,
        "summary": alert.summary or None,
        "severity": alert.severity or None,
        "fingerprint": alert.fingerprint,
        "source_id": alert.source.public_id if alert.source_id else None,
        "checkin_id": alert.checkin.public_id if alert.checkin_id else None,
        "component_id": alert.component.public_id if alert.component_id else None,
        "component_status": alert.component_status or None,
        "unknown_component": alert.unknown_component or None,
        "automation": alert.automation,
        "state": alert.state,
        "started_at": iso(alert.started_at),
        "resolved_at": iso(alert.resolved_at),
        "release_at": iso(alert.release_at),
        "closed_at": iso(alert.closed_at),
        "labels": alert.labels,
    }


def draft_dict(draft: IncidentDraft) -> dict:
    return {
        "id": str(draft.pk),
        "name": draft.name,
        "body": draft.body,
        "impact": draft.impact,
        "components": draft.component_statuses,
        "alert_id": str(draft.alert_id),
        "created_at": iso(draft.created_at),
        "published_at": iso(draft.published_at),
        "incident_id": draft.incident.public_id if draft.incident_id else None,
        "discarded_at": iso(draft.discarded_at),
        "discarded_reason": draft.discarded_reason or None,
    }


def _source(source_id: str) -> AlertSource:
    source = AlertSource.objects.filter(public_id=source_id).first()
    if source is None:
        raise not_found("alert source", source_id)
    return source


def _checkin(checkin_id: str) -> CheckIn:
    checkin = CheckIn.objects.select_related("component").filter(public_id=checkin_id).first()
    if checkin is None:
        raise not_found("check-in", checkin_id)
    return checkin


def _draft(draft_id: str) -> IncidentDraft:
    draft = IncidentDraft.objects.filter(pk=draft_id).first() if draft_id.isdigit() else None
    if draft is None:
        raise not_found("incident draft", draft_id)
    return draft


def _severity_map(call: Call) -> dict | None:
    value = call.data.get("severity_map")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("severity_map", 'must be an object like {"critical": "major_outage"}.')
    return value


# --- Alert sources ----------------------------------------------------------------------------


def sources_list(call: Call) -> Page:
    return paginate(AlertSource.objects.all(), call, lambda s: source_dict(s, call))


def source_post(call: Call) -> dict:
    source = alert_source_create(
        name=call.str("name", required=True, max_length=200) or "",
        kind=call.choice("kind", list(AlertSourceKind.values), required=True) or "",
        severity_map=_severity_map(call),
        hold_down=call.int("hold_down"),
        actor=call.actor,
        **given(
            automation=call.choice("automation", list(Automation.values)),
            enabled=call.bool("enabled"),
        ),
    )
    return source_dict(source, call)


def source_get(call: Call, source_id: str) -> dict:
    return source_dict(_source(source_id), call)


def source_patch(call: Call, source_id: str) -> dict:
    source = alert_source_update(
        source=_source(source_id),
        actor=call.actor,
        name=call.str("name", max_length=200),
        automation=call.choice("automation", list(Automation.values)),
        severity_map=_severity_map(call),
        hold_down=call.int("hold_down"),
        enabled=call.bool("enabled"),
        new_secret=call.bool("new_secret") or False,
    )
    return source_dict(source, call)


def source_remove(call: Call, source_id: str) -> None:
    alert_source_delete(source=_source(source_id), actor=call.actor)


def source_intakes(call: Call, source_id: str) -> Page:
    source = _source(source_id)
    return paginate(
        source.intakes.all(),
        call,
        lambda i: {
            "received_at": iso(i.received_at),
            "status_code": i.status_code,
            "actions": i.actions,
            "body": i.body,
        },
    )


# --- Check-ins --------------------------------------------------------------------------------


def checkins_list(call: Call) -> Page:
    return paginate(
        CheckIn.objects.select_related("component"), call, lambda c: checkin_dict(c, call)
    )


def checkin_post(call: Call) -> dict:
    checkin = checkin_create(
        name=call.str("name", required=True, max_length=200) or "",
        period=call.int("period", minimum=1) or 0,
        actor=call.actor,
        **given(
            grace=call.int("grace"),
            component=component_field(call),
            component_status=call.choice("component_status", list(ComponentStatus.values)),
            automation=call.choice("automation", list(Automation.values)),
            enabled=call.bool("enabled"),
        ),
    )
    return checkin_dict(checkin, call)


def checkin_get(call: Call, checkin_id: str) -> dict:
    return checkin_dict(_checkin(checkin_id), call)


def checkin_patch(call: Call, checkin_id: str) -> dict:
    checkin = checkin_update(
        checkin=_checkin(checkin_id),
        actor=call.actor,
        name=call.str("name", max_length=200),
        period=call.int("period", minimum=1),
        grace=call.int("grace"),
        component=component_field(call),
        component_status=call.choice("component_status", list(ComponentStatus.values)),
        automation=call.choice("automation", list(Automation.values)),
        enabled=call.bool("enabled"),
        new_secret=call.bool("new_secret") or False,
    )
    return checkin_dict(CheckIn.objects.select_related("component").get(pk=checkin.pk), call)


def checkin_remove(call: Call, checkin_id: str) -> None:
    checkin_delete(checkin=_checkin(checkin_id), actor=call.actor)


# --- Alerts and drafts ------------------------------------------------------------------------


def alerts_list(call: Call) -> Page:
    state = call.query.get("state", "")
    if state not in ("", "open"):
        raise invalid("state", "must be 'open' or absent.")
    alerts = Alert.objects.select_related("source", "checkin", "component")
    if state == "open":
        alerts = alerts.filter(closed_at__isnull=True)
    return paginate(alerts, call, alert_dict)


def drafts_list(call: Call) -> Page:
    drafts = IncidentDraft.objects.select_related("incident")
    if call.query.get("state") == "open":
        drafts = drafts.filter(published_at__isnull=True, discarded_at__isnull=True)
    return paginate(drafts, call, draft_dict)


def draft_publish(call: Call, draft_id: str) -> dict:
    """Publish a drafted incident: it is declared as drafted."""
    incident_draft_publish(draft=_draft(draft_id), actor=call.actor)
    return draft_dict(IncidentDraft.objects.select_related("incident").get(pk=draft_id))


def draft_discard(call: Call, draft_id: str) -> dict:
    return draft_dict(incident_draft_discard(draft=_draft(draft_id), actor=call.actor))


SOURCE_FIELDS = {
    "name": S,
    "kind": enum(AlertSourceKind.values),
    "automation": enum(Automation.values),
    "severity_map": {**OBJECT, "additionalProperties": COMPONENT_STATUS},
    "hold_down": {**I, "description": "Seconds a resolved alert is held before the give-back"},
    "enabled": B,
}
CHECKIN_FIELDS = {
    "name": S,
    "period": {**I, "description": "Seconds between two runs of the job"},
    "grace": {**I, "description": "Seconds a run may be late"},
    "component_id": nullable(S),
    "component_status": COMPONENT_STATUS,
    "automation": enum(Automation.values),
    "enabled": B,
}
NEW_SECRET = {"new_secret": {**B, "description": "Replace the URL's secret"}}
STATE_QUERY = {"state": "`open`: only what is not over yet", **PAGED}

ROUTES = [
    route(
        "alert-sources",
        "alert_sources",
        get(sources_list, "List alert sources", paginated=True, query=PAGED, many=True),
        post(
            source_post,
            ApiScope.COMPONENTS,
            "Add an alert source (Alertmanager, Grafana, generic); its intake URL",
            envelope="alert_source",
            fields=SOURCE_FIELDS,
            required=["name", "kind"],
            status=201,
        ),
        tag="Detection",
    ),
    route(
        "alert-sources/{source_id}/intakes",
        "alert_source_intakes",
        get(
            source_intakes,
            "What an alert source received and what was done",
            paginated=True,
            query=PAGED,
            many=True,
        ),
        tag="Detection",
    ),
    route(
        "alert-sources/{source_id}",
        "alert_source",
        get(source_get, "An alert source"),
        patch_and_put(
            source_patch,
            ApiScope.COMPONENTS,
            "Change an alert source (or give it a new intake URL)",
            envelope="alert_source",
            fields={**SOURCE_FIELDS, **NEW_SECRET},
        ),
        delete(source_remove, ApiScope.COMPONENTS, "Delete an alert source and its alerts"),
        tag="Detection",
    ),
    route(
        "checkins",
        "checkins",
        get(checkins_list, "List check-ins", paginated=True, query=PAGED, many=True),
        post(
            checkin_post,
            ApiScope.COMPONENTS,
            "Add a check-in for a scheduled job; its URL",
            envelope="checkin",
            fields=CHECKIN_FIELDS,
            required=["name", "period"],
            status=201,
        ),
        tag="Detection",
    ),
    route(
        "checkins/{checkin_id}",
        "checkin",
        get(checkin_get, "A check-in"),
        patch_and_put(
            checkin_patch,
            ApiScope.COMPONENTS,
            "Change a check-in (or give it a new URL)",
            envelope="checkin",
            fields={**CHECKIN_FIELDS, **NEW_SECRET},
        ),
        delete(checkin_remove, ApiScope.COMPONENTS, "Delete a check-in and its alerts"),
        tag="Detection",
    ),
    route(
        "alerts",
        "alerts",
        get(
            alerts_list,
            "Alerts of alert sources and check-ins",
            paginated=True,
            query=STATE_QUERY,
            many=True,
        ),
        tag="Detection",
    ),
    route(
        "incident-drafts",
        "incident_drafts",
        get(
            drafts_list,
            "Incidents drafted from alerts",
            paginated=True,
            query=STATE_QUERY,
            many=True,
        ),
        tag="Detection",
    ),
    route(
        "incident-drafts/{draft_id}/publish",
        "incident_draft_publish",
        post(draft_publish, ApiScope.INCIDENTS, "Publish a drafted incident (declare it)"),
        tag="Detection",
    ),
    route(
        "incident-drafts/{draft_id}/discard",
        "incident_draft_discard",
        post(draft_discard, ApiScope.INCIDENTS, "Discard a drafted incident"),
        tag="Detection",
    ),
]

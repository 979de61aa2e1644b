"""Writes to incidents and maintenance: one function per action, each one transaction.

The console, the admin, the API and Celery beat call these and nothing else writes incident,
update or component status rows. Each function, inside its transaction:
- validates everything first, so a refused action writes nothing;
- writes the incident/update rows and the component status changes (as history);
- appends to the audit trail;
- records the update as an event (`statuspage.hooks`), last, once everything it changed is
  written: the notifier writes its outbox rows then, one per recipient;
and after commit, once per transaction, the deliveries are enqueued and the snapshot is
republished (the after-commit stages of `statuspage.hooks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from incidents.models import (
    CLOSED_STATUSES,
    INCIDENT_STATUSES,
    MAINTENANCE_STATUSES,
    Impact,
    Incident,
    IncidentKind,
    IncidentStatus,
    IncidentTemplate,
    IncidentUpdate,
    Postmortem,
    UpdateTranslation,
)
from statuspage import hooks, languages
from statuspage.markdown import render_markdown
from statuspage.models import Component, ComponentStatus, ComponentStatusChange
from statuspage.services import (
    MAX_BULK_ITEMS,
    Actor,
    audit_record,
    component_set_status,
    validate_component_status,
)
from statuspage.status import impact_for_component_statuses, impact_raised
from statuspage.text import clean_text, one_line

MAX_NAME = 255
MAX_BODY = 25000

ComponentStatuses = Mapping[Component, str]
Translations = Mapping[str, str]


def _clean_common(*, name: str | None = None, body: str | None = None) -> tuple[str, str]:
    """The name (one line) and body (Markdown) to store, cleaned by `clean_text` and checked
    (a name is required; both have a length limit). None stays None: not given."""
    name = clean_text(name, field="name", single_line=True)
    body = clean_text(body, field="body")
    errors: dict[str, str] = {}
    if name is not None:
        if not name.strip():
            errors["name"] = "The name is required."
        elif len(name) > MAX_NAME:
            errors["name"] = f"The name is {len(name)} characters long; at most {MAX_NAME}."
    if body is not None and len(body) > MAX_BODY:
        errors["body"] = f"The message is {len(body)} characters long; at most {MAX_BODY}."
    if errors:
        raise ValidationError(errors)
    return name, body


def _validate_impact(impact: str) -> None:
    if impact not in Impact.values:
        raise ValidationError(
            {"impact": f"'{impact}' is not an impact; use one of " + ", ".join(Impact.values)}
        )


def _validate_status(kind: str, status: str) -> None:
    allowed = MAINTENANCE_STATUSES if kind == IncidentKind.MAINTENANCE else INCIDENT_STATUSES
    if status not in allowed:
        raise ValidationError(
            {
                "status": f"'{status}' is not a status of {'a maintenance' if kind == IncidentKind.MAINTENANCE else 'an incident'}; use one of "
                + ", ".join(allowed)
            }
        )


def _validate_component_statuses(component_statuses: ComponentStatuses | None) -> None:
    for component, status in (component_statuses or {}).items():
        if not isinstance(component, Component) or component.pk is None:
            raise ValidationError({"components": f"Unknown component: {component!r}."})
        try:
            validate_component_status(status)
        except ValidationError as exc:
            raise ValidationError(
                {"components": f"{component.name}: '{status}' is not a component status."}
            ) from exc


def _apply_component_statuses(
    *,
    incident: Incident,
    update: IncidentUpdate,
    component_statuses: ComponentStatuses,
    actor: Actor,
    at: datetime,
) -> list[ComponentStatusChange]:
    changes = []
    for component, status in component_statuses.items():
        incident.components.add(component)
        change = component_set_status(
            component=component,
            status=status,
            actor=actor,
            reason=f"{one_line(incident.name)}: {update.get_status_display()}",
            incident=incident,
            incident_update=update,
            at=at,
            audit=False,
        )
        if change is not None:
            changes.append(change)
    return changes


def _statuses_before_maintenance(incident: Incident, components: list[Component]) -> dict[int, str]:
    """The status each component (by pk) had before this maintenance put it under
    maintenance: its first such change of this incident, all read in one query."""
    first: dict[int, str] = {}
    changes = (
        ComponentStatusChange.objects.filter(
            incident=incident,
            component__in=components,
            new_status=ComponentStatus.UNDER_MAINTENANCE,
        )
        .order_by("created_at", "id")
        .values_list("component_id", "old_status")
    )
    for component_id, old_status in changes:
        first.setdefault(component_id, old_status)
    return {
        c.pk: ComponentStatus.OPERATIONAL
        if first.get(c.pk) in (None, ComponentStatus.UNDER_MAINTENANCE)
        else first[c.pk]
        for c in components
    }


def _default_component_statuses(incident: Incident, status: str) -> dict[Component, str]:
    """What the affected components become when nothing is said: resolving an incident makes
    them operational; a maintenance puts them under maintenance and gives them back after."""
    components = list(incident.components.select_related("service", "region"))
    if status == IncidentStatus.RESOLVED:
        return {c: ComponentStatus.OPERATIONAL for c in components}
    if status == IncidentStatus.IN_PROGRESS:
        return {c: ComponentStatus.UNDER_MAINTENANCE for c in components}
    if status == IncidentStatus.COMPLETED:
        held = [c for c in components if c.status == ComponentStatus.UNDER_MAINTENANCE]
        before = _statuses_before_maintenance(incident, held)
        return {c: before[c.pk] for c in held}
    return {}


def _clean_translations(translations: Translations | None) -> dict[str, str] | None:
    """Staff translations of an update's text, language → Markdown, cleaned like the text
    itself. The language must be one of the page's (`statuspage.languages`); an empty text
    means "no translation in this language" (on edit: remove it)."""
    if translations is None:
        return None
    if not isinstance(translations, Mapping):
        raise ValidationError({"translations": "Give the translations as language → text."})
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for code, text in translations.items():
        language = languages.language_normalize(code) if isinstance(code, str) else None
        if language is None or language != str(code).lower().replace("_", "-"):
            known = ", ".join(languages.CODES)
            errors["translations"] = f"'{code}' is not one of the page's languages ({known})."
            continue
        if not isinstance(text, str):
            errors[f"translations.{language}"] = "The translation must be text."
            continue
        text = clean_text(text, field=f"translations.{language}")
        if len(text) > MAX_BODY:
            errors[f"translations.{language}"] = (
                f"The translation is {len(text)} characters long; at most {MAX_BODY}."
            )
            continue
        cleaned[language] = text
    if errors:
        raise ValidationError(errors)
    return cleaned


def _set_translations(update: IncidentUpdate, translations: dict[str, str] | None) -> None:
    """Write the cleaned `translations` of an update: a text replaces the language's
    translation, an empty one removes it, a language not named is left as it is."""
    if not translations:
        return
    for language, text in translations.items():
        if not text.strip():
            UpdateTranslation.objects.filter(update=update, language=language).delete()
            continue
        UpdateTranslation.objects.update_or_create(
            update=update,
            language=language,
            defaults={"body": text, "body_html": render_markdown(text)},
        )


def _create_update(
    *,
    incident: Incident,
    status: str,
    body: str,
    actor: Actor,
    at: datetime,
    deliver_notifications: bool,
    component_statuses: ComponentStatuses,
    translations: dict[str, str] | None = None,
) -> IncidentUpdate:
    now = timezone.now()
    update = IncidentUpdate.objects.create(
        incident=incident,
        status=status,
        body=body,
        body_html=render_markdown(body),
        display_at=at,
        created_at=min(now, at),
        updated_at=now,
        deliver_notifications=deliver_notifications,
        author=actor.user if getattr(actor.user, "pk", None) else None,
        author_name=actor.name,
    )
    _set_translations(update, translations)
    _apply_component_statuses(
        incident=incident,
        update=update,
        component_statuses=component_statuses,
        actor=actor,
        at=at,
    )
    return update


def _validate_window(scheduled_for: datetime | None, scheduled_until: datetime | None) -> None:
    if scheduled_for is None or scheduled_until is None:
        raise ValidationError({"scheduled_for": "A maintenance needs a start and an end."})
    if scheduled_until <= scheduled_for:
        raise ValidationError({"scheduled_until": "The end of the window must be after its start."})


def _updated(update: IncidentUpdate) -> None:
    """The update and everything it changed are written: it is an event (the notifier writes
    its outbox rows now, in this transaction, stamped with the page's status as it is now),
    and the public page changed."""
    hooks.event_record(hooks.INCIDENT_UPDATE, update)
    hooks.public_changed()


@transaction.atomic
def incident_declare(
    *,
    name: str,
    body: str,
    actor: Actor,
    impact: str | None = None,
    status: str = IncidentStatus.INVESTIGATING,
    component_statuses: ComponentStatuses | None = None,
    components: Iterable[Component] = (),
    deliver_notifications: bool = True,
    display_at: datetime | None = None,
    translations: Translations | None = None,
) -> Incident:
    """Declare an incident with its first update and the component statuses it sets.

    `components` are affected components whose status is left as it is. Without an `impact`,
    the incident takes the one of the worst component status it sets (the rule of
    `statuspage.status.impact_for_component_statuses`, as the console and the v1 API do), so
    its badge never says less than its components.
    """
    name, body = _clean_common(name=name, body=body)
    cleaned_translations = _clean_translations(translations)
    _validate_component_statuses(component_statuses)
    if impact is None:
        impact = impact_for_component_statuses((component_statuses or {}).values())
    _validate_impact(impact)
    _validate_status(IncidentKind.INCIDENT, status)
    at = display_at or timezone.now()
    incident = Incident.objects.create(
        kind=IncidentKind.INCIDENT,
        name=name,
        status=status,
        impact=impact,
        created_at=at,
        updated_at=at,
        started_at=at,
        monitoring_at=at if status == IncidentStatus.MONITORING else None,
        resolved_at=at if status == IncidentStatus.RESOLVED else None,
        created_by=actor.user if getattr(actor.user, "pk", None) else None,
    )
    incident.components.add(*components)
    update = _create_update(
        incident=incident,
        status=status,
        body=body,
        actor=actor,
        at=at,
        deliver_notifications=deliver_notifications,
        component_statuses=component_statuses or {},
        translations=cleaned_translations,
    )
    audit_record(actor=actor, action="incident.declare", obj=incident, summary=incident.name)
    _updated(update)
    return incident


@transaction.atomic
def incident_post_update(
    *,
    incident: Incident,
    status: str,
    body: str,
    actor: Actor,
    component_statuses: ComponentStatuses | None = None,
    impact: str | None = None,
    deliver_notifications: bool = True,
    display_at: datetime | None = None,
    translations: Translations | None = None,
) -> IncidentUpdate:
    """Add an update to an incident's (or maintenance's) timeline.

    When `component_statuses` is None the affected components follow the status: operational
    on resolve, under maintenance while a maintenance is in progress, back to what they were
    when it completes. Pass `{}` to leave them alone.

    With no `impact`, an incident's impact is raised when the component statuses set are
    worse than it says, never lowered (`statuspage.status.impact_raised`): the badge never
    says less than the matrix, whichever door the update came through.
    """
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.status in CLOSED_STATUSES:
        raise ValidationError(
            {"status": f"'{incident.name}' is {incident.status}: it takes no more updates."}
        )
    _name, body = _clean_common(body=body)
    cleaned_translations = _clean_translations(translations)
    _validate_status(incident.kind, status)
    if impact is not None:
        _validate_impact(impact)
    _validate_component_statuses(component_statuses)
    at = display_at or timezone.now()
    if component_statuses is None:
        component_statuses = _default_component_statuses(incident, status)
    update = _create_update(
        incident=incident,
        status=status,
        body=body,
        actor=actor,
        at=at,
        deliver_notifications=deliver_notifications,
        component_statuses=component_statuses,
        translations=cleaned_translations,
    )
    incident.status = status
    incident.updated_at = max(incident.updated_at, at)
    incident.sequence += 1
    if impact is not None:
        incident.impact = impact
    elif incident.kind == IncidentKind.INCIDENT:
        incident.impact = impact_raised(incident.impact, component_statuses.values())
    if status == IncidentStatus.MONITORING and incident.monitoring_at is None:
        incident.monitoring_at = at
    if status == IncidentStatus.IN_PROGRESS and incident.started_at is None:
        incident.started_at = at
    if status in (IncidentStatus.RESOLVED, IncidentStatus.COMPLETED):
        incident.resolved_at = at
    incident.save()
    audit_record(
        actor=actor,
        action="incident.update",
        obj=incident,
        summary=f"{incident.name}: {status}",
    )
    _updated(update)
    return update


def incident_resolve(
    *,
    incident: Incident,
    actor: Actor,
    body: str = "This incident has been resolved.",
    component_statuses: ComponentStatuses | None = None,
    deliver_notifications: bool = True,
    display_at: datetime | None = None,
) -> IncidentUpdate:
    """Resolve an incident; its affected components become operational unless told otherwise."""
    return incident_post_update(
        incident=incident,
        status=IncidentStatus.RESOLVED,
        body=body,
        actor=actor,
        component_statuses=component_statuses,
        deliver_notifications=deliver_notifications,
        display_at=display_at,
    )


@transaction.atomic
def incident_edit(
    *,
    incident: Incident,
    actor: Actor,
    name: str | None = None,
    impact: str | None = None,
    components: Iterable[Component] | None = None,
    scheduled_for: datetime | None = None,
    scheduled_until: datetime | None = None,
) -> Incident:
    """Change an incident's name, impact or affected components, or a maintenance's window
    (a reschedule: either end, or both), without a timeline update."""
    name, _body = _clean_common(name=name)
    if impact is not None:
        _validate_impact(impact)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if scheduled_for is not None or scheduled_until is not None:
        if incident.kind != IncidentKind.MAINTENANCE:
            raise ValidationError({"scheduled_for": "Only a maintenance has a window."})
        if incident.status in CLOSED_STATUSES:
            raise ValidationError(
                {"scheduled_for": f"'{incident.name}' is {incident.status}: it is not moved."}
            )
        incident.scheduled_for = scheduled_for or incident.scheduled_for
        incident.scheduled_until = scheduled_until or incident.scheduled_until
        _validate_window(incident.scheduled_for, incident.scheduled_until)
    if name is not None:
        incident.name = name
    if impact is not None:
        incident.impact = impact
    incident.updated_at = timezone.now()
    incident.sequence += 1
    incident.save()
    if components is not None:
        incident.components.set(list(components))
    audit_record(actor=actor, action="incident.edit", obj=incident, summary=incident.name)
    hooks.public_changed()
    return incident


@transaction.atomic
def incident_update_edit(
    *,
    update: IncidentUpdate,
    actor: Actor,
    body: str | None = None,
    deliver_notifications: bool | None = None,
    translations: Translations | None = None,
) -> IncidentUpdate:
    """Correct the text of a timeline entry (a typo), or add, change or remove (an empty
    text) its translations; it is not sent again."""
    _name, body = _clean_common(body=body)
    cleaned_translations = _clean_translations(translations)
    update = IncidentUpdate.objects.select_for_update().get(pk=update.pk)
    _set_translations(update, cleaned_translations)
    if body is not None:
        update.body = body
        update.body_html = render_markdown(body)
    if deliver_notifications is not None:
        update.deliver_notifications = deliver_notifications
    update.updated_at = timezone.now()
    update.save()
    Incident.objects.filter(pk=update.incident_id).update(sequence=F("sequence") + 1)
    audit_record(actor=actor, action="incident_update.edit", obj=update, summary=update.body[:200])
    hooks.public_changed()
    return update


@transaction.atomic
def incident_delete(*, incident: Incident, actor: Actor) -> None:
    """Delete an incident (e.g. declared by mistake). Component history stays."""
    audit_record(actor=actor, action="incident.delete", obj=incident, summary=incident.name)
    incident.delete()
    hooks.public_changed()


@transaction.atomic
def maintenance_schedule(
    *,
    name: str,
    body: str,
    actor: Actor,
    scheduled_for: datetime,
    scheduled_until: datetime,
    components: Iterable[Component] = (),
    auto_in_progress: bool = True,
    auto_completed: bool = True,
    deliver_notifications: bool = True,
) -> Incident:
    """Schedule maintenance. Beat moves it to in progress at the start (components go under
    maintenance) and to completed at the end (components go back) when auto_* are set."""
    name, body = _clean_common(name=name, body=body)
    _validate_window(scheduled_for, scheduled_until)
    now = timezone.now()
    incident = Incident.objects.create(
        kind=IncidentKind.MAINTENANCE,
        name=name,
        status=IncidentStatus.SCHEDULED,
        impact=Impact.MAINTENANCE,
        created_at=now,
        updated_at=now,
        scheduled_for=scheduled_for,
        scheduled_until=scheduled_until,
        scheduled_auto_in_progress=auto_in_progress,
        scheduled_auto_completed=auto_completed,
        created_by=actor.user if getattr(actor.user, "pk", None) else None,
    )
    incident.components.add(*components)
    update = _create_update(
        incident=incident,
        status=IncidentStatus.SCHEDULED,
        body=body,
        actor=actor,
        at=now,
        deliver_notifications=deliver_notifications,
        component_statuses={},
    )
    audit_record(actor=actor, action="maintenance.schedule", obj=incident, summary=incident.name)
    _updated(update)
    return incident


def maintenance_start(
    *, incident: Incident, actor: Actor, body: str = "Scheduled maintenance is in progress."
) -> IncidentUpdate:
    return incident_post_update(
        incident=incident, status=IncidentStatus.IN_PROGRESS, body=body, actor=actor
    )


def maintenance_complete(
    *, incident: Incident, actor: Actor, body: str = "Scheduled maintenance has been completed."
) -> IncidentUpdate:
    return incident_post_update(
        incident=incident, status=IncidentStatus.COMPLETED, body=body, actor=actor
    )


@transaction.atomic
def maintenance_cancel(
    *,
    incident: Incident,
    actor: Actor,
    body: str = "This maintenance has been cancelled.",
    deliver_notifications: bool = True,
) -> IncidentUpdate:
    """Call off a maintenance, before or during its window. It is closed as a completed one
    is (its components go back to their status before it, subscribers are told) and marked
    cancelled, so the calendars keep it as a cancelled event (which a calendar removes)
    instead of dropping it, as a deletion would, and leaving it in every calendar."""
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    if locked.kind != IncidentKind.MAINTENANCE:
        raise ValidationError({"incident": "Only a maintenance can be cancelled."})
    if locked.status in CLOSED_STATUSES:
        raise ValidationError(
            {"status": f"'{locked.name}' is {locked.status}: it can no longer be cancelled."}
        )
    # Before the update, so the update's event (and the notice built from it) sees it.
    Incident.objects.filter(pk=locked.pk).update(cancelled_at=timezone.now())
    update = incident_post_update(
        incident=locked,
        status=IncidentStatus.COMPLETED,
        body=body,
        actor=actor,
        deliver_notifications=deliver_notifications,
    )
    audit_record(actor=actor, action="maintenance.cancel", obj=locked, summary=locked.name)
    return update


def maintenance_advance_due(*, now: datetime | None = None) -> list[IncidentUpdate]:
    """Start maintenances whose window has begun and complete those whose window has ended.

    Called by beat every 30 s. Each move is its own transaction, so one failure does not
    hold back the others; a maintenance moved meanwhile by a human is left alone.
    """
    now = now or timezone.now()
    actor = Actor.system("maintenance schedule")
    done: list[IncidentUpdate] = []
    due_start = Incident.objects.filter(
        kind=IncidentKind.MAINTENANCE,
        status=IncidentStatus.SCHEDULED,
        scheduled_auto_in_progress=True,
        scheduled_for__lte=now,
        scheduled_until__gt=now,
    )
    for incident in due_start:
        done.append(maintenance_start(incident=incident, actor=actor))
    due_end = Incident.objects.filter(
        kind=IncidentKind.MAINTENANCE,
        status__in=[IncidentStatus.SCHEDULED, IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING],
        scheduled_auto_completed=True,
        scheduled_until__lte=now,
    )
    for incident in due_end:
        done.append(maintenance_complete(incident=incident, actor=actor))
    return done


@transaction.atomic
def postmortem_publish(
    *, incident: Incident, body: str, actor: Actor, notify: bool = False
) -> Postmortem:
    """Attach (or replace) the postmortem of a resolved incident and publish it.

    With `notify`, a "postmortem" entry is added to the timeline and sent to subscribers and
    channels like any update (once per publication the commander asks to announce)."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.kind != IncidentKind.INCIDENT:
        raise ValidationError({"incident": "Only incidents have postmortems."})
    if incident.status not in (IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM):
        raise ValidationError(
            {"incident": "A postmortem is published once the incident is resolved."}
        )
    _name, body = _clean_common(body=body)
    if not body.strip():
        raise ValidationError({"body": "The postmortem is empty."})
    now = timezone.now()
    postmortem, _ = Postmortem.objects.update_or_create(
        incident=incident,
        defaults={
            "body": body,
            "body_html": render_markdown(body),
            "published_at": now,
            "updated_at": now,
            "author": actor.user if getattr(actor.user, "pk", None) else None,
        },
    )
    incident.status = IncidentStatus.POSTMORTEM
    incident.updated_at = now
    incident.sequence += 1
    incident.save(update_fields=["status", "updated_at", "sequence"])
    audit_record(actor=actor, action="postmortem.publish", obj=incident, summary=incident.name)
    if notify:
        update = _create_update(
            incident=incident,
            status=IncidentStatus.POSTMORTEM,
            body=(
                "We have published a postmortem of this incident: what happened, why, and "
                f"what we are changing. Read it at {settings.SITE_URL}"
                f"{incident.get_absolute_url()}#postmortem-title"
            ),
            actor=actor,
            at=now,
            deliver_notifications=True,
            component_statuses={},
        )
        _updated(update)
    else:
        hooks.public_changed()
    return postmortem


def _validate_template(template: IncidentTemplate) -> None:
    """A template must be usable as it stands: its text is clean (the name and the title are
    one line each), the status and impact it suggests are ones the console accepts for its
    kind, and so is the component status."""
    template.name, template.body = _clean_common(name=template.name, body=template.body)
    template.title = clean_text(template.title, field="title", single_line=True)
    if template.kind not in IncidentKind.values:
        raise ValidationError(
            {
                "kind": f"'{template.kind}' is not a kind; use one of "
                + ", ".join(IncidentKind.values)
            }
        )
    _validate_status(template.kind, template.status)
    _validate_impact(template.impact)
    if template.component_status:
        try:
            validate_component_status(template.component_status)
        except ValidationError as exc:
            raise ValidationError({"component_status": exc.message_dict["status"]}) from exc
    template.full_clean()


@transaction.atomic
def template_create(
    *,
    name: str,
    body: str,
    actor: Actor,
    kind: str = IncidentKind.INCIDENT,
    title: str = "",
    status: str = IncidentStatus.INVESTIGATING,
    impact: str = Impact.MINOR,
    component_status: str = "",
) -> IncidentTemplate:
    """Prepared text a commander starts an incident (or a maintenance) from."""
    template = IncidentTemplate(
        name=name,
        body=body,
        kind=kind,
        title=title,
        status=status,
        impact=impact,
        component_status=component_status,
    )
    _validate_template(template)
    template.save()
    audit_record(actor=actor, action="template.create", obj=template, summary=template.name)
    return template


@transaction.atomic
def template_update(
    *,
    template: IncidentTemplate,
    actor: Actor,
    name: str | None = None,
    body: str | None = None,
    kind: str | None = None,
    title: str | None = None,
    status: str | None = None,
    impact: str | None = None,
    component_status: str | None = None,
) -> IncidentTemplate:
    """Change a template; incidents declared from it keep the text they were declared with."""
    template = IncidentTemplate.objects.select_for_update().get(pk=template.pk)
    for field, value in (
        ("name", name),
        ("body", body),
        ("kind", kind),
        ("title", title),
        ("status", status),
        ("impact", impact),
        ("component_status", component_status),
    ):
        if value is not None:
            setattr(template, field, value)
    _validate_template(template)
    template.save()
    audit_record(actor=actor, action="template.update", obj=template, summary=template.name)
    return template


@transaction.atomic
def template_delete(*, template: IncidentTemplate, actor: Actor) -> None:
    """Delete a template (nothing points at it: incidents copy its text)."""
    audit_record(actor=actor, action="template.delete", obj=template, summary=template.name)
    template.delete()


# --- Compound writes (the v1 API's incident POST and PATCH, bulk updates) -----------------
# Each is one transaction over the functions above: a refused part writes nothing.


@transaction.atomic
def maintenance_create(
    *,
    name: str,
    body: str,
    actor: Actor,
    scheduled_for: datetime,
    scheduled_until: datetime,
    status: str = IncidentStatus.SCHEDULED,
    components: Iterable[Component] = (),
    component_statuses: ComponentStatuses | None = None,
    auto_in_progress: bool = True,
    auto_completed: bool = True,
    deliver_notifications: bool = True,
) -> Incident:
    """Schedule a maintenance and, when `status` is not `scheduled` (a window reported once
    it has begun), move it there at once with `component_statuses` (None: the affected
    components follow the status). The components given statuses are affected too."""
    _validate_status(IncidentKind.MAINTENANCE, status)
    _validate_component_statuses(component_statuses)
    incident = maintenance_schedule(
        name=name,
        body=body,
        actor=actor,
        scheduled_for=scheduled_for,
        scheduled_until=scheduled_until,
        components=list(dict.fromkeys([*components, *(component_statuses or {})])),
        auto_in_progress=auto_in_progress,
        auto_completed=auto_completed,
        deliver_notifications=deliver_notifications,
    )
    if status != IncidentStatus.SCHEDULED:
        incident_post_update(
            incident=incident,
            status=status,
            body=body,
            actor=actor,
            component_statuses=component_statuses,
            deliver_notifications=deliver_notifications,
        )
    return incident


@transaction.atomic
def incident_change(
    *,
    incident: Incident,
    actor: Actor,
    name: str | None = None,
    impact: str | None = None,
    components: Iterable[Component] | None = None,
    status: str | None = None,
    body: str | None = None,
    component_statuses: ComponentStatuses | None = None,
    deliver_notifications: bool = True,
    scheduled_for: datetime | None = None,
    scheduled_until: datetime | None = None,
    translations: Translations | None = None,
) -> Incident:
    """Edit an incident (name, impact, affected components, a maintenance's window:
    `incident_edit`) and, when a status, a body or component statuses are given, add a
    timeline update with them (`incident_post_update`; the status stays when not given).
    `components` replaces the affected components; those given statuses are affected too."""
    window = scheduled_for is not None or scheduled_until is not None
    if name is not None or impact is not None or components is not None or window:
        if components is not None:
            components = list(dict.fromkeys([*components, *(component_statuses or {})]))
        incident = incident_edit(
            incident=incident,
            actor=actor,
            name=name,
            impact=impact,
            components=components,
            scheduled_for=scheduled_for,
            scheduled_until=scheduled_until,
        )
    if status is not None or body is not None or component_statuses:
        incident_post_update(
            incident=incident,
            status=status or incident.status,
            body=body or "",
            actor=actor,
            component_statuses=component_statuses or None,
            deliver_notifications=deliver_notifications,
            translations=translations,
        )
    return incident


@transaction.atomic
def incidents_post_update_bulk(
    *,
    incidents: list[Incident],
    status: str,
    body: str,
    actor: Actor,
    deliver_notifications: bool = True,
) -> list[IncidentUpdate]:
    """Post the same update to several incidents (e.g. resolve them all), all or nothing.

    Every incident is checked before anything is written, so a closed one among them refuses
    the whole call with its id named.
    """
    if not incidents:
        raise ValidationError({"incident_ids": "No incident given."})
    if len(incidents) > MAX_BULK_ITEMS:
        raise ValidationError({"incident_ids": f"At most {MAX_BULK_ITEMS} incidents at once."})
    closed = [i.public_id for i in incidents if i.status in CLOSED_STATUSES]
    if closed:
        raise ValidationError(
            {"incident_ids": f"Already closed, takes no more updates: {', '.join(closed)}"}
        )
    kinds = {i.kind for i in incidents}
    if len(kinds) > 1:
        raise ValidationError(
            {"incident_ids": "Incidents and maintenances cannot take the same update."}
        )
    updates = [
        incident_post_update(
            incident=incident,
            status=status,
            body=body,
            actor=actor,
            deliver_notifications=deliver_notifications,
        )
        for incident in incidents
    ]
    audit_record(
        actor=actor,
        action="incident.bulk_update",
        summary=f"{len(incidents)} incidents → {status}",
        data={"incidents": [i.public_id for i in incidents]},
    )
    return updates

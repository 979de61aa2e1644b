"""Writes to the catalogue. Each public function is one transaction (or joins the caller's).

`component_set_status` is the only code that changes a component's status: incidents,
maintenance, the console, the admin, the API and beat all come through it, so every change
is in the history, reaches the notifier (an event of `statuspage.hooks`) and the snapshot is
republished after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.text import slugify

from statuspage import hooks
from statuspage.models import (
    AuditEntry,
    Component,
    ComponentStatus,
    ComponentStatusChange,
    Region,
    Service,
    ServiceGroup,
)
from statuspage.text import clean_text

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff user, an API token (by name), or the system (beat)."""

    name: str
    user: AbstractBaseUser | None = None

    @classmethod
    def for_user(cls, user: AbstractBaseUser) -> Actor:
        return cls(name=user.get_username(), user=user)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(name=name)


def audit_record(
    *,
    actor: Actor,
    action: str,
    obj: Any = None,
    summary: str = "",
    data: dict | None = None,
) -> AuditEntry:
    """Append one entry to the audit trail (inside the caller's transaction)."""
    return AuditEntry.objects.create(
        user=actor.user if getattr(actor.user, "pk", None) else None,
        actor_name=actor.name,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(getattr(obj, "public_id", None) or getattr(obj, "pk", "") or ""),
        summary=summary,
        data=data or {},
    )


def validate_component_status(status: str) -> str:
    if status not in ComponentStatus.values:
        raise ValidationError(
            {
                "status": f"'{status}' is not a component status; use one of "
                + ", ".join(ComponentStatus.values)
            }
        )
    return status


@transaction.atomic
def component_set_status(
    *,
    component: Component,
    status: str,
    actor: Actor,
    reason: str = "",
    incident: Model | None = None,
    incident_update: Model | None = None,
    at: datetime | None = None,
    audit: bool = True,
) -> ComponentStatusChange | None:
    """Set a component's status and record the change. Returns None if nothing changed.

    `incident` and `incident_update` (an `incidents.Incident` and `IncidentUpdate`) say which
    incident made the change; they are kept with it in the history."""
    validate_component_status(status)
    reason = clean_text(reason, field="reason")
    component = (
        Component.objects.select_for_update(of=("self",))
        .select_related("service", "region")
        .get(pk=component.pk)
    )
    if component.status == status:
        return None
    at = at or timezone.now()
    change = ComponentStatusChange.objects.create(
        component=component,
        old_status=component.status,
        new_status=status,
        created_at=at,
        user=actor.user if getattr(actor.user, "pk", None) else None,
        actor_name=actor.name,
        reason=reason,
        incident=incident,
        incident_update=incident_update,
    )
    component.status = status
    component.save(update_fields=["status", "updated_at"])
    if audit:
        audit_record(
            actor=actor,
            action="component.set_status",
            obj=component,
            summary=f"{component.name}: {change.old_status} → {status}",
            data={"reason": reason},
        )
    hooks.public_changed()
    hooks.event_record(hooks.COMPONENT_CHANGE, change)
    return change


@transaction.atomic
def region_create(*, slug: str, name: str, actor: Actor, position: int = 0) -> Region:
    name = clean_text(name, field="name", single_line=True)
    region = Region(slug=slug, name=name, position=position)
    region.full_clean()
    region.save()
    audit_record(actor=actor, action="region.create", obj=region, summary=f"{slug}: {name}")
    hooks.public_changed()
    return region


@transaction.atomic
def service_create(
    *,
    name: str,
    actor: Actor,
    regions: list[Region] | None = None,
    description: str = "",
    position: int = 0,
    group: ServiceGroup | None = None,
    slug: str = "",
) -> Service:
    """Create a service and its components: one per region given, or one global component."""
    name = clean_text(name, field="name", single_line=True)
    description = clean_text(description, field="description")
    service = Service(
        name=name,
        slug=slug or slugify(name)[:100],
        description=description,
        position=position,
        group=group,
    )
    service.full_clean()
    service.save()
    for region in regions or [None]:
        Component.objects.create(service=service, region=region, position=position)
    audit_record(actor=actor, action="service.create", obj=service, summary=name)
    hooks.public_changed()
    return service


@transaction.atomic
def component_create(
    *,
    service: Service,
    region: Region | None,
    actor: Actor,
    status: str = ComponentStatus.OPERATIONAL,
    description: str = "",
) -> Component:
    """A service offered in one more region (or globally). It starts operational; another
    `status` is then set through component_set_status, so it is in the history (uptime is
    computed from it) and told like any change."""
    validate_component_status(status)
    description = clean_text(description, field="description")
    component = Component(service=service, region=region, description=description)
    component.full_clean()
    component.save()
    audit_record(actor=actor, action="component.create", obj=component, summary=component.name)
    if status != ComponentStatus.OPERATIONAL:
        component_set_status(component=component, status=status, actor=actor)
    hooks.public_changed()
    return component


class _Unset:
    """Marks an argument that was not given (None is a value for some fields)."""


UNSET: Any = _Unset()


@transaction.atomic
def component_update(
    *,
    component: Component,
    actor: Actor,
    description: str | None = None,
    position: int | None = None,
    showcase: bool | None = None,
    only_show_if_degraded: bool | None = None,
    start_date: Any = UNSET,
) -> Component:
    """Change a component's display fields (not its status: that is component_set_status)."""
    description = clean_text(description, field="description")
    component = Component.objects.select_for_update(of=("self",)).get(pk=component.pk)
    for field, value in (
        ("description", description),
        ("position", position),
        ("showcase", showcase),
        ("only_show_if_degraded", only_show_if_degraded),
    ):
        if value is not None:
            setattr(component, field, value)
    if start_date is not UNSET:
        component.start_date = start_date
    component.full_clean()
    component.save()
    audit_record(actor=actor, action="component.update", obj=component, summary=component.name)
    hooks.public_changed()
    return component


@transaction.atomic
def component_delete(*, component: Component, actor: Actor) -> None:
    """Delete a component and its status history; a service left without components goes too."""
    service = component.service
    audit_record(actor=actor, action="component.delete", obj=component, summary=component.name)
    component.delete()
    if not service.components.exists():
        audit_record(actor=actor, action="service.delete", obj=service, summary=service.name)
        service.delete()
    hooks.public_changed()


@transaction.atomic
def service_update(
    *,
    service: Service,
    actor: Actor,
    name: str | None = None,
    description: str | None = None,
    position: int | None = None,
    slug: str | None = None,
    group: ServiceGroup | None = UNSET,
) -> Service:
    """Rename or describe a service (its components' names follow), or move it to another
    group heading (`group=None`: no group)."""
    name = clean_text(name, field="name", single_line=True)
    description = clean_text(description, field="description")
    service = Service.objects.select_for_update().get(pk=service.pk)
    if name is not None:
        service.name = name
    if description is not None:
        service.description = description
    if position is not None:
        service.position = position
    if slug is not None:
        service.slug = slug
    if group is not UNSET:
        service.group = group
    service.full_clean()
    service.save()
    audit_record(actor=actor, action="service.update", obj=service, summary=service.name)
    hooks.public_changed()
    return service


@transaction.atomic
def service_delete(*, service: Service, actor: Actor) -> None:
    """Delete a service with its components and their status history."""
    audit_record(actor=actor, action="service.delete", obj=service, summary=service.name)
    service.delete()
    hooks.public_changed()


@transaction.atomic
def region_update(
    *,
    region: Region,
    actor: Actor,
    slug: str | None = None,
    name: str | None = None,
    position: int | None = None,
) -> Region:
    """Rename a region or move it on the page (its components follow: they point at it)."""
    name = clean_text(name, field="name", single_line=True)
    region = Region.objects.select_for_update().get(pk=region.pk)
    if slug is not None:
        region.slug = slug
    if name is not None:
        region.name = name
    if position is not None:
        region.position = position
    region.full_clean()
    region.save()
    audit_record(
        actor=actor, action="region.update", obj=region, summary=f"{region.slug}: {region.name}"
    )
    hooks.public_changed()
    return region


@transaction.atomic
def region_delete(*, region: Region, actor: Actor) -> None:
    """Delete a region nothing runs in. One with components is refused: deleting it would
    take their status history (and uptime) with it; delete the components first."""
    if region.components.exists():
        raise ValidationError(
            {
                "region": f"{region.slug} has components; delete them (or their services) "
                "before the region."
            }
        )
    audit_record(
        actor=actor, action="region.delete", obj=region, summary=f"{region.slug}: {region.name}"
    )
    region.delete()
    hooks.public_changed()


@transaction.atomic
def service_group_create(*, name: str, actor: Actor, position: int = 0) -> ServiceGroup:
    """A heading to list services under. An empty one is not shown, so the page is unchanged."""
    group = ServiceGroup(name=clean_text(name, field="name", single_line=True), position=position)
    group.full_clean()
    group.save()
    audit_record(actor=actor, action="service_group.create", obj=group, summary=group.name)
    return group


@transaction.atomic
def service_group_update(
    *,
    group: ServiceGroup,
    actor: Actor,
    name: str | None = None,
    position: int | None = None,
) -> ServiceGroup:
    """Rename a group heading or move it on the page."""
    name = clean_text(name, field="name", single_line=True)
    group = ServiceGroup.objects.select_for_update().get(pk=group.pk)
    if name is not None:
        group.name = name
    if position is not None:
        group.position = position
    group.full_clean()
    group.save()
    audit_record(actor=actor, action="service_group.update", obj=group, summary=group.name)
    if group.services.exists():
        hooks.public_changed()
    return group


@transaction.atomic
def service_group_delete(*, group: ServiceGroup, actor: Actor) -> None:
    """Delete a group heading; its services stay, listed without a group."""
    shown = group.services.exists()
    audit_record(actor=actor, action="service_group.delete", obj=group, summary=group.name)
    group.delete()
    if shown:
        hooks.public_changed()


# --- Compound writes (the v1 API's PATCH and POST of a component, bulk status) ------------
# Each is one transaction over the functions above, so a refused part writes nothing and
# every change keeps its own history and audit entry.

MAX_BULK_ITEMS = 10000


@transaction.atomic
def components_set_status_bulk(
    *, components: list[Component], status: str, actor: Actor, reason: str = ""
) -> int:
    """Set many components to one status, all or nothing. Returns how many changed."""
    validate_component_status(status)
    reason = clean_text(reason, field="reason")
    if not components:
        raise ValidationError({"component_ids": "No component matches."})
    if len(components) > MAX_BULK_ITEMS:
        raise ValidationError({"component_ids": f"At most {MAX_BULK_ITEMS} components at once."})
    changed = 0
    for component in components:
        if (
            component_set_status(component=component, status=status, actor=actor, reason=reason)
            is not None
        ):
            changed += 1
    audit_record(
        actor=actor,
        action="component.bulk_set_status",
        summary=f"{len(components)} components → {status} ({changed} changed)",
        data={"components": [c.public_id for c in components], "reason": reason},
    )
    return changed


def _display_fields(
    *,
    description: str | None,
    position: int | None,
    showcase: bool | None,
    only_show_if_degraded: bool | None,
    start_date: Any,
) -> dict[str, Any]:
    """The display fields given (None: not given; start_date: UNSET, since None clears it)."""
    fields: dict[str, Any] = {
        name: value
        for name, value in (
            ("description", description),
            ("position", position),
            ("showcase", showcase),
            ("only_show_if_degraded", only_show_if_degraded),
        )
        if value is not None
    }
    if start_date is not UNSET:
        fields["start_date"] = start_date
    return fields


@transaction.atomic
def component_add(
    *,
    actor: Actor,
    service: Service | None = None,
    region: Region | None = None,
    name: str = "",
    status: str = ComponentStatus.OPERATIONAL,
    description: str = "",
    position: int | None = None,
    showcase: bool | None = None,
    only_show_if_degraded: bool | None = None,
    start_date: Any = UNSET,
) -> Component:
    """A component as Statuspage-style callers create one: with `service`, that service
    offered in `region`; without, a new global service named `name` (offered in `region`
    alone when one is given) whose one component starts at `status`. Display fields are set
    in the same transaction."""
    validate_component_status(status)
    if service is not None:
        component = component_create(
            service=service, region=region, actor=actor, status=status, description=description
        )
    else:
        service = service_create(
            name=name,
            actor=actor,
            regions=[region] if region else None,
            description=description,
        )
        component = service.components.get()
        if status != ComponentStatus.OPERATIONAL:
            component_set_status(component=component, status=status, actor=actor)
    display = _display_fields(
        description=None,
        position=position,
        showcase=showcase,
        only_show_if_degraded=only_show_if_degraded,
        start_date=start_date,
    )
    if display:
        component_update(component=component, actor=actor, **display)
    return Component.objects.select_related("service", "region").get(pk=component.pk)


@transaction.atomic
def component_change(
    *,
    component: Component,
    actor: Actor,
    status: str | None = None,
    reason: str = "",
    name: str | None = None,
    description: str | None = None,
    position: int | None = None,
    showcase: bool | None = None,
    only_show_if_degraded: bool | None = None,
    start_date: Any = UNSET,
) -> Component:
    """Change what is given of a component: its status (kept in its history with `reason`),
    the name of a global component (its service's name; a regional component's name is
    always `<service> (<region>)`), its display fields."""
    if status:
        validate_component_status(status)
        component_set_status(component=component, status=status, actor=actor, reason=reason)
    if name is not None and component.region_id is None and name != component.service.name:
        service_update(service=component.service, actor=actor, name=name)
    display = _display_fields(
        description=description,
        position=position,
        showcase=showcase,
        only_show_if_degraded=only_show_if_degraded,
        start_date=start_date,
    )
    if display:
        component_update(component=component, actor=actor, **display)
    return Component.objects.select_related("service", "region").get(pk=component.pk)


@transaction.atomic
def service_change(
    *,
    service: Service,
    actor: Actor,
    name: str | None = None,
    description: str | None = None,
    position: int | None = None,
    status: str | None = None,
    reason: str = "",
) -> Service:
    """Rename or describe a service and, with `status`, set all its regional components to
    it (all or nothing): a v1 "component group" changed as one component."""
    if status:
        validate_component_status(status)
    service = service_update(
        service=service, actor=actor, name=name, description=description, position=position
    )
    if status:
        components_set_status_bulk(
            components=list(
                service.components.filter(region__isnull=False).select_related("service", "region")
            ),
            status=status,
            actor=actor,
            reason=reason,
        )
    return service

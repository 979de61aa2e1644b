"""Admin of the catalogue.

The admin is a second door to the same write path, never a second write path: creating a
region or a service goes through `region_create` / `service_create` (which also create the
components and write the audit trail), and a component's status only changes through
`component_set_status`, so the history and the public snapshot stay right. Status history and
the audit trail are read-only.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from statuspage import hooks
from statuspage.models import (
    AuditEntry,
    Component,
    ComponentStatusChange,
    Region,
    Service,
    ServiceGroup,
)
from statuspage.services import (
    Actor,
    audit_record,
    component_create,
    component_set_status,
    region_create,
    service_create,
)

# The page id of the public JSON and the v1 API, shown on every admin page.
admin.site.site_header = f"{settings.SITE_NAME} admin · page id {settings.PAGE_ID}"
admin.site.site_title = f"{settings.SITE_NAME} admin"
admin.site.index_title = (
    f"Page id “{settings.PAGE_ID}” — handle incidents in the staff console at /console/"
)
admin.site.site_url = "/console/"


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only records (history, audit): visible to staff, never edited here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class AuditedSaveMixin:
    """Plain edits of catalogue rows (names, positions, descriptions) are audited and
    republish the page, like the service functions do."""

    def audit_change(self, request: HttpRequest, obj, change: bool) -> None:
        audit_record(
            actor=Actor.for_user(request.user),
            action=f"{obj._meta.model_name}.{'edit' if change else 'create'}",
            obj=obj,
            summary=str(obj),
        )
        hooks.public_changed()

    def delete_model(self, request: HttpRequest, obj) -> None:
        with transaction.atomic():
            audit_record(
                actor=Actor.for_user(request.user),
                action=f"{obj._meta.model_name}.delete",
                obj=obj,
                summary=str(obj),
            )
            obj.delete()
            hooks.public_changed()

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for obj in queryset:
            if self.has_delete_permission(request, obj):
                self.delete_model(request, obj)
            else:
                messages.warning(request, f"{obj} was kept: it has status history.")


def _has_history(components) -> bool:
    return ComponentStatusChange.objects.filter(component__in=components).exists()


@admin.register(Region)
class RegionAdmin(AuditedSaveMixin, admin.ModelAdmin):
    list_display = ["slug", "name", "position"]
    list_editable = ["position"]
    search_fields = ["slug", "name"]

    def save_model(self, request: HttpRequest, obj: Region, form, change: bool) -> None:
        if change:
            obj.save()
            self.audit_change(request, obj, change)
            return
        created = region_create(
            slug=obj.slug, name=obj.name, position=obj.position, actor=Actor.for_user(request.user)
        )
        obj.pk, obj.created_at = created.pk, created.created_at


@admin.register(ServiceGroup)
class ServiceGroupAdmin(AuditedSaveMixin, admin.ModelAdmin):
    list_display = ["name", "position"]

    def save_model(self, request: HttpRequest, obj: ServiceGroup, form, change: bool) -> None:
        obj.save()
        self.audit_change(request, obj, change)


class ComponentInline(admin.TabularInline):
    model = Component
    fields = ["link", "region", "status"]
    readonly_fields = ["link", "region", "status"]
    extra = 0
    can_delete = False
    show_change_link = True

    @admin.display(description="component")
    def link(self, obj: Component) -> str:
        return obj.name

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ServiceAddForm(forms.ModelForm):
    regions = forms.ModelMultipleChoiceField(
        queryset=Region.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="One component is created per region; none checked makes a global service.",
    )

    class Meta:
        model = Service
        fields = ["name", "slug", "description", "position", "group"]


@admin.register(Service)
class ServiceAdmin(AuditedSaveMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "group", "position", "regions_list"]
    list_filter = ["group"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ComponentInline]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("components__region")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Deleting a service with status history would silently rewrite its uptime.
        if obj is not None and _has_history(obj.components.all()):
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="regions")
    def regions_list(self, obj: Service) -> str:
        slugs = [c.region.slug if c.region else "global" for c in obj.components.all()]
        return ", ".join(slugs)

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ServiceAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["name", "slug", "description", "position", "group", "regions"]})
            ]
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request: HttpRequest, obj):
        return [ComponentInline] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Service, form, change: bool) -> None:
        if change:
            obj.save()
            self.audit_change(request, obj, change)
            return
        created = service_create(
            name=obj.name,
            slug=obj.slug,
            description=obj.description,
            position=obj.position,
            group=obj.group,
            regions=list(form.cleaned_data.get("regions") or []),
            actor=Actor.for_user(request.user),
        )
        obj.pk, obj.public_id = created.pk, created.public_id
        obj.created_at, obj.updated_at = created.created_at, created.updated_at


class ComponentForm(forms.ModelForm):
    reason = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Why the status changes (kept in the status history). "
        "To tell customers, declare an incident in the console instead.",
    )

    class Meta:
        model = Component
        fields = [
            "service",
            "region",
            "status",
            "reason",
            "description",
            "position",
            "showcase",
            "only_show_if_degraded",
            "start_date",
        ]


@admin.register(Component)
class ComponentAdmin(AuditedSaveMixin, admin.ModelAdmin):
    form = ComponentForm
    list_display = ["__str__", "service", "region", "status", "position"]
    list_filter = ["status", "region", "service"]
    list_select_related = ["service", "region"]
    search_fields = ["service__name", "region__slug"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Deleting a component with status history would silently rewrite its uptime.
        if obj is not None and _has_history([obj]):
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # A component's service and region are its identity; changing them would rewrite
        # history. Add a new component instead.
        return ["service", "region"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Component, form, change: bool) -> None:
        actor = Actor.for_user(request.user)
        new_status = obj.status
        if not change:
            created = component_create(
                service=obj.service,
                region=obj.region,
                status=new_status,
                description=obj.description,
                actor=actor,
            )
            obj.pk, obj.public_id, obj.created_at = (
                created.pk,
                created.public_id,
                created.created_at,
            )
            obj.save(update_fields=["position", "showcase", "only_show_if_degraded", "start_date"])
            return
        # Save the descriptive fields with the status as stored, then change the status
        # through the service so it is recorded in the history.
        obj.status = Component.objects.values_list("status", flat=True).get(pk=obj.pk)
        if form.has_changed() and set(form.changed_data) - {"status", "reason"}:
            obj.save()
            self.audit_change(request, obj, change)
        if new_status != obj.status:
            component_set_status(
                component=obj,
                status=new_status,
                reason=form.cleaned_data.get("reason") or "Set in the admin",
                actor=actor,
            )
            obj.refresh_from_db()
            messages.info(request, f"{obj.name} is now {obj.get_status_display()}.")


@admin.register(ComponentStatusChange)
class ComponentStatusChangeAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "component",
        "old_status",
        "new_status",
        "actor_name",
        "incident_link",
        "reason",
    ]
    list_filter = ["new_status", "component__region", "component__service"]
    list_select_related = ["component__service", "component__region", "incident"]
    date_hierarchy = "created_at"
    search_fields = ["reason", "actor_name"]

    @admin.display(description="incident")
    def incident_link(self, obj: ComponentStatusChange) -> str:
        if obj.incident is None:
            return "—"
        url = reverse("console:incident", kwargs={"public_id": obj.incident.public_id})
        return format_html('<a href="{}">{}</a>', url, obj.incident.name)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_name", "action", "object_type", "object_id", "summary"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "summary", "object_id"]
    date_hierarchy = "created_at"

"""Admin of the catalogue.

The admin is a second door to the same write path, never a second write path: every add,
change and delete calls the service function the console and the API call (`region_create`,
`region_update`, `service_update`, `component_set_status`, …), so it is validated, audited and
republished the same way. The forms do it while they are validated (`ServiceWriteForm`): a
refusal of the service shows on the form and nothing is saved. Status history and the audit
trail are read-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from statuspage.forms import show_refusal
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
    component_add,
    component_change,
    component_delete,
    region_create,
    region_delete,
    region_update,
    service_create,
    service_delete,
    service_group_create,
    service_group_delete,
    service_group_update,
    service_update,
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


class ServiceWriteForm(forms.ModelForm):
    """A model form whose save is a service call, made when the form is validated.

    `write()` calls the service with the cleaned data and returns the saved object, which
    becomes the form's instance (the admin then redirects to it). The model's own validation
    is not run here: the service validates, so the admin refuses exactly what the console and
    the API refuse, with the same messages; a refusal becomes the form's errors and, the
    service being one transaction, writes nothing. A change form that changed nothing calls
    nothing (no audit entry for a plain "Save").
    """

    actor: Actor  # who is acting; set per request by ServiceWriteAdmin

    def write(self) -> Model:
        raise NotImplementedError

    def given(self, *fields: str) -> dict[str, Any]:
        """The cleaned values of those of `fields` the form has (a changelist form has only
        the list-editable ones)."""
        return {f: self.cleaned_data[f] for f in fields if f in self.cleaned_data}

    def _post_clean(self) -> None:
        if self.errors or (self.instance.pk is not None and not self.has_changed()):
            return
        try:
            self.instance = self.write()
        except ValidationError as error:
            show_refusal(self, error)


def _form_shown_again(request: HttpRequest, response: HttpResponse) -> bool:
    """A POST answered with the form (or the changelist) again instead of a redirect: the
    admin saved nothing, e.g. because an inline formset was invalid."""
    context = getattr(response, "context_data", None) or {}
    return request.method == "POST" and ("adminform" in context or "cl" in context)


class ServiceWriteAdmin(admin.ModelAdmin):
    """A ModelAdmin that never saves or deletes a row itself.

    Adds and changes (also the list-editable changelist) are written by its form, a
    `ServiceWriteForm`, through the services; deletes go through `delete_with_service`. When
    the admin shows a form again after a POST (another form on the page was invalid), the
    whole request is rolled back, so a write is never half done.
    """

    def delete_with_service(self, *, obj: Any, actor: Actor) -> None:
        raise NotImplementedError

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = Actor.for_user(request.user)  # a new class per call (modelform_factory)
        return form

    def get_changelist_form(self, request: HttpRequest, **kwargs):
        kwargs.setdefault("form", self.form)
        form = super().get_changelist_form(request, **kwargs)
        form.actor = Actor.for_user(request.user)
        return form

    def save_model(self, request: HttpRequest, obj: Any, form, change: bool) -> None:
        """Nothing to save: the form wrote through the service when it was validated."""

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """Nothing to save: these models have no many-to-many fields and their inlines are
        read-only (an editable inline would be a second write path). The formsets are only
        marked as saved with no rows, for the admin's change message."""
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def changeform_view(
        self, request: HttpRequest, object_id=None, form_url="", extra_context=None
    ):
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if _form_shown_again(request, response):
                transaction.set_rollback(True)
        return response

    def changelist_view(self, request: HttpRequest, extra_context=None):
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().changelist_view(request, extra_context)
            if _form_shown_again(request, response):
                transaction.set_rollback(True)
        return response

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_with_service(obj=obj, actor=Actor.for_user(request.user))

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        """The bulk delete action: one service call per row; a row that may not be deleted
        or that the service refuses is kept, and the staff member is told why."""
        actor = Actor.for_user(request.user)
        for obj in queryset:
            if not self.has_delete_permission(request, obj):
                messages.warning(request, f"{obj} was kept: it has status history.")
                continue
            try:
                self.delete_with_service(obj=obj, actor=actor)
            except ValidationError as error:
                messages.warning(request, f"{obj} was kept: {' '.join(error.messages)}")


def _has_history(components) -> bool:
    return ComponentStatusChange.objects.filter(component__in=components).exists()


class RegionForm(ServiceWriteForm):
    class Meta:
        model = Region
        fields = ["slug", "name", "position"]

    def write(self) -> Region:
        if self.instance.pk is None:
            return region_create(actor=self.actor, **self.given("slug", "name", "position"))
        return region_update(
            region=self.instance, actor=self.actor, **self.given("slug", "name", "position")
        )


@admin.register(Region)
class RegionAdmin(ServiceWriteAdmin):
    form = RegionForm
    list_display = ["slug", "name", "position"]
    list_editable = ["position"]
    search_fields = ["slug", "name"]

    def delete_with_service(self, *, obj: Region, actor: Actor) -> None:
        region_delete(region=obj, actor=actor)


class ServiceGroupForm(ServiceWriteForm):
    class Meta:
        model = ServiceGroup
        fields = ["name", "position"]

    def write(self) -> ServiceGroup:
        if self.instance.pk is None:
            return service_group_create(actor=self.actor, **self.given("name", "position"))
        return service_group_update(
            group=self.instance, actor=self.actor, **self.given("name", "position")
        )


@admin.register(ServiceGroup)
class ServiceGroupAdmin(ServiceWriteAdmin):
    form = ServiceGroupForm
    list_display = ["name", "position"]

    def delete_with_service(self, *, obj: ServiceGroup, actor: Actor) -> None:
        service_group_delete(group=obj, actor=actor)


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


SERVICE_FIELDS = ["name", "slug", "description", "position", "group"]


class ServiceForm(ServiceWriteForm):
    class Meta:
        model = Service
        fields = SERVICE_FIELDS

    def write(self) -> Service:
        return service_update(
            service=self.instance, actor=self.actor, **self.given(*SERVICE_FIELDS)
        )


class ServiceAddForm(ServiceWriteForm):
    regions = forms.ModelMultipleChoiceField(
        queryset=Region.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="One component is created per region; none checked makes a global service.",
    )

    class Meta:
        model = Service
        fields = SERVICE_FIELDS

    def write(self) -> Service:
        return service_create(
            actor=self.actor,
            regions=list(self.cleaned_data.get("regions") or []),
            **self.given(*SERVICE_FIELDS),
        )


@admin.register(Service)
class ServiceAdmin(ServiceWriteAdmin):
    form = ServiceForm
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

    def delete_with_service(self, *, obj: Service, actor: Actor) -> None:
        service_delete(service=obj, actor=actor)

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
            return [(None, {"fields": [*SERVICE_FIELDS, "regions"]})]
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request: HttpRequest, obj):
        return [ComponentInline] if obj is not None else []


COMPONENT_DISPLAY_FIELDS = ["position", "showcase", "only_show_if_degraded", "start_date"]


class ComponentForm(ServiceWriteForm):
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
            *COMPONENT_DISPLAY_FIELDS,
        ]

    def write(self) -> Component:
        """One service call, one transaction: `component_add` for a new component (a status
        other than operational goes into its history), `component_change` for the status
        (with its reason) and the display fields that changed."""
        data = self.cleaned_data
        if self.instance.pk is None:
            display = {
                f: data[f]
                for f in COMPONENT_DISPLAY_FIELDS
                if data[f] != Component._meta.get_field(f).get_default()
            }
            return component_add(
                actor=self.actor,
                service=data["service"],
                region=data["region"],
                status=data["status"],
                description=data["description"],
                **display,
            )
        changed = set(self.changed_data)
        return component_change(
            component=self.instance,
            actor=self.actor,
            status=data["status"] if "status" in changed else None,
            reason=data.get("reason") or "Set in the admin",
            **{f: data[f] for f in ("description", *COMPONENT_DISPLAY_FIELDS) if f in changed},
        )


@admin.register(Component)
class ComponentAdmin(ServiceWriteAdmin):
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

    def delete_with_service(self, *, obj: Component, actor: Actor) -> None:
        component_delete(component=obj, actor=actor)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # A component's service and region are its identity; changing them would rewrite
        # history. Add a new component instead.
        return ["service", "region"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Component, form, change: bool) -> None:
        if change and "status" in form.changed_data:
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

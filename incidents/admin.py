"""Admin of incidents.

Incidents and their timelines are handled in the staff console (it is built for speed and
calls the service functions); here they are read-only with a link to the console. The few
writes the admin does allow go through the same services: correcting an update's text
(`incident_update_edit`), publishing a postmortem (`postmortem_publish`) and deleting an
incident declared by mistake (`incident_delete`). Templates are prepared text, written through
`template_create` / `template_update` / `template_delete` like any other write.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from incidents.models import (
    Incident,
    IncidentStatus,
    IncidentTemplate,
    IncidentUpdate,
    Postmortem,
)
from incidents.services import (
    incident_delete,
    incident_update_edit,
    postmortem_publish,
    template_create,
    template_delete,
    template_update,
)
from statuspage.admin import ServiceWriteAdmin, ServiceWriteForm
from statuspage.services import Actor


def console_link(incident: Incident) -> str:
    url = reverse("console:incident", kwargs={"public_id": incident.public_id})
    return format_html('<a href="{}">Open in the console →</a>', url)


class IncidentUpdateInline(admin.TabularInline):
    model = IncidentUpdate
    fields = ["display_at", "status", "body", "author_name", "deliver_notifications"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "status", "impact", "created_at", "resolved_at", "console"]
    list_filter = ["kind", "status", "impact"]
    search_fields = ["name", "public_id"]
    date_hierarchy = "created_at"
    inlines = [IncidentUpdateInline]
    readonly_fields = [
        "console",
        "public_id",
        "kind",
        "name",
        "status",
        "impact",
        "components_list",
        "created_at",
        "started_at",
        "monitoring_at",
        "resolved_at",
        "scheduled_for",
        "scheduled_until",
        "scheduled_auto_in_progress",
        "scheduled_auto_completed",
        "created_by",
    ]
    fields = readonly_fields

    @admin.display(description="console")
    def console(self, obj: Incident) -> str:
        return console_link(obj)

    @admin.display(description="components")
    def components_list(self, obj: Incident) -> str:
        return ", ".join(c.name for c in obj.components.select_related("service", "region"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # declared in the console, which calls incident_declare

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # changed in the console, through the services

    def get_deleted_objects(self, objs, request: HttpRequest):
        # The timeline goes with its incident (incident_delete); updates are not deletable on
        # their own, which must not block deleting the whole incident.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request: HttpRequest, obj: Incident) -> None:
        incident_delete(incident=obj, actor=Actor.for_user(request.user))

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for incident in queryset:
            incident_delete(incident=incident, actor=Actor.for_user(request.user))


@admin.register(IncidentUpdate)
class IncidentUpdateAdmin(admin.ModelAdmin):
    """Only the text and the notify flag of an update can be corrected (it is not re-sent)."""

    list_display = ["incident", "status", "display_at", "author_name"]
    list_filter = ["status"]
    list_select_related = ["incident"]
    search_fields = ["body", "incident__name"]
    fields = [
        "console",
        "incident",
        "status",
        "display_at",
        "author_name",
        "body",
        "deliver_notifications",
    ]
    readonly_fields = ["console", "incident", "status", "display_at", "author_name"]

    @admin.display(description="console")
    def console(self, obj: IncidentUpdate) -> str:
        return console_link(obj.incident)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: IncidentUpdate, form, change: bool) -> None:
        incident_update_edit(
            update=obj,
            body=form.cleaned_data["body"],
            deliver_notifications=form.cleaned_data["deliver_notifications"],
            actor=Actor.for_user(request.user),
        )


class PostmortemForm(forms.ModelForm):
    class Meta:
        model = Postmortem
        fields = ["incident", "body"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "incident" in self.fields:
            self.fields["incident"].queryset = Incident.objects.filter(
                status__in=[IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM]
            )


@admin.register(Postmortem)
class PostmortemAdmin(admin.ModelAdmin):
    form = PostmortemForm
    list_display = ["incident", "published_at"]
    list_select_related = ["incident"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ["incident", "published_at"] if obj is not None else []

    def get_fields(self, request: HttpRequest, obj=None):
        return ["incident", "published_at", "body"] if obj is not None else ["incident", "body"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Postmortem, form, change: bool) -> None:
        saved = postmortem_publish(
            incident=obj.incident,
            body=form.cleaned_data["body"],
            actor=Actor.for_user(request.user),
        )
        obj.pk = saved.pk


TEMPLATE_FIELDS = ["name", "kind", "title", "status", "impact", "component_status", "body"]


class IncidentTemplateForm(ServiceWriteForm):
    class Meta:
        model = IncidentTemplate
        fields = TEMPLATE_FIELDS

    def write(self) -> IncidentTemplate:
        if self.instance.pk is None:
            return template_create(actor=self.actor, **self.given(*TEMPLATE_FIELDS))
        return template_update(
            template=self.instance, actor=self.actor, **self.given(*TEMPLATE_FIELDS)
        )


@admin.register(IncidentTemplate)
class IncidentTemplateAdmin(ServiceWriteAdmin):
    form = IncidentTemplateForm
    list_display = ["name", "kind", "title", "status", "impact", "component_status"]
    list_filter = ["kind"]
    search_fields = ["name", "title", "body"]

    def delete_with_service(self, *, obj: IncidentTemplate, actor: Actor) -> None:
        template_delete(template=obj, actor=actor)

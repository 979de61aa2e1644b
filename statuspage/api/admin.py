"""Admin of API tokens: staff create a token (shown once, in a message) and revoke it.

Imported from statuspage/admin.py. Tokens are never edited: a changed scope is a new token.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from statuspage.api.models import ApiScope, ApiToken
from statuspage.api.services import MAX_TOKEN_NAME, api_token_create, api_token_revoke
from statuspage.services import Actor


class ApiTokenCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(ApiScope.values),
        help_text="`read` covers every GET; the others cover the writes of their area.",
    )

    class Meta:
        model = ApiToken
        fields = ["name", "scopes"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if len(name) > MAX_TOKEN_NAME:
            raise forms.ValidationError(f"At most {MAX_TOKEN_NAME} characters.")
        return name


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "scope_list",
        "created_by",
        "created_at",
        "last_used_at",
        "state",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix"]
    actions = ["revoke_tokens"]
    readonly_fields = [
        "name",
        "prefix",
        "scope_list",
        "page_id",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    change_list_template = "api/admin/apitoken_change_list.html"

    def get_form(self, request: HttpRequest, obj: ApiToken | None = None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
            kwargs["fields"] = ["name", "scopes"]
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None):
        return ["name", "scopes"] if obj is None else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        # Viewing only: a token is created or revoked, never edited.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        # A token is revoked (api_token_revoke, audited), never deleted: its name stays
        # behind the "api:<name>" of every history and audit row it wrote.
        return False

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        """Create through the service; the secret is shown once, here, and never again."""
        try:
            token, raw = api_token_create(
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                actor=Actor.for_user(request.user),
            )
        except ValidationError as exc:  # the form validated the same fields; belt and braces
            messages.error(request, "; ".join(exc.messages))
            return
        # The admin goes on with `obj` (its log entry, its message, the redirect): give it
        # what the service wrote, field by field.
        obj.pk = token.pk
        obj.name = token.name
        obj.prefix = token.prefix
        obj.token_hash = token.token_hash
        obj.scopes = token.scopes
        obj.created_by_id = token.created_by_id
        obj.created_at = token.created_at
        messages.warning(
            request,
            f"Token for {token.name}: {raw} — copy it now, it is not shown again. "
            f"Page id: {settings.PAGE_ID}",
        )

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.scopes or [])

    @admin.display(description="page id")
    def page_id(self, obj: ApiToken) -> str:
        return settings.PAGE_ID

    @admin.display(description="state")
    def state(self, obj: ApiToken) -> str:
        return "active" if obj.revoked_at is None else f"revoked {obj.revoked_at:%Y-%m-%d %H:%M}"

    @admin.action(description="Revoke the selected tokens")
    def revoke_tokens(self, request: HttpRequest, queryset) -> None:
        actor = Actor.for_user(request.user)
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token, actor=actor)
            count += 1
        messages.success(request, f"Revoked {count} token(s).")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {**(extra_context or {}), "page_id": settings.PAGE_ID}
        return super().changelist_view(request, extra_context)

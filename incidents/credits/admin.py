"""Admin of the credits models (imported by incidents/admin.py).

Read-only: accounts and spend come in through the CSV importers, policies and reports are
written by the services behind /console/credits/, so every change is validated and audited.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from incidents.credits.models import (
    Account,
    CreditApplication,
    CreditApplicationItem,
    CreditPolicy,
    CreditPolicyCurrency,
    CreditRefundRequest,
    CreditReport,
    CreditReportTotal,
    SpendRecord,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = [
        "external_id",
        "name",
        "plan",
        "paying",
        "currency",
        "stripe_customer_id",
        "billing_email",
        "updated_at",
    ]
    list_filter = ["paying", "currency", "plan"]
    search_fields = ["external_id", "name"]


@admin.register(SpendRecord)
class SpendRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "account",
        "amount",
        "currency",
        "occurred_at",
        "period_start",
        "period_end",
        "region",
        "kind",
    ]
    list_filter = ["kind", "currency"]
    search_fields = ["account__external_id"]
    list_select_related = ["account"]
    show_full_result_count = False


class PolicyCurrencyInline(ReadOnlyInline):
    model = CreditPolicyCurrency
    fields = ["currency", "minimum_cents", "cap_cents"]


@admin.register(CreditPolicy)
class CreditPolicyAdmin(ReadOnlyAdmin):
    list_display = ["name", "incident", "window_start", "window_end", "invoice_month", "created_at"]
    inlines = [PolicyCurrencyInline]


class ReportTotalInline(ReadOnlyInline):
    model = CreditReportTotal
    fields = ["currency", "accounts", "spend_cents", "credit_cents", "minimum_count", "cap_count"]


@admin.register(CreditReport)
class CreditReportAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "policy",
        "status",
        "progress",
        "lines_count",
        "created_at",
        "created_by_name",
        "approved_by_name",
    ]
    list_filter = ["status"]
    inlines = [ReportTotalInline]


@admin.register(CreditRefundRequest)
class CreditRefundRequestAdmin(ReadOnlyAdmin):
    list_display = ["account", "policy", "status", "requested_at", "source", "decided_by_name"]
    list_filter = ["status", "source"]
    search_fields = ["account__external_id", "contact"]
    list_select_related = ["account", "policy"]


@admin.register(CreditApplication)
class CreditApplicationAdmin(ReadOnlyAdmin):
    list_display = ["report", "dry_run", "status", "started_at", "finished_at", "runner"]
    list_filter = ["status", "dry_run"]


@admin.register(CreditApplicationItem)
class CreditApplicationItemAdmin(ReadOnlyAdmin):
    list_display = [
        "account_external_id",
        "kind",
        "currency",
        "amount_cents",
        "status",
        "stripe_object",
        "attempts",
    ]
    list_filter = ["status"]
    search_fields = ["account_external_id", "idempotency_key", "stripe_object"]
    show_full_result_count = False

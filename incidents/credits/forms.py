"""Forms of the credits pages. They parse what was typed; the rules live in the services."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError

from incidents.credits.importers import parse_time
from incidents.credits.models import Account, CreditPolicy
from incidents.credits.services import REFUND_CONTACT_MAX, CurrencyRule
from incidents.models import Incident


class UTCDateTimeField(forms.CharField):
    def to_python(self, value: str) -> datetime | None:
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_time(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def prepare_value(self, value: object) -> object:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
        return value


def parse_rules(text: str) -> list[CurrencyRule]:
    """One rule a line: `USD 10.00` (minimum) or `USD 10.00 500.00` (minimum and cap)."""
    rules = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise ValidationError(
                f"line {number}: write CURRENCY MINIMUM [CAP], e.g. 'USD 10.00' or "
                f"'USD 10.00 500.00'"
            )
        try:
            minimum = Decimal(parts[1])
            cap = Decimal(parts[2]) if len(parts) == 3 else None
        except InvalidOperation:
            raise ValidationError(
                f"line {number}: '{line.strip()}' has an amount that is not a number"
            ) from None
        rules.append(CurrencyRule(currency=parts[0], minimum=minimum, cap=cap))
    return rules


def rules_text(policy: CreditPolicy) -> str:
    return "\n".join(
        f"{rule.currency} {rule.minimum:.2f}" + (f" {rule.cap:.2f}" if rule.cap_cents else "")
        for rule in policy.currencies.all()
    )


class CreditPolicyForm(forms.Form):
    name = forms.CharField(
        max_length=200, required=False, help_text="Empty: named after the incident"
    )
    incident = forms.ModelChoiceField(
        queryset=Incident.objects.order_by("-created_at"), required=False, empty_label="— none —"
    )
    window_start = UTCDateTimeField(
        label="Window start (UTC, inclusive)", help_text="e.g. 2026-06-21T00:00Z"
    )
    window_end = UTCDateTimeField(
        label="Window end (UTC, exclusive)",
        help_text="e.g. 2026-06-24T00:00Z for “to 23:59 on 23 June”",
    )
    rules = forms.CharField(
        label="Minimum (and optional cap) per currency",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One line per currency: USD 10.00, or USD 10.00 500.00 with a cap",
    )
    regions = forms.CharField(
        required=False,
        help_text="Only accounts with spend in these regions (comma-separated slugs); empty = all",
    )
    invoice_month = forms.CharField(
        max_length=7, required=False, help_text="YYYY-MM; empty: the month the window starts"
    )

    def clean_rules(self) -> list[CurrencyRule]:
        return parse_rules(self.cleaned_data.get("rules", ""))

    def clean_regions(self) -> list[str]:
        text = self.cleaned_data.get("regions", "")
        return [r.strip() for r in text.split(",") if r.strip()]

    @classmethod
    def initial_for(cls, policy: CreditPolicy) -> dict:
        return {
            "name": policy.name,
            "incident": policy.incident_id,
            "window_start": policy.window_start,
            "window_end": policy.window_end,
            "rules": rules_text(policy),
            "regions": ", ".join(policy.regions or []),
            "invoice_month": policy.invoice_month,
        }


class ImportForm(forms.Form):
    what = forms.ChoiceField(
        choices=[
            ("accounts", "Accounts (account_id,name,plan,paying,currency)"),
            (
                "spend",
                "Spend (account_id,amount,currency,occurred_at | period_start,period_end,region,kind)",
            ),
        ],
        widget=forms.RadioSelect,
        initial="spend",
    )
    file = forms.FileField(help_text="CSV, UTF-8, with a header line")


class RefundRequestForm(forms.Form):
    account_id = forms.CharField(max_length=64, label="Account id")
    contact = forms.CharField(
        max_length=REFUND_CONTACT_MAX, required=False, help_text="Who asked (email)"
    )
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    charge_ids = forms.CharField(
        required=False,
        label="Add-on charges",
        help_text="Stripe charge or invoice ids of add-ons outside the window (space-separated); "
        "the add-ons inside the window are always covered",
    )

    def clean(self) -> dict:
        data = super().clean()
        account_id = (data.get("account_id") or "").strip()
        account = Account.objects.filter(external_id=account_id).first() if account_id else None
        if account_id and account is None:
            self.add_error("account_id", f"unknown account '{account_id}'")
        data["account"] = account
        data["charge_ids"] = (data.get("charge_ids") or "").replace(",", " ").split()
        return data


class RefundImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV export of the contact form: account_id,requested_at,contact,message,charge_ids"
    )

"""Models of credits (accounts, spend, credit policies, credit reports). Registered with incidents.

Money is stored as integers, never as floats and never as Decimal columns:

- spend amounts in **micro-units** of the currency (`amount_micros`, 12.34 USD = 12_340_000),
  so every sum is an exact integer sum on PostgreSQL *and* on SQLite (which has no decimal
  type: a DecimalField there is stored as a binary float). Six decimal places hold any
  per-unit usage price a billing system emits; amounts with more decimals are refused at import.
- credits, minimums and caps in **cents** (`*_cents`): a credit is rounded once, per account,
  to the cent.

The `Decimal` views (`amount`, `credit`, …) are for display, forms and CSV.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

__all__ = [
    "Account",
    "SpendKind",
    "SpendRecord",
    "CreditPolicy",
    "CreditPolicyCurrency",
    "CreditReportStatus",
    "CreditReport",
    "CreditReportTotal",
    "CreditReportLine",
    "CreditReportAddon",
    "RefundRequestStatus",
    "CreditRefundRequest",
    "ApplicationStatus",
    "CreditApplication",
    "ApplicationItemStatus",
    "CreditApplicationItem",
]

MICROS = 1_000_000
CENTS = 100


def micros_to_decimal(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value).scaleb(-6)


def cents_to_decimal(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value).scaleb(-2)


class Account(models.Model):
    """A customer account of the platform the status page reports on (billing's view)."""

    external_id = models.CharField(max_length=64, unique=True, help_text="The billing system's id")
    name = models.CharField(max_length=255)
    plan = models.CharField(max_length=64, blank=True)
    paying = models.BooleanField(default=False)
    currency = models.CharField(max_length=3, help_text="ISO 4217 billing currency")
    stripe_customer_id = models.CharField(
        max_length=255, blank=True, default="", db_default="", help_text="Stripe customer (cus_…)"
    )
    billing_email = models.EmailField(
        max_length=254,
        blank=True,
        default="",
        db_default="",
        help_text="Where the credit notice goes",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "incidents_account"
        ordering = ["external_id"]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.name})"


class SpendKind(models.TextChoices):
    USAGE = "usage", "Usage"
    CONCURRENCY_ADDON = "concurrency_addon", "Concurrency add-on"
    SUBSCRIPTION = "subscription", "Subscription"


class SpendRecord(models.Model):
    """One charge: at a point in time (`occurred_at`) or for a billed period [start, end).

    `row_hash` is a digest of the row's content and `occurrence` counts identical rows in the
    file it came from (1 for the first, 2 for a second identical charge, …): together they are
    the natural key that makes re-importing a file, or an overlapping export, add nothing twice.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="spend")
    amount_micros = models.BigIntegerField(help_text="Amount in millionths of the currency")
    currency = models.CharField(max_length=3)
    occurred_at = models.DateTimeField(null=True, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    region = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=32, default=SpendKind.USAGE)
    # Where the charge is in Stripe, so a refund can be made against it (add-ons). Not part
    # of the row's identity: a later export that adds them fills them in.
    charge_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    invoice_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    row_hash = models.UUIDField(help_text="BLAKE2b-128 of the normalised row")
    occurrence = models.PositiveIntegerField(default=1)

    class Meta:
        db_table = "incidents_spendrecord"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["row_hash", "occurrence"], name="spend_natural_key"),
            models.CheckConstraint(
                condition=(
                    Q(occurred_at__isnull=False, period_start__isnull=True, period_end__isnull=True)
                    | Q(
                        occurred_at__isnull=True,
                        period_start__isnull=False,
                        period_end__gt=models.F("period_start"),
                    )
                ),
                name="spend_point_or_period",
            ),
        ]
        indexes = [
            models.Index(
                fields=["occurred_at"],
                name="spend_occurred_idx",
                condition=Q(occurred_at__isnull=False),
            ),
            models.Index(
                fields=["period_start", "period_end"],
                name="spend_period_idx",
                condition=Q(period_start__isnull=False),
            ),
            # The report's add-on section reads only these few rows.
            models.Index(
                fields=["occurred_at", "period_start"],
                name="spend_addon_idx",
                condition=Q(kind="concurrency_addon"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount} {self.currency}"

    @property
    def amount(self) -> Decimal:
        return micros_to_decimal(self.amount_micros)


class CreditPolicy(models.Model):
    """What an incident's customers are credited: a window, eligibility and per-currency rules.

    Eligible: paying accounts; if `regions` is not empty, only those with spend in one of
    those regions inside the window. Credit = max(spend in window, minimum), capped.
    """

    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="credit_policies",
    )
    name = models.CharField(max_length=200)
    window_start = models.DateTimeField(help_text="Inclusive, UTC")
    window_end = models.DateTimeField(help_text="Exclusive, UTC")
    regions = models.JSONField(default=list, blank=True, help_text="Region slugs; empty = all")
    invoice_month = models.CharField(max_length=7, help_text="YYYY-MM")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "incidents_creditpolicy"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "credit policies"

    def __str__(self) -> str:
        return self.name


class CreditPolicyCurrency(models.Model):
    """The minimum (and optional cap) of a policy for accounts billed in one currency.

    Accounts in a currency without a rule are credited their spend, with no minimum or cap.
    """

    policy = models.ForeignKey(CreditPolicy, on_delete=models.CASCADE, related_name="currencies")
    currency = models.CharField(max_length=3)
    minimum_cents = models.BigIntegerField(default=0)
    cap_cents = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "incidents_creditpolicycurrency"
        ordering = ["currency"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "currency"], name="policy_currency_once"),
            models.CheckConstraint(condition=Q(minimum_cents__gte=0), name="policy_minimum_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} minimum {self.minimum}"

    @property
    def minimum(self) -> Decimal:
        return cents_to_decimal(self.minimum_cents)

    @property
    def cap(self) -> Decimal | None:
        return cents_to_decimal(self.cap_cents)


class CreditReportStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class CreditReport(models.Model):
    """One run of a policy. Once `done`, its lines, totals and add-ons never change.

    `parameters` freezes the policy as it was when the run started (window, regions, rules,
    invoice month), so a later edit of the policy does not change what an old report means.
    """

    policy = models.ForeignKey(CreditPolicy, on_delete=models.PROTECT, related_name="reports")
    status = models.CharField(
        max_length=16, choices=CreditReportStatus.choices, default=CreditReportStatus.RUNNING
    )
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent")
    progress_note = models.CharField(max_length=200, blank=True)
    parameters = models.JSONField(default=dict)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lines_count = models.PositiveIntegerField(default=0)
    added_count = models.PositiveIntegerField(default=0)
    removed_count = models.PositiveIntegerField(default=0)
    changed_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=200, blank=True)
    # Four eyes: approved by someone else than `created_by`; from then on nothing changes.
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by_name = models.CharField(max_length=200, blank=True, default="", db_default="")

    class Meta:
        db_table = "incidents_creditreport"
        ordering = ["-created_at", "-id"]
        permissions = [
            ("view_credits", "Can see credit policies, credit reports, accounts and spend"),
            ("run_credits", "Can edit credit policies, run credit reports and import spend"),
            ("approve_report", "Can approve a credit report someone else computed"),
        ]

    def __str__(self) -> str:
        return f"Credit report #{self.pk} of {self.policy}"

    @property
    def invoice_month(self) -> str:
        return self.parameters.get("invoice_month", "")

    @property
    def window(self) -> tuple[datetime, datetime]:
        """The credit window as the run froze it (start, end), aware UTC datetimes."""
        return (
            datetime.fromisoformat(self.parameters["window_start"]),
            datetime.fromisoformat(self.parameters["window_end"]),
        )

    @property
    def is_approved(self) -> bool:
        return self.approved_at is not None


class CreditReportTotal(models.Model):
    """Frozen totals of a report for one currency."""

    report = models.ForeignKey(CreditReport, on_delete=models.CASCADE, related_name="totals")
    currency = models.CharField(max_length=3)
    accounts = models.PositiveIntegerField()
    spend_cents = models.BigIntegerField()
    credit_cents = models.BigIntegerField()
    minimum_count = models.PositiveIntegerField()
    cap_count = models.PositiveIntegerField()
    # The policy has no minimum for this currency: its accounts are flagged, never skipped.
    minimum_missing = models.BooleanField(db_default=False, default=False)
    addon_refund_cents = models.BigIntegerField(db_default=0, default=0)

    class Meta:
        db_table = "incidents_creditreporttotal"
        ordering = ["currency"]
        constraints = [
            models.UniqueConstraint(fields=["report", "currency"], name="report_total_once")
        ]

    def __str__(self) -> str:
        return f"{self.currency}: {self.credit}"

    @property
    def credit(self) -> Decimal:
        return cents_to_decimal(self.credit_cents)

    @property
    def spend(self) -> Decimal:
        return cents_to_decimal(self.spend_cents)


class CreditReportLine(models.Model):
    """One credited account of a report, frozen (the account's id and name are copied)."""

    # The primary key (report, account) is the only index, and there is no database-level
    # foreign key check, so that writing 50,000 lines costs as little as possible: lines are
    # written only by the report computation, for the report row it holds locked, and
    # deleting a report deletes its lines through Django's cascade.
    pk = models.CompositePrimaryKey("report", "account")
    report = models.ForeignKey(
        CreditReport,
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )
    account = models.ForeignKey(
        Account,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    account_external_id = models.CharField(max_length=64)
    account_name = models.CharField(max_length=255)
    currency = models.CharField(max_length=3)
    spend_cents = models.BigIntegerField(help_text="Spend in the window, rounded once")
    minimum_cents = models.BigIntegerField()
    cap_cents = models.BigIntegerField(null=True)
    credit_cents = models.BigIntegerField()
    minimum_applied = models.BooleanField()
    cap_applied = models.BooleanField()
    # The policy has no minimum for the account's currency (shown, never silently skipped).
    minimum_missing = models.BooleanField(db_default=False, default=False)
    # Concurrency add-ons (docs/credits.md, "Add-on refunds"): what was paid for them, what
    # the credit already gives back of it, and the refund (approved requests only).
    addon_paid_cents = models.BigIntegerField(db_default=0, default=0)
    addon_in_credit_cents = models.BigIntegerField(db_default=0, default=0)
    addon_refund_cents = models.BigIntegerField(db_default=0, default=0)

    class Meta:
        db_table = "incidents_creditreportline"
        ordering = ["currency", "account_external_id"]

    def __str__(self) -> str:
        return f"{self.account_external_id}: {self.credit} {self.currency}"

    @property
    def spend(self) -> Decimal:
        return cents_to_decimal(self.spend_cents)

    @property
    def credit(self) -> Decimal:
        return cents_to_decimal(self.credit_cents)

    @property
    def minimum(self) -> Decimal:
        return cents_to_decimal(self.minimum_cents)

    @property
    def cap(self) -> Decimal | None:
        return cents_to_decimal(self.cap_cents)

    @property
    def addon_paid(self) -> Decimal:
        return cents_to_decimal(self.addon_paid_cents)

    @property
    def addon_in_credit(self) -> Decimal:
        return cents_to_decimal(self.addon_in_credit_cents)

    @property
    def addon_refund(self) -> Decimal:
        return cents_to_decimal(self.addon_refund_cents)


class CreditReportAddon(models.Model):
    """A concurrency add-on of the report, frozen: bought inside or across the window, or
    named by the account's refund request. `paid_cents`, `in_credit_cents` and `refund_cents`
    are this charge's share of its account's figures (docs/credits.md, "Add-on refunds")."""

    report = models.ForeignKey(CreditReport, on_delete=models.CASCADE, related_name="addons")
    account = models.ForeignKey(
        Account,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    spend_id = models.BigIntegerField(null=True, help_text="The SpendRecord it was frozen from")
    charge_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    invoice_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    paid_cents = models.BigIntegerField(db_default=0, default=0)
    in_credit_cents = models.BigIntegerField(db_default=0, default=0)
    refund_cents = models.BigIntegerField(db_default=0, default=0)
    account_external_id = models.CharField(max_length=64)
    account_name = models.CharField(max_length=255)
    amount_micros = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    occurred_at = models.DateTimeField(null=True)
    period_start = models.DateTimeField(null=True)
    period_end = models.DateTimeField(null=True)
    region = models.CharField(max_length=64, blank=True)

    class Meta:
        db_table = "incidents_creditreportaddon"
        ordering = ["account_external_id", "occurred_at", "period_start", "id"]

    def __str__(self) -> str:
        return f"{self.account_external_id}: {self.amount} {self.currency}"

    @property
    def amount(self) -> Decimal:
        return micros_to_decimal(self.amount_micros)

    @property
    def at(self):  # noqa: ANN201 - a datetime for display
        return self.occurred_at or self.period_start


class RefundRequestStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REFUSED = "refused", "Refused"


class CreditRefundRequest(models.Model):
    """An account asks for its concurrency add-ons to be refunded ("if you paid for more
    concurrency during the incident … we'll reset it and refund you"), recorded from the
    console, the API or the contact-form export; reviewed, then approved or refused with a
    reason. One per account and policy. It covers the account's add-ons overlapping the
    window, and the charges it names (`charge_ids`, e.g. one bought just before)."""

    policy = models.ForeignKey(
        CreditPolicy, on_delete=models.CASCADE, related_name="refund_requests"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=16, choices=RefundRequestStatus.choices, default=RefundRequestStatus.REQUESTED
    )
    requested_at = models.DateTimeField()
    source = models.CharField(max_length=16, help_text="console, api or import")
    contact = models.CharField(max_length=254, blank=True)
    message = models.TextField(blank=True)
    charge_ids = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True, help_text="Why it was approved or refused")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by_name = models.CharField(max_length=200, blank=True)
    # Recorded when staff reset the account's concurrency (the promise says "we'll reset it").
    concurrency_reset_at = models.DateTimeField(null=True, blank=True)
    concurrency_reset_by_name = models.CharField(max_length=200, blank=True)
    concurrency_reset_note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["policy", "account__external_id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "account"], name="refund_request_once")
        ]

    def __str__(self) -> str:
        return f"Refund request of {self.account.external_id}: {self.status}"


class ApplicationStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    INCOMPLETE = "incomplete", "Incomplete (failures to resume)"


class CreditApplication(models.Model):
    """Applying an approved report through Stripe: one live application per report (resumed,
    never restarted), and dry runs beside it. `key_prefix` makes the idempotency keys of its
    items unique to this database and stable across resumed runs. `runner` and `heartbeat_at`
    tell whether a run is still going: a resume takes over from a dead or silent one."""

    report = models.ForeignKey(CreditReport, on_delete=models.PROTECT, related_name="applications")
    dry_run = models.BooleanField(default=False)
    key_prefix = models.CharField(max_length=40, unique=True)
    status = models.CharField(
        max_length=16, choices=ApplicationStatus.choices, default=ApplicationStatus.RUNNING
    )
    runner = models.CharField(max_length=200, blank=True, help_text="host:pid of the run")
    runner_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    started_by_name = models.CharField(max_length=200, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["report"], condition=Q(dry_run=False), name="one_live_application"
            )
        ]

    def __str__(self) -> str:
        return f"{'Dry run' if self.dry_run else 'Application'} of report #{self.report_id}"


class ApplicationItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    SIMULATED = "simulated", "Dry run"
    # Sent more than a day ago with no answer recorded: Stripe has forgotten its idempotency
    # key, so sending it again could apply it twice. Someone checks in Stripe first.
    CHECK = "check", "Check in Stripe"


class CreditApplicationItem(models.Model):
    """One Stripe operation of an application: an account's credit (a customer balance
    transaction) or the refund of one add-on charge (a refund, or a credit note against its
    invoice). `idempotency_key` is one per (report, account, kind), sent on every attempt."""

    application = models.ForeignKey(
        CreditApplication, on_delete=models.CASCADE, related_name="items"
    )
    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    account_external_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=300, help_text="credit, or refund-<charge or invoice>")
    currency = models.CharField(max_length=3)
    amount_cents = models.BigIntegerField()
    target = models.CharField(max_length=255, blank=True, help_text="cus_…, ch_…/pi_… or in_…")
    idempotency_key = models.CharField(max_length=255, unique=True)
    status = models.CharField(
        max_length=16,
        choices=ApplicationItemStatus.choices,
        default=ApplicationItemStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(default=0)
    claim_token = models.CharField(max_length=32, blank=True)
    first_sent_at = models.DateTimeField(null=True, blank=True)
    stripe_object = models.CharField(max_length=255, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Stripe refused it (4xx): retrying unchanged would fail the same way. Otherwise (network,
    # 5xx, 429s) the outcome may be unknown and a retry with the same key settles it.
    error_permanent = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["application", "status"])]

    def __str__(self) -> str:
        return f"{self.account_external_id} {self.kind}: {self.status}"

    @property
    def amount(self) -> Decimal:
        return cents_to_decimal(self.amount_cents)

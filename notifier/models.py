"""Subscribers, channels and the outbox of deliveries.

- A **subscriber** is a member of the public: an email address; a webhook URL (with an
  email address for the confirmation); their own Slack, Discord or Microsoft Teams webhook
  URL (the confirmation is posted into that channel); or a phone number for SMS (confirmed by
  a code sent to it). Every subscriber confirms before anything else is sent (double opt-in).
- A **channel** is configured by staff: a Slack incoming webhook or bot token + channel id,
  a Discord webhook, a Microsoft Teams workflow webhook, or a plain webhook.
- A **delivery** is one outbox row: one event (an incident update, or a component status
  change made outside an incident) for one recipient. It is written in the transaction that
  made the event and delivered after commit by a Celery task; the unique (event, recipient)
  key makes writing it twice impossible.

Rows are written only by `notifier.services`.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from statuspage import hooks, languages
from statuspage.models import new_public_id


def new_secret() -> str:
    """A per-recipient secret for HMAC signatures of webhook bodies."""
    return secrets.token_hex(32)


class Scope(models.TextChoices):
    ALL = "all", _("Everything")
    REGIONS = "regions", _("Chosen regions")
    SERVICES = "services", _("Chosen services")
    COMPONENTS = "components", _("Chosen components")


class Medium(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    DISCORD = "discord", "Discord"
    TEAMS = "teams", "Microsoft Teams"
    WEBHOOK = "webhook", "Webhook"
    SMS = "sms", "SMS"


class ScopedRecipient(models.Model):
    """What a recipient wants to hear about: everything, or chosen regions, services or
    components. `component_changes` adds component status changes made outside incidents."""

    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL)
    regions = models.ManyToManyField("statuspage.Region", blank=True, related_name="+")
    services = models.ManyToManyField("statuspage.Service", blank=True, related_name="+")
    components = models.ManyToManyField("statuspage.Component", blank=True, related_name="+")
    component_changes = models.BooleanField(
        default=False,
        help_text="Also notify of component status changes made outside an incident.",
    )
    # The language of every message to the recipient (a code of `statuspage.languages`):
    # chosen by a subscriber when subscribing, by staff for a channel.
    language = models.CharField(max_length=8, default=languages.DEFAULT)
    created_at = models.DateTimeField(auto_now_add=True)
    # Health: when a permanent error happens the recipient is marked broken and skipped.
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    broken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def scope_summary(self) -> str:
        """What the recipient hears about, in words of the active language."""
        if self.scope == Scope.ALL:
            return str(_("everything"))
        items = {
            Scope.REGIONS: self.regions.all(),
            Scope.SERVICES: self.services.all(),
            Scope.COMPONENTS: self.components.all(),
        }[self.scope]
        names = ", ".join(str(item) for item in items) or str(_("nothing chosen"))
        return f"{self.get_scope_display().lower()}: {names}"

    @property
    def language_name(self) -> str:
        """The recipient's language, named in that language (`statuspage.languages.NAMES`)."""
        return languages.NAMES.get(self.language, self.language)


class SubscriberKind(models.TextChoices):
    """How a subscriber is reached; each value is also its `Medium`."""

    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Webhook")
    SLACK = "slack", "Slack"
    DISCORD = "discord", "Discord"
    TEAMS = "teams", "Microsoft Teams"
    SMS = "sms", _("SMS")


# Subscribers reached at a URL of their own; the URL is who they are (unique per kind).
URL_KINDS = (
    SubscriberKind.WEBHOOK,
    SubscriberKind.SLACK,
    SubscriberKind.DISCORD,
    SubscriberKind.TEAMS,
)
# Subscribers whose confirmation is posted to the subscription itself, not emailed.
CHAT_KINDS = (SubscriberKind.SLACK, SubscriberKind.DISCORD, SubscriberKind.TEAMS)


# The rule of an active subscriber / channel as a condition (also for counting, e.g.
# `Count(..., filter=ACTIVE_SUBSCRIBER)`); `objects.active()` and `inactive_reason` agree.
ACTIVE_SUBSCRIBER = Q(
    confirmed_at__isnull=False, unsubscribed_at__isnull=True, broken_at__isnull=True
)
ACTIVE_CHANNEL = Q(enabled=True, broken_at__isnull=True)


class SubscriberQuerySet(models.QuerySet):
    def active(self) -> SubscriberQuerySet:
        """Subscribers who are sent notifications: confirmed, not unsubscribed, not broken.
        The same rule as `Subscriber.inactive_reason` (one is SQL, one is Python; a test
        checks they agree on every combination)."""
        return self.filter(ACTIVE_SUBSCRIBER)


class Subscriber(ScopedRecipient):
    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    kind = models.CharField(max_length=16, choices=SubscriberKind.choices)
    email = models.EmailField(
        max_length=254,
        blank=True,
        help_text="Email and webhook subscribers (where their confirmation goes); optional "
        "for chat and SMS subscribers",
    )
    url = models.URLField(
        max_length=2000, blank=True, help_text="Webhook, Slack, Discord and Teams subscribers"
    )
    phone = models.CharField(max_length=16, blank=True, help_text="SMS subscribers, in E.164")
    secret = models.CharField(max_length=64, default=new_secret, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # When the (last) subscription request was made: unconfirmed ones expire 24 h after it.
    requested_at = models.DateTimeField(default=timezone.now)
    # Wrong opt-in codes typed for the current request (SMS): a few, then a new request.
    code_attempts = models.PositiveSmallIntegerField(default=0, editable=False)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=Q(kind="email"),
                name="subscriber_unique_email",
            ),
            models.UniqueConstraint(
                fields=["url"],
                condition=Q(kind="webhook"),
                name="subscriber_unique_webhook_url",
            ),
            models.UniqueConstraint(
                fields=["kind", "url"],
                condition=Q(kind__in=["slack", "discord", "teams"]),
                name="subscriber_unique_chat_url",
            ),
            models.UniqueConstraint(
                fields=["phone"],
                condition=Q(kind="sms"),
                name="subscriber_unique_phone",
            ),
        ]
        indexes = [models.Index(fields=["kind", "confirmed_at"])]

    def __str__(self) -> str:
        if self.kind in URL_KINDS:
            return self.url
        if self.kind == SubscriberKind.SMS:
            return self.phone
        return self.email

    @property
    def inactive_reason(self) -> str:
        """Why nothing is sent to this subscriber, or "" when it is active (the rule of
        `SubscriberQuerySet.active`): kept on skipped deliveries."""
        if self.unsubscribed_at is not None:
            return "The subscriber unsubscribed."
        if self.broken_at is not None:
            return "The subscriber is broken: " + self.last_error
        if self.confirmed_at is None:
            return "The subscriber is not confirmed."
        return ""

    @property
    def is_active(self) -> bool:
        return not self.inactive_reason

    @property
    def medium(self) -> str:
        return self.kind

    @property
    def shown_as(self) -> str:
        """How the public pages name the subscriber. A chat webhook URL is a secret (whoever
        has it can post into the channel) and the manage and unsubscribe links travel in
        the channel's messages, so only its host and last characters are shown."""
        if self.kind in CHAT_KINDS:
            host = urlsplit(self.url).netloc
            return _("the %(medium)s channel of the webhook %(webhook)s") % {
                "medium": self.get_kind_display(),
                "webhook": f"{host}/…{self.url[-4:]}",
            }
        return str(self)

    @property
    def slack_token(self) -> str:
        """A subscriber's Slack is always an incoming webhook (bot tokens are staff's)."""
        return ""

    @property
    def confirmed_by_email(self) -> bool:
        """Email and webhook subscribers confirm by an emailed link; chat subscribers by a
        link posted into their channel; SMS subscribers by a code texted to them."""
        return self.kind in (SubscriberKind.EMAIL, SubscriberKind.WEBHOOK)


class ChannelKind(models.TextChoices):
    SLACK = "slack", "Slack"
    DISCORD = "discord", "Discord"
    TEAMS = "teams", "Microsoft Teams"
    WEBHOOK = "webhook", "Webhook"


class ChannelQuerySet(models.QuerySet):
    def active(self) -> ChannelQuerySet:
        """Channels that are sent notifications: enabled and not broken. The same rule as
        `Channel.inactive_reason` (a test checks they agree)."""
        return self.filter(ACTIVE_CHANNEL)


class Channel(ScopedRecipient):
    """A staff-configured destination.

    Slack: `url` is an incoming webhook, or `token` (bot token) + `target` (channel id).
    Discord: `url` is the webhook URL (…/webhooks/<id>/<token>).
    Teams: `url` is a Workflows webhook (…/workflows/<id>/triggers/manual/paths/invoke?…).
    Webhook: `url` receives the JSON payloads, signed with `secret`.
    """

    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=2000, blank=True)
    token = models.CharField(max_length=255, blank=True, help_text="Slack bot token (xoxb-…)")
    target = models.CharField(max_length=64, blank=True, help_text="Slack channel id (C…)")
    secret = models.CharField(max_length=64, default=new_secret)
    enabled = models.BooleanField(default=True)
    # Staff alerts (detection: alert sources, check-ins, metric thresholds, incident drafts)
    # go to the Slack and Discord channels that ask for them, besides their public scope.
    staff_alerts = models.BooleanField(
        default=False,
        help_text="Also post staff alerts here (alerts from monitoring, missed check-ins, "
        "metric thresholds, incident drafts). Slack and Discord only.",
    )

    objects = ChannelQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    @property
    def inactive_reason(self) -> str:
        """Why nothing is sent to this channel, or "" when it is active (the rule of
        `ChannelQuerySet.active`): kept on skipped deliveries."""
        if not self.enabled:
            return "The channel is disabled."
        if self.broken_at is not None:
            return "The channel is broken: " + self.last_error
        return ""

    @property
    def is_active(self) -> bool:
        return not self.inactive_reason

    @property
    def medium(self) -> str:
        return self.kind

    @property
    def uses_slack_bot(self) -> bool:
        return self.kind == ChannelKind.SLACK and bool(self.token)

    @property
    def slack_token(self) -> str:
        """The bot token of a bot-token Slack channel ("" for an incoming webhook)."""
        return self.token if self.uses_slack_bot else ""


class SlackThread(models.Model):
    """The first Slack message of an incident in a bot-token channel: later updates of the
    incident are posted as replies to it (`thread_ts`). `ts` is empty while the first
    message is being posted, so a concurrent update waits instead of starting a second
    thread."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="slack_threads")
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    ts = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "incident"], name="slackthread_unique_channel_incident"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} / {self.incident}: {self.ts or '(posting)'}"


class StaffNotice(models.Model):
    """Something staff must look at that is not (yet) public: an alert from monitoring, a
    missed check-in, a metric crossing a threshold, an incident drafted for a commander.

    Posted by `notifier.services.staff_notice_post` (the layers above call it; the notifier
    knows nothing of where the notice came from) to every active channel with
    `staff_alerts`, through the outbox (event key `n<id>`), and by email to staff. `key` makes
    posting twice harmless: a retried intake posts nothing new."""

    key = models.CharField(max_length=200, unique=True)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=2000, blank=True)
    # A component status (how bad it is, for the colour) or "operational" once it is over.
    status = models.CharField(max_length=32, default="major_outage")
    status_label = models.CharField(max_length=64, default="Alert")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.status_label}: {self.title}"


def event_key(kind: str, pk: int) -> str:
    """The outbox's key of an event of `statuspage.hooks` (what `Delivery.event_key` and
    `Event.key` hold): u<update id> or c<change id>. Spelled here only."""
    return f"{'u' if kind == hooks.INCIDENT_UPDATE else 'c'}{pk}"


class Event(models.Model):
    """One event that recipients are told about (an incident update, a component status
    change), as it stood when it was recorded: the page's overall status at that moment. A
    delivery sent or retried later reports that status, not the one of the moment it is sent.

    Written with the event's deliveries, in the transaction that made the event."""

    key = models.CharField(
        max_length=32, unique=True, help_text="u<update id>, c<change id> or n<staff notice id>"
    )
    page_indicator = models.CharField(max_length=16)
    page_description = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.page_indicator}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CLAIMED = "claimed", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed, will retry"
    DEAD = "dead", "Dead"
    SKIPPED = "skipped", "Skipped"


CLAIMABLE_STATUSES = [DeliveryStatus.PENDING, DeliveryStatus.FAILED]


class DeliveryQuerySet(models.QuerySet):
    def dead_retryable(self) -> DeliveryQuerySet:
        """Dead deliveries that a retry would send again: those of recipients that are not
        broken (a broken one is fixed and saved first, which puts it back in service)."""
        return (
            self.filter(status=DeliveryStatus.DEAD)
            .exclude(channel__broken_at__isnull=False)
            .exclude(subscriber__broken_at__isnull=False)
        )


class Delivery(models.Model):
    """One event for one recipient: the outbox row.

    Life: pending → claimed → sent; or → failed (retry at next_attempt_at) → claimed …;
    or → dead (permanent error, or out of attempts); or → skipped (the recipient was
    unsubscribed, disabled or broken before it was sent). `claim_token` identifies the task
    run that claimed it, so a run that lost its claim (requeued as too old) cannot mark it.
    """

    event_key = models.CharField(max_length=32, help_text="u<update id> or c<change id>")
    recipient_key = models.CharField(max_length=32, help_text="s<subscriber id> or h<channel id>")
    medium = models.CharField(max_length=16, choices=Medium.choices, db_index=True)
    update = models.ForeignKey(
        "incidents.IncidentUpdate",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    component_change = models.ForeignKey(
        "statuspage.ComponentStatusChange",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    subscriber = models.ForeignKey(
        Subscriber, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    response_code = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event_key", "recipient_key"], name="delivery_unique_event_recipient"
            ),
            models.CheckConstraint(
                condition=Q(subscriber__isnull=False) | Q(channel__isnull=False),
                name="delivery_has_recipient",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_key} → {self.recipient_key}: {self.status}"

    @property
    def recipient(self) -> Subscriber | Channel:
        return self.subscriber if self.subscriber_id else self.channel


class DirectEmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CLAIMED = "claimed", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed, will retry"
    DEAD = "dead", "Dead"


class DirectEmail(models.Model):
    """An email to one address that is not a subscriber (an account's billing contact told
    of its credit): the outbox row of a one-off message, written by a higher layer in its own
    transaction with the text it wants sent, and delivered like the other deliveries —
    claimed, retried with backoff, re-queued by beat, visible to staff.

    `key` says what the message is about (e.g. `credits.notice:<…>:<account>`): unique, so a
    repeated or resumed write sends it once."""

    key = models.CharField(max_length=255, unique=True)
    purpose = models.CharField(max_length=64, help_text="Who asked, e.g. credits.notice")
    to_email = models.EmailField(max_length=254)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    language = models.CharField(max_length=16, blank=True)
    status = models.CharField(
        max_length=16, choices=DirectEmailStatus.choices, default=DirectEmailStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.key} → {self.to_email}: {self.status}"

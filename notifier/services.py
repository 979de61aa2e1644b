"""The notifier's write path: the outbox, the delivery loop, subscribers and channels.

The outbox
----------
When `incidents.services` records an incident update, or `statuspage.services` a component
status change (events of `statuspage.hooks`), the notifier's handlers registered in
`NotifierConfig.ready()` run inside that transaction: `deliveries_create_for_update` and
`deliveries_create_for_component_change` write one `Delivery` row per recipient (unique per
event and recipient) and an `Event` row with the page's overall status at that moment. After
commit, `deliveries_enqueue_committed` enqueues the new rows of the whole transaction in one
batch. Nothing is sent inside the transaction, and a rolled-back write enqueues nothing.

The delivery loop
-----------------
A task calls `deliveries_send(delivery_ids=…)`. It re-reads the rows and **claims** the ones
still due with one atomic `UPDATE … WHERE status IN (pending, failed)`, tagging them with a
claim token; only the run holding the token may mark them afterwards. Each send is marked as
soon as it is done (sent / failed with a retry time / dead), so a worker killed mid-batch
leaves at most the message in flight to be sent twice. Retries back off exponentially with
jitter; a 429 waits exactly what the remote said. A permanent error marks the delivery dead
and the recipient broken, and tells staff (audit trail + email to staff).

`deliveries_requeue` (beat) hands back rows claimed too long ago (a killed worker) and
re-enqueues rows due but never picked up (a lost broker message): at-least-once, with the
claim making a second copy of a task harmless.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection, send_mail
from django.core.validators import validate_email
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from incidents.models import IncidentUpdate
from incidents.selectors import page_status
from notifier.integrations import transport_for
from notifier.integrations.email.transport import build_message, send_one
from notifier.integrations.sms import ratelimit as sms_ratelimit
from notifier.integrations.sms.transport import already_text as sms_already_text
from notifier.integrations.sms.transport import code_text as sms_code_text
from notifier.integrations.sms.transport import send_text as sms_send_text
from notifier.integrations.sms.transport import sms_enabled
from notifier.messages import Notice, notice_for_event, notice_for_subscription, notice_for_test
from notifier.models import (
    CLAIMABLE_STATUSES,
    URL_KINDS,
    Channel,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    DirectEmail,
    DirectEmailStatus,
    Event,
    Medium,
    Scope,
    SlackThread,
    StaffNotice,
    Subscriber,
    SubscriberKind,
    event_key,
)
from notifier.tokens import (
    CONFIRM_MAX_AGE,
    confirm_url,
    manage_url,
    sms_code,
    sms_code_matches,
    unsubscribe_url,
)
from notifier.transports import SendResult, TransportError
from notifier.validators import DISCORD, SLACK, TEAMS, WEBHOOK, check_target, normalize_phone
from statuspage import hooks, languages, queues
from statuspage.models import Component, ComponentStatusChange, Region, Service
from statuspage.services import Actor, audit_record
from statuspage.text import clean_text, one_line

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = 30.0  # seconds before the 2nd attempt; doubles each time
BACKOFF_CAP = 3600.0
EMAIL_BATCH_SIZE = 100
# Slack, Discord, Teams and SMS deliveries go to one vendor per medium, so a batch of them
# waits for nothing a single one would not; webhooks (anyone's host) stay one per task.
CHAT_BATCH_SIZE = 10
BATCHED_MEDIA = {Medium.SLACK, Medium.DISCORD, Medium.TEAMS, Medium.SMS}
SLACK_THREAD_WAIT = 2.0  # another delivery is posting the thread's first message
SYSTEM = Actor.system("notifier")

TASK_FOR_MEDIUM = {
    Medium.EMAIL: "notifier.tasks.deliver_email",
    Medium.SLACK: "notifier.tasks.deliver_chat",
    Medium.DISCORD: "notifier.tasks.deliver_chat",
    Medium.TEAMS: "notifier.tasks.deliver_chat",
    Medium.SMS: "notifier.tasks.deliver_chat",
    Medium.WEBHOOK: "notifier.tasks.deliver_webhook",
}


# --- Recipients -------------------------------------------------------------------------------


def _scope_filter(components: Sequence[Component]) -> Q:
    """Recipients whose scope covers any of `components`.

    An event with no components concerns the whole page and reaches everyone. A global
    component (no region) concerns every region.
    """
    if not components:
        return Q()
    component_ids = {c.pk for c in components}
    service_ids = {c.service_id for c in components}
    region_ids = {c.region_id for c in components if c.region_id is not None}
    q = (
        Q(scope=Scope.ALL)
        | Q(scope=Scope.COMPONENTS, components__in=component_ids)
        | Q(scope=Scope.SERVICES, services__in=service_ids)
    )
    if any(c.region_id is None for c in components):
        q |= Q(scope=Scope.REGIONS)
    else:
        q |= Q(scope=Scope.REGIONS, regions__in=region_ids)
    return q


def _write_deliveries(
    *,
    event_key: str,
    subscribers: Iterable[tuple[int, str]],
    channels: Iterable[tuple[int, str]],
    update_id: int | None = None,
    change_id: int | None = None,
) -> int:
    now = timezone.now()
    rows = [
        Delivery(
            event_key=event_key,
            recipient_key=f"s{pk}",
            medium=kind,  # a subscriber's kind is its medium
            subscriber_id=pk,
            update_id=update_id,
            component_change_id=change_id,
            next_attempt_at=now,
        )
        for pk, kind in subscribers
    ] + [
        Delivery(
            event_key=event_key,
            recipient_key=f"h{pk}",
            medium=kind,
            channel_id=pk,
            update_id=update_id,
            component_change_id=change_id,
            next_attempt_at=now,
        )
        for pk, kind in channels
    ]
    if not rows:
        return 0
    overall = page_status()
    Event.objects.get_or_create(
        key=event_key,
        defaults={"page_indicator": overall.indicator, "page_description": overall.description},
    )
    # A second call for the same event (a retried request) must not duplicate rows.
    Delivery.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


def deliveries_create_for_update(*, update: IncidentUpdate) -> int:
    """Write one delivery per recipient that must hear of this update. Returns the count.

    Called inside the transaction that posted the update (the `INCIDENT_UPDATE` event of
    `statuspage.hooks`); an update that does not deliver notifications writes nothing.
    """
    if not update.deliver_notifications:
        return 0
    component_ids = set(update.incident.components.values_list("pk", flat=True))
    component_ids |= set(update.status_changes.values_list("component_id", flat=True))
    components = list(Component.objects.filter(pk__in=component_ids))
    scope = _scope_filter(components)
    subscribers = Subscriber.objects.active().filter(scope).values_list("pk", "kind").distinct()
    channels = Channel.objects.active().filter(scope).values_list("pk", "kind").distinct()
    return _write_deliveries(
        event_key=event_key(hooks.INCIDENT_UPDATE, update.pk),
        subscribers=list(subscribers),
        channels=list(channels),
        update_id=update.pk,
    )


def deliveries_create_for_component_change(*, change: ComponentStatusChange) -> int:
    """Write deliveries for a component status change made outside an incident update, to
    the recipients that asked for component changes. Changes made by an incident update are
    told by that update's own notification."""
    if change.incident_update_id is not None:
        return 0
    scope = _scope_filter([change.component])
    subscribers = (
        Subscriber.objects.active()
        .filter(component_changes=True)
        .filter(scope)
        .values_list("pk", "kind")
        .distinct()
    )
    channels = (
        Channel.objects.active()
        .filter(component_changes=True)
        .filter(scope)
        .values_list("pk", "kind")
        .distinct()
    )
    return _write_deliveries(
        event_key=event_key(hooks.COMPONENT_CHANGE, change.pk),
        subscribers=list(subscribers),
        channels=list(channels),
        change_id=change.pk,
    )


# --- Enqueueing -------------------------------------------------------------------------------


def deliveries_enqueue(*, deliveries: Iterable[tuple[int, str]], countdown: float = 0) -> int:
    """Publish tasks for (id, medium) pairs: email in batches of 100 (one SMTP connection
    each), Slack, Discord, Teams and SMS in batches of 10 of one medium (one vendor: a task
    per message cost more than the message), webhooks one per delivery (a slow receiver holds
    back no other), each on its medium's queue.

    A broker that is down is logged, not raised: the rows are in the database and
    `deliveries_requeue` enqueues them again. Returns the number of tasks published.
    """
    by_medium: dict[str, list[int]] = defaultdict(list)
    for pk, medium in deliveries:
        by_medium[medium].append(pk)
    if not by_medium:
        return 0  # no broker connection for nothing (most writes have no recipient)
    published = 0
    retry_policy = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5}
    # Email first: it is the biggest share of a fan-out, so its worker starts soonest.
    order = sorted(by_medium, key=lambda medium: medium != Medium.EMAIL)
    try:
        with current_app.producer_or_acquire() as producer:  # one connection for it all
            for medium in order:
                ids = by_medium[medium]
                if medium == Medium.EMAIL:
                    size = EMAIL_BATCH_SIZE
                elif medium in BATCHED_MEDIA:
                    size = CHAT_BATCH_SIZE
                else:
                    size = 1
                chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
                task = queues.task(TASK_FOR_MEDIUM[medium])
                for chunk in chunks:
                    task.apply_async(
                        args=[chunk],
                        countdown=countdown or None,
                        retry_policy=retry_policy,
                        producer=producer,
                    )
                    published += 1
    except Exception:  # the broker is down: requeue will pick the rows up
        log.exception("could not enqueue deliveries; deliveries_requeue will retry")
    return published


def deliveries_enqueue_committed(commit: hooks.Commit) -> int:
    """After commit (the `DELIVER` stage): enqueue the new deliveries of every event of the
    transaction, in one batch over one broker connection."""
    keys = [event_key(kind, pk) for kind, pk in commit.events]
    if not keys:
        return 0
    rows: list[tuple[int, str]] = []
    for chunk in _chunks(keys):
        rows.extend(
            Delivery.objects.filter(
                event_key__in=chunk, status=DeliveryStatus.PENDING, attempts=0
            ).values_list("pk", "medium")
        )
    return deliveries_enqueue(deliveries=rows)


# --- The delivery loop ------------------------------------------------------------------------


def _retry_delay(attempts: int) -> float:
    """Exponential backoff with jitter: about 30 s, 1 min, 2 min, … capped at an hour; the
    jitter spreads retries of a big fan-out so they do not hit the remote all at once."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def _claim(delivery_ids: Sequence[int], token: str, now: datetime) -> list[Delivery]:
    """Atomically take the due, unclaimed rows among `delivery_ids` for this run.

    One `UPDATE … RETURNING` where the database has it (PostgreSQL, SQLite ≥ 3.35): it runs
    once per task, and on a busy database every round trip counts. Recipients are then
    loaded in one query per kind.
    """
    if not delivery_ids:
        return []
    due = now + timedelta(seconds=1)
    if db_connection.features.can_return_columns_from_insert:
        table = Delivery._meta.db_table
        columns = ", ".join(
            db_connection.ops.quote_name(f.column) for f in Delivery._meta.concrete_fields
        )
        ids = ", ".join(["%s"] * len(delivery_ids))
        sql = (
            f"UPDATE {table} SET status = %s, claim_token = %s, claimed_at = %s, "
            f"attempts = attempts + 1, updated_at = %s "
            f"WHERE id IN ({ids}) AND status IN (%s, %s) AND next_attempt_at <= %s "
            f"RETURNING {columns}"
        )
        params = [DeliveryStatus.CLAIMED, token, now, now, *delivery_ids, *CLAIMABLE_STATUSES, due]
        deliveries = sorted(Delivery.objects.raw(sql, params), key=lambda d: d.pk)
    else:
        Delivery.objects.filter(
            pk__in=delivery_ids, status__in=CLAIMABLE_STATUSES, next_attempt_at__lte=due
        ).update(
            status=DeliveryStatus.CLAIMED,
            claim_token=token,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
        deliveries = list(
            Delivery.objects.filter(claim_token=token, status=DeliveryStatus.CLAIMED).order_by("pk")
        )
    subscriber_ids = {d.subscriber_id for d in deliveries if d.subscriber_id}
    channel_ids = {d.channel_id for d in deliveries if d.channel_id}
    subscribers = Subscriber.objects.in_bulk(subscriber_ids) if subscriber_ids else {}
    channels = Channel.objects.in_bulk(channel_ids) if channel_ids else {}
    for delivery in deliveries:
        if delivery.subscriber_id:
            delivery.subscriber = subscribers[delivery.subscriber_id]
        if delivery.channel_id:
            delivery.channel = channels[delivery.channel_id]
    return deliveries


_MARK_SENT_SQL = (
    "UPDATE notifier_delivery SET status = %s, sent_at = %s, response_code = %s, "
    "last_error = '', updated_at = %s WHERE id = %s AND claim_token = %s"
)


def _mark_sent(delivery: Delivery, result: SendResult) -> None:
    """One statement per message, written as plain SQL: it runs once per recipient of every
    fan-out (10,000 times for 10,000 subscribers), so the ORM's query building shows."""
    now = timezone.now()
    with db_connection.cursor() as cursor:
        cursor.execute(
            _MARK_SENT_SQL,
            [DeliveryStatus.SENT, now, result.status_code, now, delivery.pk, delivery.claim_token],
        )


def _mark_skipped(delivery: Delivery, reason: str) -> None:
    Delivery.objects.filter(pk=delivery.pk, claim_token=delivery.claim_token).update(
        status=DeliveryStatus.SKIPPED, last_error=reason
    )


def _mark_error(delivery: Delivery, error: TransportError) -> None:
    """Record a failed attempt: schedule a retry, or give up (dead) and mark the recipient
    broken when the error is permanent."""
    now = timezone.now()
    dead = error.permanent or delivery.attempts >= MAX_ATTEMPTS
    if error.retry_after is not None and not error.permanent:
        delay = error.retry_after
    else:
        delay = _retry_delay(delivery.attempts)
    updated = Delivery.objects.filter(pk=delivery.pk, claim_token=delivery.claim_token).update(
        status=DeliveryStatus.DEAD if dead else DeliveryStatus.FAILED,
        response_code=error.status_code,
        last_error=error.message[:2000],
        next_attempt_at=now if dead else now + timedelta(seconds=delay),
    )
    recipient = delivery.recipient
    type(recipient).objects.filter(pk=recipient.pk).update(
        last_error=error.message[:2000], last_error_at=now
    )
    if error.permanent:
        recipient_mark_broken(recipient=recipient, error=error.message)
    elif updated and not dead:
        deliveries_enqueue(deliveries=[(delivery.pk, delivery.medium)], countdown=delay)


def deliveries_send(*, delivery_ids: Sequence[int]) -> dict[str, int]:
    """Claim, send and mark the given deliveries. Returns counts by outcome.

    Emails share one connection of the configured backend. A lost connection is reopened
    for the next message; if it cannot be opened, the rest of the batch is scheduled for a
    retry at once instead of waiting for a connection timeout per message.
    """
    token = uuid.uuid4().hex
    deliveries = _claim(delivery_ids, token, timezone.now())
    outcome: dict[str, int] = defaultdict(int)
    connection = None
    email_down: str | None = None
    ok_subscribers: list[int] = []
    ok_channels: list[int] = []
    # A lone chat or webhook delivery is not worth two more round trips.
    relaxed = _relax_commits(len(deliveries) > 4)
    try:
        for delivery in deliveries:
            # The recipient was active when the row was written; it may not be any more.
            reason = delivery.recipient.inactive_reason
            if reason:
                _mark_skipped(delivery, reason)
                outcome["skipped"] += 1
                continue
            try:
                notice = notice_for_event(delivery.event_key, delivery.recipient.language)
                if delivery.medium == Medium.EMAIL:
                    if email_down is not None:
                        raise TransportError(email_down)
                    if connection is None:
                        connection = get_connection()
                        try:
                            connection.open()
                        except Exception as exc:
                            connection = None
                            email_down = f"The email server is unavailable: {exc}"
                            raise TransportError(email_down) from exc
                    result = _send_email(notice, delivery.subscriber, connection)
                else:
                    result = _send_other(notice, delivery)
            except TransportError as error:
                lost = not error.permanent and error.status_code is None
                if connection is not None and lost:
                    connection.close()  # the connection, not the address: start a new one
                    connection = None
                _mark_error(delivery, error)
                outcome["dead" if error.permanent else "failed"] += 1
                continue
            except Exception as exc:  # a bug or an unexpected library error: retry later
                log.exception("delivery %s failed unexpectedly", delivery.pk)
                _mark_error(delivery, TransportError(f"{exc.__class__.__name__}: {exc}"))
                outcome["failed"] += 1
                continue
            _mark_sent(delivery, result)
            outcome["sent"] += 1
            if delivery.subscriber_id:
                ok_subscribers.append(delivery.subscriber_id)
            else:
                ok_channels.append(delivery.channel_id)
    finally:
        if connection is not None:
            connection.close()
        if ok_subscribers:
            Subscriber.objects.filter(pk__in=ok_subscribers).update(last_success_at=timezone.now())
        if ok_channels:
            Channel.objects.filter(pk__in=ok_channels).update(last_success_at=timezone.now())
        if relaxed:
            _restore_commits()
    return dict(outcome)


def _relax_commits(needed: bool) -> bool:
    """On PostgreSQL, mark deliveries with asynchronous commit: each mark is visible at once,
    but does not wait for its WAL flush (a mark per message would otherwise wait for one
    fsync per message). A database crash can lose the last few marks; those deliveries are
    then sent again, which at-least-once delivery allows. The outbox rows themselves are
    written by the caller's transaction with full durability."""
    if not needed or db_connection.vendor != "postgresql" or db_connection.in_atomic_block:
        return False
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    return True


def _restore_commits() -> None:
    try:
        with db_connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
    except Exception:  # a broken connection is discarded by Django anyway
        log.warning("could not reset synchronous_commit", exc_info=True)


def _send_email(notice: Notice, subscriber: Subscriber, connection) -> SendResult:
    return send_one(build_message(notice, subscriber), connection)


def _send_other(notice: Notice, delivery: Delivery) -> SendResult:
    recipient = delivery.recipient
    transport = transport_for(recipient)
    if isinstance(recipient, Channel) and recipient.uses_slack_bot and notice.incident_id:
        return _send_slack_threaded(transport, recipient, notice)
    return transport.send(notice)


def _send_slack_threaded(transport, channel: Channel, notice: Notice) -> SendResult:
    """All updates of one incident in one Slack thread: the first message starts it (its
    ts is stored), the others reply to it."""
    thread, created = SlackThread.objects.get_or_create(
        channel=channel, incident_id=notice.incident_id
    )
    stale = thread.created_at < timezone.now() - timedelta(minutes=2)
    if not created and not thread.ts and not stale:
        raise TransportError(
            "Waiting for the first message of the incident's thread.",
            retry_after=SLACK_THREAD_WAIT,
        )
    if thread.ts:
        return transport.send(notice, thread_ts=thread.ts)
    try:
        result = transport.send(notice)
    except TransportError:
        SlackThread.objects.filter(pk=thread.pk, ts="").delete()
        raise
    SlackThread.objects.filter(pk=thread.pk).update(ts=result.detail)
    return result


def deliveries_requeue(*, now: datetime | None = None) -> int:
    """Beat: give back deliveries claimed too long ago (their worker died) and enqueue the
    ones due but not picked up (their broker message was lost). Returns how many."""
    now = now or timezone.now()
    claim_timeout = settings.HELIOGRAPH_DELIVERY_CLAIM_TIMEOUT
    requeue_after = settings.HELIOGRAPH_DELIVERY_REQUEUE_AFTER
    Delivery.objects.filter(
        status=DeliveryStatus.CLAIMED, claimed_at__lt=now - timedelta(seconds=claim_timeout)
    ).update(status=DeliveryStatus.PENDING, claim_token="", next_attempt_at=now - timedelta(days=1))
    due = list(
        Delivery.objects.filter(
            status__in=CLAIMABLE_STATUSES,
            next_attempt_at__lt=now - timedelta(seconds=requeue_after),
        )
        .order_by("next_attempt_at")
        .values_list("pk", "medium")[:50000]
    )
    direct = direct_emails_requeue(now=now)
    if not due:
        return direct
    # Due again only after another grace period, so a slow queue is not flooded with copies.
    for chunk in _chunks(due):
        Delivery.objects.filter(pk__in=[pk for pk, _ in chunk]).update(next_attempt_at=now)
    deliveries_enqueue(deliveries=due)
    return len(due) + direct


def _chunks(items: list, size: int = 500) -> list[list]:
    """Slices small enough for any database's limit on query parameters (SQLite's)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


@transaction.atomic
def deliveries_retry_dead(
    *, actor: Actor, update: IncidentUpdate | None = None, medium: str | None = None
) -> int:
    """Staff: send the dead deliveries (of an update, of a medium) again, from attempt 0.
    Broken recipients are not retried: fix and re-enable the channel first."""
    rows = Delivery.objects.dead_retryable()
    if update is not None:
        rows = rows.filter(update=update)
    if medium:
        rows = rows.filter(medium=medium)
    pairs = list(rows.values_list("pk", "medium"))
    if not pairs:
        return 0
    for chunk in _chunks(pairs):
        Delivery.objects.filter(pk__in=[pk for pk, _ in chunk]).update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            claim_token="",
        )
    audit_record(
        actor=actor,
        action="deliveries.retry_dead",
        obj=update,
        summary=f"{len(pairs)} dead deliveries sent again",
    )
    transaction.on_commit(lambda: deliveries_enqueue(deliveries=pairs))
    return len(pairs)


# --- Recipient health -------------------------------------------------------------------------


def _skip_queued_deliveries(recipient: Channel | Subscriber) -> int:
    """A recipient that became inactive gets none of its queued deliveries, which are marked
    skipped with the recipient's reason, the one the send-time check gives for a delivery
    that was in flight meanwhile (`deliveries_send`)."""
    field = "subscriber" if isinstance(recipient, Subscriber) else "channel"
    return Delivery.objects.filter(**{field: recipient}, status__in=CLAIMABLE_STATUSES).update(
        status=DeliveryStatus.SKIPPED, last_error=recipient.inactive_reason[:2000]
    )


def recipient_mark_broken(*, recipient: Channel | Subscriber, error: str) -> bool:
    """Stop sending to a recipient after a permanent error, and tell staff (audit trail; for
    channels also an email to staff). Returns False if it was already broken."""
    now = timezone.now()
    model = type(recipient)
    changed = model.objects.filter(pk=recipient.pk, broken_at__isnull=True).update(
        broken_at=now, last_error=error[:2000], last_error_at=now
    )
    if not changed:
        return False
    recipient.refresh_from_db()
    # Deliveries waiting for this recipient will not work either.
    _skip_queued_deliveries(recipient)
    kind = "channel" if isinstance(recipient, Channel) else "subscriber"
    audit_record(
        actor=SYSTEM,
        action=f"notifier.{kind}_broken",
        obj=recipient,
        summary=f"{recipient}: {error}"[:1000],
    )
    if isinstance(recipient, Channel):
        _tell_staff(recipient, error)
    return True


def _tell_staff(channel: Channel, error: str) -> None:
    """Queue the "channel broken" email to staff (on the email queue: a chat worker must not
    wait for a mail server)."""
    try:
        queues.task("notifier.tasks.staff_alert").apply_async(
            args=[channel.pk, error[:2000]],
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception:  # the audit entry and the console banner still tell staff
        log.exception("could not enqueue the staff alert for channel %s", channel.pk)


def staff_alert_send(*, channel_id: int, error: str) -> int:
    """Email every active staff user with an address that a channel broke. Returns how many."""
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        return 0
    emails = list(
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not emails:
        return 0
    send_mail(
        subject=one_line(f"[{settings.SITE_NAME}] Notification channel broken: {channel.name}"),
        message=(
            f"The {channel.get_kind_display()} channel “{channel.name}” failed permanently and "
            f"is no longer used:\n\n{error}\n\nFix it and re-enable it at "
            f"{settings.SITE_URL}/console/notifications/channels/{channel.pk}/"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=emails,
    )
    return len(emails)


# --- Staff notices ----------------------------------------------------------------------------


@transaction.atomic
def staff_notice_post(
    *,
    key: str,
    title: str,
    body: str = "",
    url: str = "",
    status: str = "major_outage",
    status_label: str = "Alert",
    email: bool = True,
) -> StaffNotice | None:
    """Tell staff about something that is not public (yet): one outbox row per active
    channel marked `staff_alerts` (Slack, Discord, Teams), and, with `email`, an email to every
    active staff user with an address. Written in the caller's transaction, sent after it
    commits. `key` says what the notice is about (e.g. `alert:12:firing`): a notice with a
    key already posted is not posted again (returns None), so a retried intake is harmless.

    The layers above (detection, metrics) call this; the notifier does not know them."""
    title = one_line(clean_text(title, field="title", single_line=True) or "")[:255]
    body = clean_text(body, field="body") or ""
    notice, created = StaffNotice.objects.get_or_create(
        key=key[:200],
        defaults={
            "title": title or "Staff alert",
            "body": body,
            "url": url[:2000],
            "status": status,
            "status_label": one_line(status_label)[:64],
        },
    )
    if not created:
        return None
    channels = Channel.objects.active().filter(staff_alerts=True).values_list("pk", "kind")
    event = f"n{notice.pk}"
    if _write_deliveries(event_key=event, subscribers=[], channels=list(channels)):
        transaction.on_commit(lambda: _enqueue_events([event]))
    if email:

        def enqueue_email() -> None:
            try:
                queues.task("notifier.tasks.staff_notice_email").apply_async(
                    args=[notice.pk],
                    retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
                )
            except Exception:  # the console shows the alert; chat got its outbox rows
                log.exception("could not enqueue the email of staff notice %s", notice.pk)

        transaction.on_commit(enqueue_email)
    return notice


def _enqueue_events(keys: list[str]) -> int:
    rows = list(
        Delivery.objects.filter(
            event_key__in=keys, status=DeliveryStatus.PENDING, attempts=0
        ).values_list("pk", "medium")
    )
    return deliveries_enqueue(deliveries=rows)


def staff_notice_email(*, notice_id: int) -> int:
    """Email a staff notice to every active staff user with an address. Returns how many."""
    notice = StaffNotice.objects.filter(pk=notice_id).first()
    if notice is None:
        return 0
    emails = list(
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not emails:
        return 0
    body = notice.body + (f"\n\n{notice.url}" if notice.url else "")
    send_mail(
        subject=one_line(f"[{settings.SITE_NAME}] {notice.status_label}: {notice.title}"),
        message=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=emails,
    )
    return len(emails)


# --- Channels (staff) -------------------------------------------------------------------------


_CHOOSE_ONE = {
    Scope.REGIONS: gettext_lazy("Choose at least one of the regions."),
    Scope.SERVICES: gettext_lazy("Choose at least one of the services."),
    Scope.COMPONENTS: gettext_lazy("Choose at least one of the components."),
}


def _validate_scope(
    scope: str,
    regions: Sequence[Region],
    services: Sequence[Service],
    components: Sequence[Component],
) -> None:
    if scope not in Scope.values:
        raise ValidationError(
            {
                "scope": _("'%(scope)s' is not a scope; use one of %(scopes)s.")
                % {"scope": scope, "scopes": ", ".join(Scope.values)}
            }
        )
    chosen = {Scope.REGIONS: regions, Scope.SERVICES: services, Scope.COMPONENTS: components}
    if scope != Scope.ALL and not chosen[scope]:
        raise ValidationError({"scope": str(_CHOOSE_ONE[scope])})


def language_clean(language: str | None) -> str:
    """A recipient's language as one of the page's codes (`pt-BR` → `pt-br`, `de-AT` → `de`);
    English when none is given. Raises ValidationError({"language": …}) naming the languages
    when it is not one of them."""
    if language is None or not str(language).strip():
        return languages.DEFAULT
    code = languages.language_normalize(str(language))
    if code is None:
        raise ValidationError(
            {
                "language": _(
                    "'%(language)s' is not a language of this page; use one of %(codes)s."
                )
                % {"language": language, "codes": ", ".join(languages.CODES)}
            }
        )
    return code


def _set_scope(recipient, scope, regions, services, components) -> None:
    recipient.regions.set(regions if scope == Scope.REGIONS else [])
    recipient.services.set(services if scope == Scope.SERVICES else [])
    recipient.components.set(components if scope == Scope.COMPONENTS else [])


def _validate_channel(
    kind: str, url: str, token: str, target: str, staff_alerts: bool = False
) -> dict[str, str]:
    """The destination of a channel; URLs by `notifier.validators.check_target`, the one rule
    of where Heliograph may send. Staff alerts are chat messages for people: Slack, Discord
    and Teams only (a webhook receiver would get a payload no one documented)."""
    errors: dict[str, str] = {}
    if staff_alerts and kind not in (ChannelKind.SLACK, ChannelKind.DISCORD, ChannelKind.TEAMS):
        errors["staff_alerts"] = (
            "Staff alerts go to chat channels only: Slack and Discord, or Microsoft Teams."
        )
    try:
        if kind == ChannelKind.SLACK:
            if token or target:
                if not token.startswith("xox"):
                    errors["token"] = "A Slack bot token starts with xoxb-."
                if not target:
                    errors["target"] = "A bot token needs the channel id (C…)."
                if url:
                    errors["url"] = "Give either an incoming webhook URL or a bot token, not both."
            elif not url:
                errors["url"] = "Give an incoming webhook URL, or a bot token and a channel id."
            else:
                check_target(url, kind=SLACK)
        elif kind == ChannelKind.DISCORD:
            check_target(url, kind=DISCORD)
        elif kind == ChannelKind.TEAMS:
            check_target(url, kind=TEAMS)
        elif kind == ChannelKind.WEBHOOK:
            check_target(url, kind=WEBHOOK)
        else:
            errors["kind"] = f"'{kind}' is not a kind of channel."
    except ValidationError as exc:
        errors["url"] = exc.messages[0]
    return errors


@transaction.atomic
def channel_create(
    *,
    kind: str,
    name: str,
    actor: Actor,
    url: str = "",
    token: str = "",
    target: str = "",
    enabled: bool = True,
    scope: str = Scope.ALL,
    regions: Sequence[Region] = (),
    services: Sequence[Service] = (),
    components: Sequence[Component] = (),
    component_changes: bool = False,
    staff_alerts: bool = False,
    language: str | None = languages.DEFAULT,
) -> Channel:
    """Add a channel. URLs are checked (see notifier.validators); bad input writes nothing.
    A channel added disabled (`enabled=False`) is kept but sent nothing until enabled.
    `language` is the language of its messages (`language_clean`)."""
    name = clean_text(name, field="name", single_line=True)
    language = language_clean(language)
    url, token, target = url.strip(), token.strip(), target.strip()
    errors = _validate_channel(kind, url, token, target, staff_alerts)
    if not name:
        errors["name"] = "The name is required."
    if errors:
        raise ValidationError(errors)
    _validate_scope(scope, regions, services, components)
    channel = Channel.objects.create(
        kind=kind,
        name=name,
        url=url,
        token=token,
        target=target,
        enabled=enabled,
        scope=scope,
        component_changes=component_changes,
        staff_alerts=staff_alerts,
        language=language,
    )
    _set_scope(channel, scope, regions, services, components)
    audit_record(actor=actor, action="channel.create", obj=channel, summary=str(channel))
    return channel


@transaction.atomic
def channel_update(
    *,
    channel: Channel,
    actor: Actor,
    name: str,
    url: str = "",
    token: str = "",
    target: str = "",
    enabled: bool = True,
    scope: str = Scope.ALL,
    regions: Sequence[Region] = (),
    services: Sequence[Service] = (),
    components: Sequence[Component] = (),
    component_changes: bool = False,
    staff_alerts: bool = False,
    language: str | None = None,
) -> Channel:
    """Change a channel. Saving it clears the broken state: staff fixed it (or want to try).
    `language` None keeps the channel's language."""
    name = clean_text(name, field="name", single_line=True)
    language = channel.language if language is None else language_clean(language)
    url, token, target = url.strip(), token.strip(), target.strip()
    errors = _validate_channel(channel.kind, url, token, target, staff_alerts)
    if not name:
        errors["name"] = "The name is required."
    if errors:
        raise ValidationError(errors)
    _validate_scope(scope, regions, services, components)
    channel = Channel.objects.select_for_update().get(pk=channel.pk)
    channel.name, channel.url, channel.token, channel.target = name, url, token, target
    channel.enabled, channel.scope, channel.component_changes = enabled, scope, component_changes
    channel.staff_alerts, channel.language = staff_alerts, language
    channel.broken_at = None
    channel.save()
    _set_scope(channel, scope, regions, services, components)
    audit_record(actor=actor, action="channel.update", obj=channel, summary=str(channel))
    return channel


@transaction.atomic
def channel_delete(*, channel: Channel, actor: Actor) -> None:
    audit_record(actor=actor, action="channel.delete", obj=channel, summary=str(channel))
    channel.delete()


def channel_send_test(*, channel: Channel, actor: Actor) -> SendResult:
    """Send a test message now (not through the outbox) and record the channel's health.
    Raises TransportError with the reason when it fails."""
    notice = notice_for_test(channel.name, language=channel.language)
    now = timezone.now()
    try:
        result = transport_for(channel).send(notice)
    except TransportError as error:
        Channel.objects.filter(pk=channel.pk).update(last_error=error.message, last_error_at=now)
        audit_record(
            actor=actor, action="channel.test", obj=channel, summary=f"failed: {error.message}"
        )
        raise
    Channel.objects.filter(pk=channel.pk).update(last_success_at=now)
    audit_record(actor=actor, action="channel.test", obj=channel, summary="sent")
    return result


# --- Subscribers (public) ---------------------------------------------------------------------

SMS_CODE_ATTEMPTS = 5  # wrong codes per request; then the number asks for a new code
CODE_REFUSED = gettext_lazy(
    "That code is not right, or it has expired: check the text, or ask for a new code."
)
# What a subscriber's URL is checked as (notifier.validators.check_target).
TARGET_KIND = {
    SubscriberKind.WEBHOOK: WEBHOOK,
    SubscriberKind.SLACK: SLACK,
    SubscriberKind.DISCORD: DISCORD,
    SubscriberKind.TEAMS: TEAMS,
}


def _send_confirmation_after_commit(subscriber: Subscriber, purpose: str) -> None:
    """After commit, ask the subscriber to confirm (`confirm`) or tell them they already are
    (`already`): by email for email and webhook subscribers, posted into the channel for chat
    subscribers, texted (with the code) for SMS."""
    name = (
        "notifier.tasks.subscriber_email"
        if subscriber.confirmed_by_email
        else "notifier.tasks.subscriber_post_confirmation"
    )

    def enqueue() -> None:
        try:
            queues.task(name).apply_async(
                args=[subscriber.pk, purpose],
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
            )
        except Exception:
            log.exception(
                "could not enqueue the %s message of subscriber %s", purpose, subscriber.pk
            )

    transaction.on_commit(enqueue)


def _validated_subscription(
    *,
    email: str,
    kind: str,
    url: str,
    phone: str,
    phone_country: str,
    scope: str,
    regions: Sequence[Region],
    services: Sequence[Service],
    components: Sequence[Component],
) -> tuple[str, str, str, dict]:
    """Check a subscription request; return the normalised email, URL and phone number and
    the lookup of an existing subscriber (URL subscribers by kind and URL, SMS by number,
    email subscribers by address).

    Email and webhook subscribers need an email address (their confirmation goes there);
    chat and SMS subscribers may give one or not. URLs follow the one rule of where
    Heliograph may send (`check_target`, the kind's vendor hosts); phone numbers are E.164
    (`normalize_phone`), and only while SMS is configured."""
    email = clean_text(email, field="email", single_line=True).lower()
    errors: dict[str, str] = {}
    if kind not in SubscriberKind.values:
        errors["kind"] = _("'%(kind)s' is not a kind of subscription.") % {"kind": kind}
    elif email or kind in (SubscriberKind.EMAIL, SubscriberKind.WEBHOOK):
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = _("“%(email)s” is not a valid email address.") % {"email": email}
    clean_url, clean_phone = "", ""
    if kind in URL_KINDS:
        try:
            clean_url = check_target(url, kind=TARGET_KIND[kind])
        except ValidationError as exc:
            errors["url"] = exc.messages[0]
    elif kind == SubscriberKind.SMS:
        if not sms_enabled():
            errors["kind"] = _("SMS subscriptions are not available here (SMS is not configured).")
        else:
            try:
                clean_phone = normalize_phone(phone, region=phone_country)
            except ValidationError as exc:
                errors["phone"] = exc.messages[0]
    if errors:
        raise ValidationError(errors)
    _validate_scope(scope, regions, services, components)
    if kind in URL_KINDS:
        lookup = {"kind": kind, "url": clean_url}
    elif kind == SubscriberKind.SMS:
        lookup = {"kind": kind, "phone": clean_phone}
    else:
        lookup = {"kind": kind, "email": email}
    return email, clean_url, clean_phone, lookup


def _subscriber_store(
    subscriber: Subscriber,
    *,
    email: str,
    confirmed_at: datetime | None,
    scope: str,
    regions: Sequence[Region],
    services: Sequence[Service],
    components: Sequence[Component],
    component_changes: bool,
    language: str,
) -> Subscriber:
    """Save a (re)subscription: active again, with its preferences, scope and language (and,
    being a new request, a new SMS code with all its tries)."""
    subscriber.email = email
    subscriber.language = language
    subscriber.scope = scope
    subscriber.component_changes = component_changes
    subscriber.confirmed_at = confirmed_at
    subscriber.unsubscribed_at = subscriber.broken_at = None
    subscriber.requested_at = timezone.now()
    subscriber.code_attempts = 0
    subscriber.save()
    _set_scope(subscriber, scope, regions, services, components)
    return subscriber


def _take_code_budget(phone: str) -> None:
    """Refuse a code request past the number's hourly budget (texts cost money)."""
    wait = sms_ratelimit.take(phone, "code")
    if wait:
        minutes = max(1, round(wait / 60))
        raise ValidationError(
            {
                "phone": ngettext(
                    "Too many codes were sent to this number: try again in %(minutes)d minute.",
                    "Too many codes were sent to this number: try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes}
            }
        )


@transaction.atomic
def subscriber_subscribe(
    *,
    email: str = "",
    kind: str = SubscriberKind.EMAIL,
    url: str = "",
    phone: str = "",
    phone_country: str = "",
    scope: str = Scope.ALL,
    regions: Sequence[Region] = (),
    services: Sequence[Service] = (),
    components: Sequence[Component] = (),
    component_changes: bool = False,
    language: str = languages.DEFAULT,
    actor: Actor | None = None,
) -> Subscriber:
    """Ask for a subscription (double opt-in): a confirmation link goes to `email` (email
    and webhook subscribers) or is posted into the channel at `url` (Slack, Discord and
    Teams subscribers); an SMS subscriber is texted a code to type on the page
    (`subscriber_confirm_code`). Nothing else is sent until it is confirmed.

    The public form passes no actor; an API token passes its own and the request is audited
    as `subscriber.subscribe` (the subscriber still has to say yes).

    `language` (`language_clean`) is the language of every message to the subscriber,
    stored with the request.

    Returns the subscriber, for the API to show; the public page answers the same whether or
    not the subscriber was known. A confirmed one gets an "already subscribed" message (in
    their own language) with the manage link instead, and their preferences are not changed
    by a stranger.
    """
    language = language_clean(language)
    email, url, phone, lookup = _validated_subscription(
        email=email,
        kind=kind,
        url=url,
        phone=phone,
        phone_country=phone_country,
        scope=scope,
        regions=regions,
        services=services,
        components=components,
    )
    if kind == SubscriberKind.SMS:
        _take_code_budget(phone)
    if actor is not None:
        audit_record(actor=actor, action="subscriber.subscribe", summary=email or url or phone)
    subscriber = Subscriber.objects.select_for_update().filter(**lookup).first()
    if subscriber is not None and subscriber.is_active:
        _send_confirmation_after_commit(subscriber, "already")
        return subscriber
    subscriber = _subscriber_store(
        subscriber or Subscriber(kind=kind, url=url, phone=phone),
        email=email,
        confirmed_at=None,
        scope=scope,
        regions=regions,
        services=services,
        components=components,
        component_changes=component_changes,
        language=language,
    )
    _send_confirmation_after_commit(subscriber, "confirm")
    return subscriber


@transaction.atomic
def subscriber_add_confirmed(
    *,
    actor: Actor,
    email: str = "",
    kind: str = SubscriberKind.EMAIL,
    url: str = "",
    phone: str = "",
    phone_country: str = "",
    scope: str = Scope.ALL,
    regions: Sequence[Region] = (),
    services: Sequence[Service] = (),
    components: Sequence[Component] = (),
    component_changes: bool = False,
    language: str = languages.DEFAULT,
) -> Subscriber:
    """Staff (or the API's `skip_confirmation_notification`) add a subscriber who already
    agreed elsewhere: confirmed at once, no confirmation message, validated exactly as a
    public subscription, and audited."""
    language = language_clean(language)
    email, url, phone, lookup = _validated_subscription(
        email=email,
        kind=kind,
        url=url,
        phone=phone,
        phone_country=phone_country,
        scope=scope,
        regions=regions,
        services=services,
        components=components,
    )
    subscriber = Subscriber.objects.select_for_update().filter(**lookup).first()
    subscriber = subscriber or Subscriber(kind=kind, url=url, phone=phone)
    subscriber = _subscriber_store(
        subscriber,
        email=email,
        confirmed_at=subscriber.confirmed_at or timezone.now(),
        scope=scope,
        regions=regions,
        services=services,
        components=components,
        component_changes=component_changes,
        language=language,
    )
    audit_record(
        actor=actor, action="subscriber.add_confirmed", obj=subscriber, summary=str(subscriber)
    )
    return subscriber


def subscriber_confirm_code(*, phone: str, code: str) -> Subscriber:
    """The code texted to `phone` was typed on the page: confirm that number's pending
    request if it is the code of that request (`tokens.sms_code`), or raise
    ValidationError({"code": …}) — the same message whether the number is unknown, already
    confirmed, expired or the code is wrong, so the page tells nothing about the number.

    A wrong code is counted (in its own transaction, which the refusal does not roll back):
    after `SMS_CODE_ATTEMPTS` wrong codes the request is spent and the number must ask for a
    new code, which its hourly code budget limits — guessing a six-digit code is hopeless."""
    try:
        phone = normalize_phone(phone)
    except ValidationError:
        raise ValidationError({"code": str(CODE_REFUSED)}) from None
    cutoff = timezone.now() - timedelta(seconds=CONFIRM_MAX_AGE)
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_for_update()
            .filter(
                kind=SubscriberKind.SMS,
                phone=phone,
                confirmed_at__isnull=True,
                unsubscribed_at__isnull=True,
                requested_at__gte=cutoff,
            )
            .first()
        )
        if subscriber is None:
            refused = CODE_REFUSED
        elif subscriber.code_attempts >= SMS_CODE_ATTEMPTS:
            refused = _("Too many wrong codes: ask for a new code.")
        elif sms_code_matches(subscriber.public_id, subscriber.requested_at, code):
            subscriber.confirmed_at = timezone.now()
            subscriber.save(update_fields=["confirmed_at"])
            return subscriber
        else:
            Subscriber.objects.filter(pk=subscriber.pk).update(code_attempts=F("code_attempts") + 1)
            refused = CODE_REFUSED
    raise ValidationError({"code": str(refused)})


@transaction.atomic
def subscriber_confirm(*, subscriber: Subscriber, requested_at: datetime) -> Subscriber:
    """The confirmation link of the request made at `requested_at` was followed (the view
    checked its signature and age, `selectors.subscriber_from_token`).

    It confirms that request only if it is still the subscriber's latest and still pending:
    a link of an older request, or of a subscriber who has unsubscribed since, raises
    ValidationError and changes nothing — unsubscribing is undone only by asking again and
    confirming the new link (a new double opt-in). Following the link twice is harmless."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.requested_at != requested_at:
        raise ValidationError("This confirmation link was replaced by a newer one.")
    if subscriber.unsubscribed_at is not None:
        raise ValidationError("This subscription was cancelled after the link was sent.")
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = timezone.now()
        subscriber.save(update_fields=["confirmed_at"])
    return subscriber


@transaction.atomic
def subscriber_update_preferences(
    *,
    subscriber: Subscriber,
    scope: str,
    regions: Sequence[Region] = (),
    services: Sequence[Service] = (),
    components: Sequence[Component] = (),
    component_changes: bool = False,
    language: str | None = None,
    actor: Actor | None = None,
) -> Subscriber:
    """Change what a subscriber hears about, and in which language (`language` None keeps
    it). The subscriber's own manage link passes no actor (their choice is not an audited
    staff action); staff (admin) and API tokens pass theirs, and the change is audited as
    `subscriber.update`."""
    _validate_scope(scope, regions, services, components)
    new_language = None if language is None else language_clean(language)
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    subscriber.scope = scope
    subscriber.component_changes = component_changes
    subscriber.language = new_language or subscriber.language
    subscriber.save(update_fields=["scope", "component_changes", "language"])
    _set_scope(subscriber, scope, regions, services, components)
    if actor is not None:
        audit_record(
            actor=actor, action="subscriber.update", obj=subscriber, summary=str(subscriber)
        )
    return subscriber


@transaction.atomic
def subscriber_unsubscribe(*, subscriber: Subscriber, actor: Actor | None = None) -> Subscriber:
    """One-click unsubscribe: nothing more is sent, including deliveries already queued.
    Audited as `subscriber.unsubscribe` when staff or an API token (`actor`) do it."""
    now = timezone.now()
    Subscriber.objects.filter(pk=subscriber.pk, unsubscribed_at__isnull=True).update(
        unsubscribed_at=now
    )
    subscriber.refresh_from_db()
    _skip_queued_deliveries(subscriber)
    if actor is not None:
        audit_record(
            actor=actor, action="subscriber.unsubscribe", obj=subscriber, summary=str(subscriber)
        )
    return subscriber


def subscribers_opt_out_sms(*, phone: str) -> int:
    """The person at `phone` texted STOP (Twilio's inbound webhook, signature checked by the
    view): unsubscribe every SMS subscription of that number, as one-click unsubscribe does
    (queued deliveries skipped). Twilio sends the number in E.164, as it is stored.
    Returns how many were active or pending."""
    count = 0
    for subscriber in Subscriber.objects.filter(
        kind=SubscriberKind.SMS, phone=phone.strip(), unsubscribed_at__isnull=True
    ):
        subscriber_unsubscribe(subscriber=subscriber)
        count += 1
    return count


@transaction.atomic
def subscriber_delete(*, subscriber: Subscriber, actor: Actor) -> None:
    """Staff forget a subscriber altogether (their address and their deliveries), audited.
    Unsubscribing keeps the row, so a later confirmation link still knows them; this does
    not."""
    audit_record(actor=actor, action="subscriber.delete", obj=subscriber, summary=str(subscriber))
    subscriber.delete()


def subscribers_expire_unconfirmed(*, now: datetime | None = None) -> int:
    """Beat: forget subscription requests not confirmed within 24 h (we keep no address
    that did not say yes)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=CONFIRM_MAX_AGE)
    deleted, _ = Subscriber.objects.filter(
        confirmed_at__isnull=True, requested_at__lt=cutoff
    ).delete()
    return deleted


def subscriber_send_email(*, subscriber_id: int, purpose: str) -> bool:
    """Send the confirmation ("confirm") or "you are already subscribed" ("already") email,
    in the subscriber's language."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        return False
    with translation.override(subscriber.language):
        message = _subscription_email(subscriber, purpose)
    message.send()
    return True


def _subscription_email(subscriber: Subscriber, purpose: str) -> EmailMultiAlternatives:
    """The confirmation or "already subscribed" email, in the active language."""
    context = {
        "subscriber": subscriber,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "confirm_url": confirm_url(subscriber.public_id, subscriber.requested_at),
        "manage_url": manage_url(subscriber.public_id),
        "unsubscribe_url": unsubscribe_url(subscriber.public_id),
    }
    template = "subscription_confirm" if purpose == "confirm" else "subscription_already"
    if purpose == "confirm":
        subject = _("[%(site)s] Confirm your subscription") % {"site": settings.SITE_NAME}
    else:
        subject = _("[%(site)s] You are already subscribed") % {"site": settings.SITE_NAME}
    message = EmailMultiAlternatives(
        subject=one_line(subject),
        body=render_to_string(f"emails/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers={"Content-Language": subscriber.language},
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    return message


# --- Direct emails (to an address that is not a subscriber) -----------------------------------


@dataclass(frozen=True)
class DirectEmailDraft:
    """What a higher layer wants sent once: `key` names the message (unique)."""

    key: str
    to: str
    subject: str
    text: str
    html: str = ""
    language: str = ""


def direct_emails_enqueue(*, emails: Sequence[DirectEmailDraft], purpose: str) -> int:
    """Write one outbox row per email, in the caller's transaction, and send them after it
    commits (batches of EMAIL_BATCH_SIZE on the email queue). A key written before is not
    written again: a repeated or resumed caller sends nothing twice. Returns how many are new.

    For messages that are not notifications of subscribers, e.g. the credit notice to an
    account's billing contact (incidents.credits). Addresses are checked; a bad one is a
    ValidationError naming it and nothing is written."""
    rows = []
    now = timezone.now()
    for email in emails:
        address = clean_text(email.to, field="to", single_line=True)
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"to": f"“{address}” is not a valid email address."}) from None
        rows.append(
            DirectEmail(
                key=email.key,
                purpose=purpose,
                to_email=address,
                subject=one_line(email.subject)[:300],
                body_text=clean_text(email.text, field="text"),
                body_html=email.html,
                language=email.language,
                next_attempt_at=now,
            )
        )
    if not rows:
        return 0
    keys = [row.key for row in rows]
    existing = {
        key
        for chunk in _chunks(keys)
        for key in DirectEmail.objects.filter(key__in=chunk).values_list("key", flat=True)
    }
    new = [row for row in rows if row.key not in existing]
    DirectEmail.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    new_keys = [row.key for row in new]
    if new_keys:
        transaction.on_commit(lambda: _direct_emails_enqueue_keys(new_keys))
    return len(new)


def _direct_emails_enqueue_keys(keys: list[str], countdown: float = 0) -> int:
    ids = [
        pk
        for chunk in _chunks(keys)
        for pk in DirectEmail.objects.filter(
            key__in=chunk, status__in=CLAIMABLE_STATUSES
        ).values_list("pk", flat=True)
    ]
    return _direct_emails_publish(ids, countdown=countdown)


def _direct_emails_publish(ids: list[int], countdown: float = 0) -> int:
    if not ids:
        return 0
    task = queues.task("notifier.tasks.deliver_direct_email")
    published = 0
    try:
        with current_app.producer_or_acquire() as producer:
            for i in range(0, len(ids), EMAIL_BATCH_SIZE):
                task.apply_async(
                    args=[ids[i : i + EMAIL_BATCH_SIZE]],
                    countdown=countdown or None,
                    retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
                    producer=producer,
                )
                published += 1
    except Exception:  # the broker is down: the beat requeue picks the rows up
        log.exception("could not enqueue direct emails; deliveries_requeue will retry")
    return published


def direct_emails_send(*, email_ids: Sequence[int]) -> dict[str, int]:
    """Claim, send and mark direct emails (one connection for the batch), as
    `deliveries_send` does for deliveries: backoff with jitter, dead after MAX_ATTEMPTS."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = DirectEmail.objects.filter(
        pk__in=list(email_ids),
        status__in=CLAIMABLE_STATUSES,
        next_attempt_at__lte=now + timedelta(seconds=1),
    ).update(
        status=DirectEmailStatus.CLAIMED,
        claim_token=token,
        claimed_at=now,
        attempts=F("attempts") + 1,
    )
    outcome: dict[str, int] = defaultdict(int)
    if not claimed:
        return dict(outcome)
    rows = list(DirectEmail.objects.filter(claim_token=token, status=DirectEmailStatus.CLAIMED))
    connection = None
    try:
        for row in rows:
            try:
                if connection is None:
                    connection = get_connection()
                    connection.open()
                message = EmailMultiAlternatives(
                    subject=row.subject,
                    body=row.body_text,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[row.to_email],
                    connection=connection,
                    headers={"Content-Language": row.language} if row.language else None,
                )
                if row.body_html:
                    message.attach_alternative(row.body_html, "text/html")
                message.send()
            except Exception as exc:  # the mail server refused or is unreachable
                if connection is not None:
                    try:
                        connection.close()
                    except Exception:  # already broken
                        log.debug("closing a broken mail connection failed", exc_info=True)
                connection = None
                dead = row.attempts >= MAX_ATTEMPTS
                delay = _retry_delay(row.attempts)
                DirectEmail.objects.filter(pk=row.pk, claim_token=token).update(
                    status=DirectEmailStatus.DEAD if dead else DirectEmailStatus.FAILED,
                    last_error=f"{type(exc).__name__}: {exc}"[:2000],
                    next_attempt_at=timezone.now() + timedelta(seconds=0 if dead else delay),
                )
                if not dead:
                    _direct_emails_publish([row.pk], countdown=delay)
                outcome["dead" if dead else "failed"] += 1
                continue
            DirectEmail.objects.filter(pk=row.pk, claim_token=token).update(
                status=DirectEmailStatus.SENT, sent_at=timezone.now(), last_error=""
            )
            outcome["sent"] += 1
    finally:
        if connection is not None:
            connection.close()
    return dict(outcome)


def direct_emails_requeue(*, now: datetime | None = None) -> int:
    """Beat (with `deliveries_requeue`): hand back direct emails claimed by a dead worker and
    enqueue the ones due but never picked up."""
    now = now or timezone.now()
    DirectEmail.objects.filter(
        status=DirectEmailStatus.CLAIMED,
        claimed_at__lt=now - timedelta(seconds=settings.HELIOGRAPH_DELIVERY_CLAIM_TIMEOUT),
    ).update(status=DirectEmailStatus.PENDING, claim_token="", next_attempt_at=now)
    due = list(
        DirectEmail.objects.filter(
            status__in=CLAIMABLE_STATUSES,
            next_attempt_at__lt=now - timedelta(seconds=settings.HELIOGRAPH_DELIVERY_REQUEUE_AFTER),
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:50000]
    )
    if not due:
        return 0
    for chunk in _chunks(due):
        DirectEmail.objects.filter(pk__in=chunk).update(next_attempt_at=now)
    _direct_emails_publish(due)
    return len(due)


def subscriber_post_confirmation(*, subscriber_id: int, purpose: str) -> bool:
    """Post the confirmation request ("confirm") or the "already subscribed" message
    ("already") into a chat subscriber's channel, or text it to an SMS subscriber (with the
    code). Returns False when the subscriber is gone or the message cannot be delivered (the
    error is kept on the subscriber for staff); raises TransportError when trying again may
    help (the task retries)."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        return False
    try:
        if subscriber.kind == SubscriberKind.SMS:
            with translation.override(subscriber.language):
                if purpose == "confirm":
                    text = sms_code_text(sms_code(subscriber.public_id, subscriber.requested_at))
                else:
                    text = sms_already_text()
            sms_send_text(subscriber.phone, text)
        else:
            transport_for(subscriber).send(notice_for_subscription(subscriber, purpose))
    except TransportError as error:
        Subscriber.objects.filter(pk=subscriber.pk).update(
            last_error=error.message[:2000], last_error_at=timezone.now()
        )
        if error.permanent:
            return False
        raise
    return True

"""Fan-out benchmark: one incident update to 10,000 email subscribers, 200 Slack, 200 Discord,
200 Microsoft Teams and 200 webhook channels and 200 SMS subscribers, all pointing at
loopback sinks (the Teams sink checks every Adaptive Card; SMS goes through Twilio's client to
the sink's Messages API), delivered by real Celery workers.

Prints the seconds until every delivery is sent and deliveries/s; then, in the same run, a
bare loop sends the same messages (built by the same code) from one process over one
connection per medium, and the ratio of the two rates.

Needs PostgreSQL and Redis (the database is created, migrated and emptied by the script):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hg_bench_fanout \\
    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/fanout.py

Options: --emails N --slack N --discord N --teams N --webhooks N --sms N --concurrency N
--workers N --rounds N
--split (one worker for the email queue, one for chat + webhooks + celery, each
--concurrency processes, as production would run them).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "tests" / "notifier"))

DISCORD_TOKEN = "abcdefghijklmnopqrstuvwxyz0123456789_-ABCDEFGHIJ"
TEAMS_PATH = "/workflows/{n:032x}/triggers/manual/paths/invoke?api-version=1&sv=1.0&sig=c2ln"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "bench-twilio-token"


def run_sinks(conn) -> None:
    """Child process: the HTTP and SMTP sinks, so they do not share a GIL with the bench."""
    from sinks import ChatSink, SmtpSink, teams_card_problems

    chat, smtp = ChatSink(), SmtpSink()
    chat.twilio_token = TWILIO_TOKEN
    conn.send({"http": chat.url, "smtp_port": smtp.port})
    while True:
        command = conn.recv()
        if command == "counts":
            conn.send(
                {
                    "http": len(chat.received),
                    "teams": len(chat.requests_to("/workflows/")),
                    "sms": len(chat.requests_to("/2010-04-01/")),
                    "refused": sum(
                        1 for r in chat.requests_to("/workflows/") if teams_card_problems(r.body)
                    ),
                    "smtp": sum(len(m.rcpt_tos) for m in smtp.received),
                }
            )
        elif command == "reset":
            chat.received.clear()
            smtp.received.clear()
            conn.send("ok")
        else:
            chat.close()
            smtp.close()
            conn.send("bye")
            return


def cpu_seconds(*, pid: int | None = None, pgid: int | None = None) -> float:
    """User + system CPU of one process, or of every process in a process group (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if (pid is not None and int(entry.name) == pid) or (
            pgid is not None and int(fields[2]) == pgid
        ):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--slack", type=int, default=200)
    parser.add_argument("--discord", type=int, default=200)
    parser.add_argument("--teams", type=int, default=200)
    parser.add_argument("--webhooks", type=int, default=200)
    parser.add_argument("--sms", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (celery worker)")
    parser.add_argument("--concurrency", type=int, default=4, help="pool size of each worker")
    parser.add_argument(
        "--split", action="store_true", help="separate workers: email / chat,webhooks,celery"
    )
    parser.add_argument("--rounds", type=int, default=1, help="alternate celery/bare rounds")
    parser.add_argument(
        "--chat-concurrency", type=int, default=0, help="pool size of the chat worker (--split)"
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: see the docstring.")
    ensure_database(database_url)

    parent, child = multiprocessing.Pipe()
    sinks = multiprocessing.Process(target=run_sinks, args=(child,), daemon=True)
    sinks.start()
    ports = parent.recv()

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "statuspage.conf.settings",
            "HELIOGRAPH_ALLOW_PRIVATE_TARGETS": "1",
            "HELIOGRAPH_INSECURE_DEV_KEY": "1",
            "HELIOGRAPH_VAR_DIR": tempfile.mkdtemp(prefix="heliograph-bench-"),
            "HELIOGRAPH_SLACK_API_URL": f"{ports['http']}/api/",
            "HELIOGRAPH_DISCORD_API_URL": f"{ports['http']}/api/v10",
            "HELIOGRAPH_TWILIO_API_URL": ports["http"],
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "HELIOGRAPH_SMS_FROM": "+12025550123",
            # Throughput, not the per-number limit (one text per number per round anyway).
            "HELIOGRAPH_SMS_RATE_LIMIT": "1000000",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(ports["smtp_port"]),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from incidents.models import Incident
    from notifier.models import Channel, Delivery, Subscriber
    from statuspage.models import AuditEntry, Component, Region, Service
    from statuspage.services import Actor, region_create, service_create

    call_command("migrate", verbosity=0)
    Delivery.objects.all().delete()
    Incident.objects.all().delete()
    Subscriber.objects.all().delete()
    Channel.objects.all().delete()
    Component.objects.all().delete()
    Service.objects.all().delete()
    Region.objects.all().delete()
    AuditEntry.objects.all().delete()

    actor = Actor.system("bench")
    us = region_create(slug="us-east-1", name="US East", actor=actor)
    runs = service_create(name="Run execution", regions=[us], actor=actor)
    component = runs.components.get()
    now = timezone.now()
    Subscriber.objects.bulk_create(
        (
            Subscriber(kind="email", email=f"user{i}@example.com", confirmed_at=now)
            for i in range(args.emails)
        ),
        batch_size=2000,
    )
    # Distinct German mobile numbers (+49 151 …): one text each, within the per-number limit.
    Subscriber.objects.bulk_create(
        Subscriber(kind="sms", phone=f"+49151{10000000 + i}", confirmed_at=now)
        for i in range(args.sms)
    )
    http = ports["http"]
    channels = [
        Channel(kind="slack", name=f"slack {i}", url=f"{http}/services/T{i}/B{i}/x")
        for i in range(args.slack)
    ]
    channels += [
        Channel(
            kind="discord",
            name=f"discord {i}",
            url=f"{http}/api/webhooks/{100000000000000000 + i}/{DISCORD_TOKEN}",
        )
        for i in range(args.discord)
    ]
    channels += [
        Channel(kind="teams", name=f"teams {i}", url=http + TEAMS_PATH.format(n=i))
        for i in range(args.teams)
    ]
    channels += [
        Channel(kind="webhook", name=f"hook {i}", url=f"{http}/hook/{i}")
        for i in range(args.webhooks)
    ]
    Channel.objects.bulk_create(channels)
    total = args.emails + args.slack + args.discord + args.teams + args.webhooks + args.sms

    # --- Celery workers -------------------------------------------------------------------
    from statuspage.conf.celery import app

    with app.connection_for_write() as conn:
        for queue in ("celery", "email", "chat", "webhooks"):
            conn.default_channel.queue_purge(queue)
    workers = []
    if args.split:
        queue_sets = ["email", "chat,webhooks,celery"] * args.workers
    else:
        queue_sets = ["email,chat,webhooks,celery"] * args.workers
    for n, queues in enumerate(queue_sets):
        log = Path(tempfile.mkstemp(prefix=f"bench-worker-{n}-", suffix=".log")[1])
        command = [str(Path(sys.executable).with_name("celery")), "-A", "statuspage.conf", "worker"]
        pool = args.concurrency
        if queues.startswith("chat") and args.chat_concurrency:
            pool = args.chat_concurrency
        command += ["-Q", queues, "-c", str(pool), "-O", "fair"]
        command += ["-n", f"bench{n}@%h", "-l", "warning", "--without-gossip", "--without-mingle"]
        workers.append(
            (
                subprocess.Popen(
                    command,
                    cwd=BASE_DIR,
                    stdout=log.open("w"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                ),
                log,
            )
        )
    time.sleep(1.0)
    ping_deadline = time.time() + 60
    while len(app.control.ping(timeout=1.0) or []) < len(queue_sets):
        if time.time() > ping_deadline:
            sys.exit("workers did not start: " + " ".join(str(log) for _, log in workers))

    chat_pool = args.chat_concurrency or args.concurrency
    print(
        f"recipients: {args.emails} email, {args.slack} Slack, {args.discord} Discord, "
        f"{args.teams} Teams, {args.webhooks} webhook, {args.sms} SMS = {total}"
    )
    print(
        f"workers (prefork): {len(queue_sets)}, queues: "
        + " | ".join(
            f"{q} ×{chat_pool if q.startswith('chat') else args.concurrency}" for q in queue_sets
        )
    )
    ratios, celery_times, bare_times = [], [], []
    try:
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number} (load average {os.getloadavg()[0]:.1f})")
            elapsed = celery_round(
                round_number, total, actor, component, workers, sinks, parent, Delivery
            )
            bare_elapsed = bare_round(parent, sinks, total)
            celery_times.append(elapsed)
            bare_times.append(bare_elapsed)
            ratios.append(bare_elapsed / elapsed)
            print(f"  ratio celery / bare loop: {ratios[-1]:.2f}")
    finally:
        for process, _ in workers:
            os.killpg(process.pid, signal.SIGTERM)
        for process, _ in workers:
            process.wait(30)
    if args.rounds > 1:
        median = statistics.median
        print(
            f"median of {args.rounds} rounds: celery {median(celery_times):.2f} s "
            f"({total / median(celery_times):.0f}/s), bare loop {median(bare_times):.2f} s "
            f"({total / median(bare_times):.0f}/s), ratio {median(ratios):.2f}"
        )
    parent.send("stop")
    parent.recv()


def celery_round(round_number, total, actor, component, workers, sinks, parent, Delivery) -> float:
    """Post one update and wait until its deliveries are all sent by the workers."""
    from django.db.models import Max, Min
    from django.utils import timezone

    from incidents import services as incidents
    from notifier.models import DeliveryStatus

    parent.send("reset")
    parent.recv()
    cpu_before = sum(cpu_seconds(pgid=process.pid) for process, _ in workers)
    sink_before = cpu_seconds(pid=sinks.pid)
    started = time.perf_counter()
    started_at = timezone.now()
    incident = incidents.incident_declare(
        name=f"Runs not starting in us-east-1 ({round_number})",
        body="We are investigating reports of runs not starting in us-east-1.",
        actor=actor,
        impact="critical",
        component_statuses={component: "major_outage"},
    )
    written = time.perf_counter() - started
    update = incident.updates.get()
    deliveries = Delivery.objects.filter(update=update)
    assert deliveries.count() == total, deliveries.count()
    while True:
        left = deliveries.exclude(status=DeliveryStatus.SENT).count()
        if not left:
            break
        if time.perf_counter() - started > 600:
            sys.exit(f"gave up: {left} deliveries not sent after 600 s")
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    worker_cpu = sum(cpu_seconds(pgid=process.pid) for process, _ in workers) - cpu_before
    sink_cpu = cpu_seconds(pid=sinks.pid) - sink_before
    for row in (
        deliveries.values("medium").annotate(first=Min("sent_at"), last=Max("sent_at")).order_by()
    ):
        first = (row["first"] - started_at).total_seconds()
        last = (row["last"] - started_at).total_seconds()
        print(f"    {row['medium']}: first sent at {first:.2f} s, last at {last:.2f} s")
    parent.send("counts")
    received = parent.recv()
    dead = deliveries.filter(status=DeliveryStatus.DEAD).count()
    print(f"  outbox written (one transaction) and enqueued in {written:.2f} s")
    print(
        f"  celery: all {total} delivered in {elapsed:.2f} s = {total / elapsed:.0f} deliveries/s "
        f"(sinks received {received['http']} HTTP of which {received['teams']} Teams cards "
        f"({received['refused']} refused) and {received['sms']} texts, {received['smtp']} SMTP; "
        f"dead {dead}); "
        f"CPU: workers {worker_cpu:.1f} s, sinks {sink_cpu:.1f} s"
    )
    celery_round.update_id = update.pk
    return elapsed


def bare_round(parent, sinks, total) -> float:
    parent.send("reset")
    parent.recv()
    sink_before, cpu_before = cpu_seconds(pid=sinks.pid), time.process_time()
    bare_elapsed = bare_loop(update_id=celery_round.update_id)
    bare_cpu = time.process_time() - cpu_before
    bare_sink_cpu = cpu_seconds(pid=sinks.pid) - sink_before
    parent.send("counts")
    received = parent.recv()
    print(
        f"  bare loop: {total} sent in {bare_elapsed:.2f} s = {total / bare_elapsed:.0f} "
        f"messages/s (sinks received {received['http']} HTTP of which {received['sms']} texts, "
        f"{received['smtp']} SMTP); "
        f"CPU: loop {bare_cpu:.1f} s, sinks {bare_sink_cpu:.1f} s"
    )
    return bare_elapsed


def bare_loop(*, update_id: int) -> float:
    """The same messages (same builders) from one process, one connection per medium, no
    outbox: the ceiling the Celery fan-out is compared with."""
    import discord
    import requests
    from discord.http import Route
    from django.conf import settings
    from django.core.mail import get_connection
    from twilio.rest import Client

    from notifier.integrations.discord.transport import build_embed
    from notifier.integrations.email.transport import build_message
    from notifier.integrations.slack.transport import build_blocks, build_text
    from notifier.integrations.sms.transport import build_text as build_sms
    from notifier.integrations.teams.transport import build_body as build_card
    from notifier.integrations.webhook.transport import SIGNATURE_HEADER, build_body, sign
    from notifier.messages import notice_for_event
    from notifier.models import Channel, Subscriber
    from notifier.validators import discord_webhook_parts

    notice = notice_for_event(f"u{update_id}")
    subscribers = list(Subscriber.objects.filter(kind="email"))
    phones = list(Subscriber.objects.filter(kind="sms"))
    channels = list(Channel.objects.all())
    started = time.perf_counter()

    connection = get_connection()
    connection.open()
    for subscriber in subscribers:
        connection.send_messages([build_message(notice, subscriber)])
    connection.close()
    emails_done = time.perf_counter()

    session = requests.Session()
    Route.BASE = settings.HELIOGRAPH_DISCORD_API_URL
    for channel in channels:
        if channel.kind == "slack":
            response = session.post(
                channel.url, json={"text": build_text(notice), "blocks": build_blocks(notice)}
            )
        elif channel.kind == "discord":
            webhook_id, token = discord_webhook_parts(channel.url)
            discord.SyncWebhook.partial(webhook_id, token, session=session).send(
                embed=build_embed(notice), wait=True
            )
            continue
        elif channel.kind == "teams":
            response = session.post(
                channel.url,
                data=build_card(notice, channel),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        else:
            body = build_body(notice, channel)
            response = session.post(
                channel.url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(body, channel.secret),
                },
            )
        response.raise_for_status()
    chat_done = time.perf_counter()

    twilio = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
    twilio.api.base_url = settings.HELIOGRAPH_TWILIO_API_URL
    text = build_sms(notice)
    for subscriber in phones:
        twilio.messages.create(to=subscriber.phone, from_=settings.HELIOGRAPH_SMS_FROM, body=text)
    finished = time.perf_counter()
    print(
        f"    bare loop: {len(subscribers)} emails in {emails_done - started:.2f} s, "
        f"{len(channels)} chat/webhook posts in {chat_done - emails_done:.2f} s, "
        f"{len(phones)} texts in {finished - chat_done:.2f} s"
    )
    return finished - started


if __name__ == "__main__":
    main()

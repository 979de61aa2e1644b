"""Chaos: real Celery worker processes on Redis, killed and cut off mid fan-out.

- SIGKILL the worker (and its pool) in the middle of a fan-out, start a new one, run the
  requeue: every recipient ends with exactly one message, except at most the ones in flight
  at the kill (one per pool process).
- Restart Redis (a separate redis-server this test starts, without persistence, so every
  queued message is lost) in the middle of a fan-out: nothing is lost, nothing doubled.

The worker is a subprocess (`celery -A statuspage.conf worker -Q email,chat,webhooks,celery`)
pointed at the test database (pytest-django's `test_<name>`), so the tests commit
(`transaction=True`). They need Redis (REDIS_URL, set in CI) and a database a second
process can open (PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from notifier_helpers import webhook_channel
from sinks import ChatSink, SmtpSink, free_port

from incidents import services as incidents
from notifier import services
from notifier.models import Delivery, DeliveryStatus, Subscriber
from statuspage.conf.celery import app as celery_app

BASE_DIR = Path(settings.BASE_DIR)
CELERY = str(Path(sys.executable).with_name("celery"))
QUEUES = "email,chat,webhooks,celery"
POOL = 2

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="needs Redis: set REDIS_URL (CI does) to run the worker chaos tests",
    ),
]


@pytest.fixture(autouse=True)
def _shared_database():
    if connection.vendor == "sqlite":
        pytest.skip("the worker process needs a database it can share: set DATABASE_URL")


def database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{quote(db['USER'] or '', safe='')}{password}@{db['HOST'] or '127.0.0.1'}"
        f":{db['PORT'] or 5432}/{db['NAME']}"
    )


class Worker:
    """A `celery worker` subprocess in its own process group (SIGKILL takes its pool too)."""

    def __init__(self, *, redis_url: str, smtp: SmtpSink, name: str, beat: bool = False, **env):
        self.log = Path(tempfile.mkstemp(prefix=f"celery-{name}-", suffix=".log")[1])
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "statuspage.conf.settings_test",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            "SECRET_KEY": settings.SECRET_KEY,
            "HELIOGRAPH_ALLOW_PRIVATE_TARGETS": "1",
            "HELIOGRAPH_VAR_DIR": tempfile.mkdtemp(prefix=f"heliograph-{name}-"),
            "EMAIL_HOST": smtp.host,
            "EMAIL_PORT": str(smtp.port),
            **env,
        }
        environment.pop("EMAIL_BACKEND", None)
        command = [CELERY, "-A", "statuspage.conf", "worker", "-Q", QUEUES, "-c", str(POOL)]
        command += ["-n", f"{name}@%h", "-l", "info", "--without-gossip", "--without-mingle"]
        if beat:
            command += ["-B", "-s", str(self.log.with_suffix(".schedule"))]
        self.process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=environment,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 60
        while " ready." not in self.log.read_text():
            if self.process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"worker {name} did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the whole group: the main process, its pool and its beat."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                pass
        # No straggler (pool child, embedded beat) may keep a connection to the test
        # database, or pytest-django cannot drop it.
        self.kill()
        deadline = time.time() + 10
        while time.time() < deadline and _group_alive(self.process.pid):
            time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class RedisServer:
    """A throw-away redis-server on its own loopback port, without persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port)
        deadline = time.time() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def purge_shared_queues() -> None:
    """Old messages of earlier tests would only be no-ops, but keep the run clean."""
    with celery_app.connection_for_write() as conn:
        for queue in settings.HELIOGRAPH_QUEUES:
            conn.default_channel.queue_purge(queue)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            counts = Counter(Delivery.objects.values_list("status", flat=True))
            raise AssertionError(f"timed out waiting for {what}; deliveries: {dict(counts)}")
        time.sleep(0.1)


def sent_count() -> int:
    return Delivery.objects.filter(status=DeliveryStatus.SENT).count()


def all_done() -> bool:
    return not Delivery.objects.exclude(status=DeliveryStatus.SENT).exists()


def fan_out(actor, sink: ChatSink, n_hooks: int, n_emails: int) -> None:
    for i in range(n_hooks):
        webhook_channel(sink, actor, path=f"/hook/{i}", name=f"hook {i}")
    Subscriber.objects.bulk_create(
        Subscriber(kind="email", email=f"user{i}@example.com", confirmed_at=timezone.now())
        for i in range(n_emails)
    )


def received_per_recipient(sink: ChatSink, smtp: SmtpSink) -> Counter:
    counts: Counter = Counter(r.path for r in sink.requests_to("/hook/"))
    counts.update(address for mail in smtp.received for address in mail.rcpt_tos)
    return counts


def test_killing_the_worker_mid_fan_out_loses_nothing(settings, catalogue, actor):
    sink, smtp = ChatSink(delay=0.1), SmtpSink(delay=0.1)
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    redis_url = os.environ["REDIS_URL"]
    workers: list[Worker] = []
    try:
        purge_shared_queues()
        fan_out(actor, sink, n_hooks=40, n_emails=40)
        workers.append(Worker(redis_url=redis_url, smtp=smtp, name="chaos-a"))
        incidents.incident_declare(name="Runs down", body="Investigating.", actor=actor)
        assert Delivery.objects.count() == 80

        wait_for(lambda: sent_count() >= 15, 60, "the fan-out to start")
        workers[0].kill()
        killed_at = timezone.now()
        done_before = sent_count()
        assert done_before < 80, "the fan-out finished before the kill; make the sink slower"

        workers.append(Worker(redis_url=redis_url, smtp=smtp, name="chaos-b"))
        # The beat task, run now: give back what the dead worker held (claimed before the
        # kill) and enqueue what its lost messages would have done.
        settings.HELIOGRAPH_DELIVERY_CLAIM_TIMEOUT = (timezone.now() - killed_at).total_seconds()
        settings.HELIOGRAPH_DELIVERY_REQUEUE_AFTER = 0
        services.deliveries_requeue()
        wait_for(all_done, 90, "every delivery to be sent")

        counts = received_per_recipient(sink, smtp)
        expected = {f"/hook/{i}" for i in range(40)} | {f"user{i}@example.com" for i in range(40)}
        assert set(counts) == expected, "a recipient got nothing"
        doubled = [r for r, n in counts.items() if n > 1]
        print(f"chaos: {done_before} sent before the kill, duplicates: {doubled}")
        assert all(counts[r] == 2 for r in doubled)
        assert len(doubled) <= POOL, f"more duplicates than messages in flight: {doubled}"
    finally:
        for worker in workers:
            worker.stop()
        sink.close()
        smtp.close()


def test_restarting_redis_mid_fan_out_loses_nothing(settings, catalogue, actor):
    sink, smtp = ChatSink(delay=0.1), SmtpSink(delay=0.1)
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    redis = RedisServer()
    redis.start()
    worker = None
    try:
        fan_out(actor, sink, n_hooks=40, n_emails=40)
        # This worker's broker is the private Redis; its embedded beat re-enqueues whatever
        # is due and not picked up (here: everything at first, then what the restart lost).
        worker = Worker(
            redis_url=redis.url,
            smtp=smtp,
            name="chaos-redis",
            beat=True,
            HELIOGRAPH_REQUEUE_INTERVAL="1",
            HELIOGRAPH_DELIVERY_REQUEUE_AFTER="2",
        )
        incidents.incident_declare(name="Runs down", body="Investigating.", actor=actor)
        wait_for(lambda: sent_count() >= 15, 60, "the fan-out to start")
        redis.kill()  # every queued message is gone
        assert sent_count() < 80, "the fan-out finished before the restart; make the sink slower"
        time.sleep(1.0)
        redis.start()
        wait_for(all_done, 120, "every delivery to be sent after the restart")

        counts = received_per_recipient(sink, smtp)
        expected = {f"/hook/{i}" for i in range(40)} | {f"user{i}@example.com" for i in range(40)}
        assert set(counts) == expected
        assert set(counts.values()) == {1}, "a recipient got a message twice"
    finally:
        if worker:
            worker.stop()
        redis.kill()
        sink.close()
        smtp.close()

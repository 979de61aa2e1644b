"""The database or Redis down, for real: the console, /subscribe/ and the v1 API answer 503
with Retry-After and a sentence (JSON `{"message"}` for the API), never a bare 500, while the
public page keeps being served from its snapshot.

The database outage is the one tests/test_snapshot.py makes (the connection pointed at a
closed port or an unopenable SQLite file); Redis is a cache and a broker pointed at a closed
port of loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import OperationalError
from test_snapshot import closed_port, database_unreachable

from incidents.credits.models import CreditPolicy, CreditReport
from incidents.credits.services import CurrencyRule, credit_policy_create
from statuspage.api.services import api_token_create
from statuspage.conf import celery_app
from statuspage.conf.middleware import server_error
from statuspage.outage import DATABASE_DOWN, REDIS_DOWN
from statuspage.public.snapshot import snapshot_publish
from statuspage.services import Actor

API = "/v1/pages/heliograph"


@pytest.fixture(autouse=True)
def snapshot_dir(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    return settings.SNAPSHOT_DIR


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    return user


def assert_unavailable(response, sentence: str = DATABASE_DOWN) -> None:
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == "30"
    assert sentence in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_with_a_sentence_when_the_database_is_down(
    client, catalogue, staff, tmp_path
):
    snapshot_publish()
    _, raw = api_token_create(name="bot", scopes=None, actor=Actor.system("test"))
    client.force_login(staff)
    auth = {"HTTP_AUTHORIZATION": f"OAuth {raw}"}

    with database_unreachable(tmp_path):
        for url in (
            "/console/",
            "/console/incidents/",
            "/console/declare/",
            "/console/credits/",
            "/console/notifications/",
            "/admin/",
            "/subscribe/",
        ):
            response = client.get(url)
            assert_unavailable(response)
            assert response["Content-Type"].startswith("text/html")
        assert_unavailable(client.post("/console/declare/", {"name": "x", "body": "y"}))
        assert_unavailable(client.post("/subscribe/", {"email": "a@example.com", "kind": "email"}))
        assert_unavailable(
            client.post("/console/login/", {"username": "root", "password": "pw-root-123"})
        )

        body = '{"incident": {"name": "x"}}'
        for response in (
            client.get(f"{API}/incidents", **auth),
            client.get(f"{API}/components", **auth),
            client.post(f"{API}/incidents", body, "application/json", **auth),
        ):
            assert_unavailable(response)
            assert response.json() == {"message": DATABASE_DOWN}

        # The public page is still served, from the snapshot, marked stale.
        page = client.get("/")
        assert page.status_code == 200
        assert "Run execution" in page.content.decode()
        assert client.get("/api/v2/summary.json").status_code == 200

    # Back: the same pages work again.
    assert client.get("/console/").status_code == 200
    assert client.get(f"{API}/incidents", **auth).status_code == 200


@pytest.fixture
def redis_down(settings):
    """The cache and the Celery broker on a closed port of loopback (as if Redis were down),
    restored afterwards."""
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    conf = celery_app.conf
    saved = (conf.broker_url, conf.broker_transport_options, conf.broker_connection_retry)
    saved_policy = conf.task_publish_retry_policy
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    conf.broker_url = url
    conf.broker_transport_options = {}
    conf.task_publish_retry_policy = {"max_retries": 0}
    try:
        yield url
    finally:
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        conf.broker_url, conf.broker_transport_options, conf.broker_connection_retry = saved
        conf.task_publish_retry_policy = saved_policy


def test_with_redis_down_the_console_subscribe_and_api_keep_working(
    client, catalogue, staff, redis_down
):
    """The cache fails open (rate limits, idempotency): nothing that only needs the
    database stops because Redis is down."""
    _, raw = api_token_create(name="bot", scopes=None, actor=Actor.system("test"))
    auth = {"HTTP_AUTHORIZATION": f"OAuth {raw}"}
    client.force_login(staff)
    assert client.get("/console/").status_code == 200
    assert client.get("/subscribe/").status_code == 200
    response = client.post(
        f"{API}/incidents",
        '{"incident": {"name": "Redis is down", "body": "Still declared."}}',
        "application/json",
        HTTP_IDEMPOTENCY_KEY="k1",
        **auth,
    )
    assert response.status_code == 201
    assert client.get(f"{API}/incidents", **auth).status_code == 200


@pytest.mark.django_db(transaction=True)  # the enqueue runs after commit, in the request
def test_with_the_broker_down_a_console_write_that_must_enqueue_is_a_503(
    client, catalogue, staff, redis_down
):
    policy = credit_policy_create(
        actor=Actor.system("test"),
        incident=None,
        name="Outage credit",
        window_start=datetime(2026, 6, 1, tzinfo=UTC),
        window_end=datetime(2026, 6, 2, tzinfo=UTC),
        rules=[CurrencyRule(currency="USD", minimum=Decimal("10"))],
        regions=[],
        invoice_month=None,
    )
    client.force_login(staff)
    response = client.post(f"/console/credits/policies/{policy.pk}/run/")
    assert_unavailable(response, REDIS_DOWN)
    assert CreditPolicy.objects.count() == 1 and CreditReport.objects.count() <= 1
    api = client.get(f"{API}/incidents", HTTP_AUTHORIZATION="OAuth nope")
    assert api.status_code == 401  # the API itself does not need Redis


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_in_json_when_the_broker_is_down(client, catalogue, redis_down):
    _, raw = api_token_create(name="bot", scopes=None, actor=Actor.system("test"))
    policy = client.post(
        f"{API}/credit-policies",
        '{"credit_policy": {"window_start": "2026-06-01T00:00Z", "window_end":'
        ' "2026-06-02T00:00Z", "rules": [{"currency": "USD", "minimum": "10"}]}}',
        "application/json",
        HTTP_AUTHORIZATION=f"OAuth {raw}",
    )
    assert policy.status_code == 201
    response = client.post(
        f"{API}/credit-policies/{policy.json()['id']}/reports",
        "{}",
        "application/json",
        HTTP_AUTHORIZATION=f"OAuth {raw}",
    )
    assert_unavailable(response, REDIS_DOWN)
    assert response.json() == {"message": REDIS_DOWN}


def test_a_nul_in_a_path_or_query_string_is_a_400(client, staff, catalogue):
    client.force_login(staff)
    for url in (
        "/console/incidents/%00/",
        "/console/incidents/?page=%00",
        "/console/declare/?template=%00",
        "/console/components/?component=a%00b",
        "/console/credits/reports/1/accounts/%00/",
        "/subscriptions/%00/",
        "/incidents/%00",
        "/admin/auth/user/?q=%00",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "NUL character" in response.content.decode()
    api = client.get(f"{API}/incidents?q=%00")
    assert api.status_code == 400
    assert api.json()["errors"] == {"q": api.json()["message"]}
    assert client.get("/console/incidents/?q=%2500").status_code == 200  # the text "%00"


def test_an_outage_met_outside_a_view_is_a_503_and_anything_else_a_500(rf):
    """handler500 (statuspage.conf.urls): what fails in a middleware, e.g. the session saved
    after the view, never reaches OutageMiddleware."""
    try:
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")
    except OperationalError:
        response = server_error(rf.get("/console/"))
    assert_unavailable(response)
    try:
        raise KeyError("a bug")
    except KeyError:
        assert server_error(rf.get("/console/")).status_code == 500
    try:
        raise OperationalError("down")
    except OperationalError:
        api = server_error(rf.get("/v1/pages/heliograph/incidents"))
    assert api.status_code == 503 and json.loads(api.content) == {"message": DATABASE_DOWN}

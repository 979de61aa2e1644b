"""Authentication, scopes, revocation, rate limits, size limits and the page id."""

from __future__ import annotations

import pytest
from api_helpers import BASE
from django.conf import settings
from django.core.management import call_command

from statuspage.api.models import ApiToken
from statuspage.api.services import api_token_revoke, token_hash
from statuspage.services import Actor


def test_no_token_is_401_with_message(client, catalogue):
    response = client.get(f"{BASE}/components.json")
    assert response.status_code == 401
    assert "Authorization" in response.json()["message"]


def test_unknown_token_is_401(api, catalogue):
    response = api("GET", "components", token="hg_not-a-real-token")
    assert response.status_code == 401
    assert response.json() == {
        "message": "Could not authenticate: the token is unknown or revoked."
    }


@pytest.mark.parametrize("scheme", ["OAuth", "Bearer"])
def test_header_schemes_accepted(api, catalogue, scheme):
    response = api("GET", "components", auth=scheme)
    assert response.status_code == 200
    assert {c["name"] for c in response.json()} >= {"Run execution (us-east-1)", "API"}


def test_api_key_query_parameter(client, token, catalogue):
    response = client.get(f"{BASE}/components?api_key={token}")
    assert response.status_code == 200


def test_token_is_stored_hashed_and_last_use_recorded(api, token, catalogue):
    row = ApiToken.objects.get()
    assert row.token_hash == token_hash(token)
    assert token not in str(ApiToken.objects.values().get())
    assert row.prefix == token[:10] and token.startswith("hg_")
    assert row.last_used_at is None
    api("GET", "components")
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_revoked_token_is_refused(api, token, catalogue):
    assert api("GET", "components").status_code == 200
    api_token_revoke(token=ApiToken.objects.get(), actor=Actor.system("test"))
    response = api("GET", "components")
    assert response.status_code == 401


def test_other_page_is_404(api, catalogue):
    response = api("GET", "/v1/pages/not-our-page/components.json")
    assert response.status_code == 404
    assert "not-our-page" in response.json()["message"]


def test_json_suffix_is_optional(api, catalogue):
    with_suffix = api("GET", f"{BASE}/components.json").json()
    without = api("GET", f"{BASE}/components").json()
    assert with_suffix == without and len(without) == 4  # a group, its 2 regions, API


def test_read_scope_cannot_write(api_as, catalogue):
    reader = api_as("reader", ["read"])
    assert reader("GET", "incidents").status_code == 200
    response = reader("POST", "incidents", json_body={"incident": {"name": "x"}})
    assert response.status_code == 403
    assert "'incidents' scope" in response.json()["message"]


def test_write_scope_without_read_cannot_list(api_as, catalogue):
    writer = api_as("writer", ["components"])
    assert writer("GET", "components").status_code == 403
    component = catalogue["api_global"].public_id
    response = writer(
        "PATCH", f"components/{component}", json_body={"component": {"status": "major_outage"}}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "major_outage"


def test_rate_limit_is_per_token_with_retry_after(api_as, catalogue, settings):
    settings.HELIOGRAPH_API_RATE_LIMIT = 3
    # A window that cannot roll over during the test (a fixed window restarts the count).
    settings.HELIOGRAPH_API_RATE_WINDOW = 10**9
    first = api_as("one")
    second = api_as("two")
    codes = [first("GET", "regions").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = first("GET", "regions")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 10**9
    assert limited["X-RateLimit-Remaining"] == "0"
    assert "Rate limit" in limited.json()["message"]
    assert second("GET", "regions").status_code == 200


def test_rate_limit_window_restarts_the_count(api_as, catalogue, settings):
    settings.HELIOGRAPH_API_RATE_LIMIT = 1
    settings.HELIOGRAPH_API_RATE_WINDOW = 1
    client = api_as("burst")
    responses = [client("GET", "regions") for _ in range(3)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "two of three requests within a few ms share a 1 s window"
    assert limited[0]["Retry-After"] == "1"
    import time

    time.sleep(1.05)
    assert client("GET", "regions").status_code == 200


def test_request_body_over_limit_is_413(api, catalogue, settings):
    settings.HELIOGRAPH_API_MAX_BODY = 1000
    response = api("POST", "incidents", json_body={"incident": {"name": "x", "body": "y" * 2000}})
    assert response.status_code == 413
    from incidents.models import Incident

    assert not Incident.objects.exists()


def test_method_not_allowed(api, catalogue):
    response = api("DELETE", "incidents")
    assert response.status_code == 405
    assert "GET" in response["Allow"]


def test_create_api_token_command_prints_two_lines(db, capsys, client, catalogue):
    call_command("create_api_token", "ci-bot", "--scopes", "read,incidents")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith("token: hg_")
    assert out[1] == f"page_id: {settings.PAGE_ID}"
    token = out[0].removeprefix("token: ")
    assert ApiToken.objects.get(name="ci-bot").scopes == ["read", "incidents"]
    response = client.get(f"{BASE}/incidents", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200


def test_create_api_token_command_defaults_to_all_scopes(db, capsys):
    call_command("create_api_token", "all")
    assert set(ApiToken.objects.get(name="all").scopes) == {
        "read",
        "incidents",
        "components",
        "subscribers",
        "credits",
    }


def test_create_api_token_command_refuses_unknown_scope(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown scope admin"):
        call_command("create_api_token", "x", "--scopes", "read,admin")
    assert not ApiToken.objects.exists()


def test_page_endpoint(api, catalogue):
    response = api("GET", f"{BASE}.json")
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == "heliograph" and data["status_indicator"] == "none"
    assert api("GET", "/v1/pages/other").status_code == 404
    pages = api("GET", "/v1/pages.json").json()
    assert [p["id"] for p in pages] == ["heliograph"]


def test_token_name_fits_the_audit_trail(db):
    from django.core.exceptions import ValidationError

    from statuspage.api.services import api_token_create

    with pytest.raises(ValidationError, match="longer than 190"):
        api_token_create(name="x" * 191, actor=Actor.system("test"))
    token, _ = api_token_create(name="x" * 190, actor=Actor.system("test"))
    assert len(f"api:{token.name}") <= 200

"""The OpenAPI document, the browsable docs page, and the token admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import ADDITION, LogEntry

from statuspage.api.models import ApiToken
from statuspage.api.routes import ROUTES
from statuspage.api.services import api_token_create
from statuspage.services import Actor


def test_openapi_lists_every_route_and_method(client, db):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    for route in ROUTES:
        key = ("/v1/pages/{page_id}/" + route.path).rstrip("/")
        path = document["paths"]["/v1/pages" if route.path == "/" else key]
        assert set(path) == {m.lower() for m in route.operations}
    create = document["paths"]["/v1/pages/{page_id}/incidents"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["incident"]["required"] == ["name"]
    assert "201" in create["responses"] and create["x-scope"] == "incidents"
    delete = document["paths"]["/v1/pages/{page_id}/incidents/{incident_id}"]["delete"]
    assert "204" in delete["responses"]
    # Every $ref points at a schema that exists.
    text = response.content.decode()
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in document["components"]["schemas"]


def test_docs_page_renders_the_endpoints(client, db):
    response = client.get("/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/v1/pages/{page_id}/components/bulk-status" in html
    assert "incident[name]" in html and "required" in html
    assert "Authorization: OAuth" in html


def test_admin_creates_token_shown_once_and_revokes(client, staff_user, django_user_model):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    response = client.post(
        "/admin/api/apitoken/add/",
        {"name": "pager-bot", "scopes": ["read", "incidents"]},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="pager-bot")
    assert token.scopes == ["read", "incidents"] and token.created_by == staff_user
    # The admin's own record of the addition names the token the service created.
    added = LogEntry.objects.get(action_flag=ADDITION)
    assert (added.object_id, added.object_repr) == (str(token.pk), str(token))
    shown = re.search(r"(hg_[A-Za-z0-9_-]{40,})", response.content.decode())
    assert shown, "the new token is shown once in a message"
    listing = client.get("/admin/api/apitoken/")
    assert "heliograph" in listing.content.decode()  # the page id
    assert shown.group(1) not in listing.content.decode()
    api = client.get("/v1/pages/heliograph/incidents", HTTP_AUTHORIZATION=f"OAuth {shown.group(1)}")
    assert api.status_code == 200
    client.post(
        "/admin/api/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    again = client.get(
        "/v1/pages/heliograph/incidents", HTTP_AUTHORIZATION=f"OAuth {shown.group(1)}"
    )
    assert again.status_code == 401


def test_openapi_document_is_valid_and_responses_match_it(api, catalogue):
    """A generated client trusts the document: it must be valid OpenAPI 3 and real responses
    must match the schemas it declares."""
    from openapi_schema_validator import OAS30Validator
    from openapi_spec_validator import validate

    document = api.client.get("/v1/openapi.json").json()
    validate(document)

    def check(schema_name: str, instance) -> None:
        schema = {**document, "$ref": f"#/components/schemas/{schema_name}"}
        OAS30Validator(schema).validate(instance)

    runs_us = catalogue["runs_us"].public_id
    incident = api(
        "POST",
        "incidents",
        json_body={"incident": {"name": "x", "components": {runs_us: "major_outage"}}},
    ).json()
    check("incident", incident)
    check("incident_update", incident["incident_updates"][0])
    for component in api("GET", "components").json():
        check("component", component)
    check("service", api("GET", "services").json()[0])
    check("region", api("GET", "regions").json()[0])
    check("status_change", api("GET", f"components/{runs_us}/status_history").json()[0])
    check(
        "bulk_status",
        api(
            "POST",
            "components/bulk-status",
            json_body={"region": "eu-central-1", "status": "partial_outage"},
        ).json(),
    )
    error = api("GET", "incidents/nope").json()
    check("Error", error)
    with pytest.raises(Exception, match="is not of type"):
        check("incident", {**incident, "name": 5})


def test_it_refuses_to_delete_a_token_from_the_admin(client, staff_user):
    """Tokens are revoked (audited), never deleted: the admin offers no delete."""
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    token, _raw = api_token_create(name="old-bot", actor=Actor.system("test"))
    response = client.post(f"/admin/api/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert ApiToken.objects.filter(pk=token.pk).exists()

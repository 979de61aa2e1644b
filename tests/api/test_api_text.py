"""The text rule (statuspage.text.clean_text) reaches the v1 API through the services: a
control character or a newline in a name is a 422 naming the field, NUL and lone
surrogates too (not a 500), and terminal colours pasted into a body are stripped."""

from __future__ import annotations

from incidents.models import Incident

ESC_NAME = "Runs failing \x1b[31mERROR\x1b[0m"
PASTED = "Output:\r\n\x1b[31mERROR\x1b[0m connection refused\r\n\tat worker-3"
STRIPPED = "Output:\nERROR connection refused\n\tat worker-3"


def test_the_api_refuses_an_escape_or_newline_in_a_name_and_strips_one_in_a_body(api, catalogue):
    for name, named in ((ESC_NAME, "U+001B"), ("Runs\nfailing", "single line")):
        response = api("POST", "incidents", json_body={"incident": {"name": name, "body": "b"}})
        assert response.status_code == 422, response.content
        message = response.json()["message"]
        assert message.startswith("name:") and named in message
    for text in ('"nul \\u0000"', '"lone \\ud800"'):
        response = api("POST", "incidents", raw='{"incident": {"name": ' + text + ', "body": "b"}}')
        assert response.status_code == 422, response.content
        assert response.json()["message"].startswith("name:")
    assert not Incident.objects.exists()

    response = api(
        "POST", "incidents", json_body={"incident": {"name": "Runs failing", "body": PASTED}}
    )
    assert response.status_code == 201, response.content
    assert response.json()["incident_updates"][0]["body"] == STRIPPED
    incident = Incident.objects.get()
    assert incident.updates.get().body == STRIPPED

    response = api(
        "PATCH", f"incidents/{incident.public_id}", json_body={"incident": {"name": "a\nb"}}
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("name:")
    response = api(
        "PATCH",
        f"incidents/{incident.public_id}",
        json_body={"incident": {"status": "identified", "body": "stray \x1b"}},
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("body:")
    incident.refresh_from_db()
    assert incident.name == "Runs failing" and incident.updates.count() == 1


def test_a_component_name_with_a_newline_is_refused(api, catalogue):
    response = api("POST", "components", json_body={"component": {"name": "Web\nsite"}})
    assert response.status_code == 422, response.content
    assert response.json()["message"].startswith("name:")

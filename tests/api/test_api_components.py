"""Components, component groups, regions, services and status history through the API."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from statuspage.models import AuditEntry, Component, ComponentStatusChange, Region, Service
from statuspage.services import service_create


def test_components_list_has_groups_and_children(api, catalogue):
    data = api("GET", "components.json").json()
    group = next(c for c in data if c["group"])
    assert group["id"] == catalogue["runs"].public_id
    assert set(group["components"]) == {
        catalogue["runs_us"].public_id,
        catalogue["runs_eu"].public_id,
    }
    child = next(c for c in data if c["id"] == catalogue["runs_us"].public_id)
    assert child["group_id"] == group["id"]
    assert child["page_id"] == "heliograph"


def test_get_component_and_group_by_id(api, catalogue):
    component = api("GET", f"components/{catalogue['api_global'].public_id}.json").json()
    assert component["name"] == "API" and component["group"] is False
    group = api("GET", f"components/{catalogue['runs'].public_id}").json()
    assert group["group"] is True
    assert api("GET", "components/nope").status_code == 404


def test_it_reads_a_component_by_id_in_one_query(api, catalogue):
    """GET looks the component up once (it used to ask exists() and then get())."""
    api("GET", "components.json")  # the token's first use of the minute records last_used_at
    path = f"components/{catalogue['api_global'].public_id}.json"
    with CaptureQueriesContext(connection) as queries:
        assert api("GET", path).status_code == 200
    reads = [q["sql"] for q in queries if 'FROM "statuspage_component"' in q["sql"]]
    assert len(reads) == 1, reads


def test_patch_status_form_encoded_records_history(api, catalogue):
    component = catalogue["runs_us"]
    response = api(
        "PATCH",
        f"components/{component.public_id}.json",
        form={"component[status]": "partial_outage", "component[reason]": "Queue backlog"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "partial_outage"
    change = ComponentStatusChange.objects.get(component=component)
    assert (change.old_status, change.new_status) == ("operational", "partial_outage")
    assert change.actor_name == "api:deploy-bot" and change.reason == "Queue backlog"
    history = api("GET", f"components/{component.public_id}/status_history").json()
    assert history[0]["new_status"] == "partial_outage"
    assert history[0]["actor"] == "api:deploy-bot"


def test_patch_bad_status_is_422_and_changes_nothing(api, catalogue):
    component = catalogue["runs_us"]
    response = api(
        "PATCH",
        f"components/{component.public_id}",
        json_body={"component": {"status": "exploded", "description": "new"}},
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("status:")
    component.refresh_from_db()
    assert component.status == "operational" and component.description == ""


def test_patch_display_fields_and_name_of_global(api, catalogue):
    component = catalogue["api_global"]
    response = api(
        "PATCH",
        f"components/{component.public_id}",
        json_body={
            "component": {
                "name": "Public API",
                "description": "REST",
                "showcase": False,
                "only_show_if_degraded": True,
                "start_date": "2026-01-01",
            }
        },
    )
    data = response.json()
    assert data["name"] == "Public API" and data["description"] == "REST"
    assert data["showcase"] is False and data["only_show_if_degraded"] is True
    assert data["start_date"] == "2026-01-01"
    assert AuditEntry.objects.filter(
        action="component.update", actor_name="api:deploy-bot"
    ).exists()


def test_create_global_component(api, catalogue):
    response = api(
        "POST",
        "components",
        json_body={"component": {"name": "Dashboard", "status": "degraded_performance"}},
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["name"] == "Dashboard" and data["status"] == "degraded_performance"
    assert data["group_id"] is None
    assert Service.objects.filter(name="Dashboard").exists()


def test_create_component_in_group_needs_region(api, catalogue):
    ap = Region.objects.create(slug="ap-south-1", name="Mumbai")
    group = catalogue["runs"].public_id
    missing = api("POST", "components", json_body={"component": {"group_id": group, "name": "x"}})
    assert missing.status_code == 422
    assert missing.json()["message"].startswith("region:")
    response = api(
        "POST", "components", form={"component[group_id]": group, "component[region]": ap.slug}
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["name"] == "Run execution (ap-south-1)" and data["group_id"] == group
    by_name = api(
        "POST",
        "components",
        json_body={"component": {"group_id": catalogue["api"].public_id, "name": "us-east-1"}},
    )
    assert by_name.status_code == 201
    assert by_name.json()["name"] == "API (us-east-1)"


def test_create_duplicate_is_422(api, catalogue):
    response = api("POST", "components", json_body={"component": {"name": "API"}})
    assert response.status_code == 422
    assert "name" in response.json()["errors"]


def test_delete_component(api, catalogue):
    component = catalogue["runs_eu"]
    assert api("DELETE", f"components/{component.public_id}").status_code == 204
    assert not Component.objects.filter(pk=component.pk).exists()
    assert Service.objects.filter(pk=catalogue["runs"].pk).exists()  # still has us-east-1
    assert api("DELETE", f"components/{catalogue['api_global'].public_id}").status_code == 204
    assert not Service.objects.filter(pk=catalogue["api"].pk).exists()


def test_component_groups_crud(api, catalogue):
    listed = api("GET", "component-groups.json").json()
    assert [g["id"] for g in listed] == [catalogue["runs"].public_id]
    refused = api(
        "POST",
        "component-groups",
        json_body={"component_group": {"name": "Storage", "components": ["abc"]}},
    )
    assert refused.status_code == 422
    assert refused.json()["message"].startswith("components:")
    no_regions = api("POST", "component-groups", json_body={"component_group": {"name": "S"}})
    assert no_regions.json()["message"].startswith("regions:")
    created = api(
        "POST",
        "component-groups",
        json_body={
            "component_group": {"name": "Storage", "regions": ["us-east-1", "eu-central-1"]}
        },
    )
    assert created.status_code == 201
    group = created.json()
    assert group["group"] is True and len(group["components"]) == 2
    patched = api(
        "PATCH",
        f"component-groups/{group['id']}",
        json_body={"component_group": {"name": "Object storage", "description": "S3"}},
    )
    assert patched.json()["name"] == "Object storage"
    assert Component.objects.get(public_id=group["components"][0]).name.startswith(
        "Object storage ("
    )
    assert api("DELETE", f"component-groups/{group['id']}").status_code == 204
    assert not Service.objects.filter(public_id=group["id"]).exists()
    assert api("GET", f"component-groups/{group['id']}").status_code == 404


def test_group_status_patch_sets_all_children(api, catalogue):
    response = api(
        "PATCH",
        f"components/{catalogue['runs'].public_id}",
        json_body={"component": {"status": "major_outage"}},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "major_outage"
    assert set(
        Component.objects.filter(service=catalogue["runs"]).values_list("status", flat=True)
    ) == {"major_outage"}


def test_regions(api, catalogue):
    assert [r["slug"] for r in api("GET", "regions").json()] == ["us-east-1", "eu-central-1"]
    created = api("POST", "regions", form={"region[slug]": "ap-south-1", "region[name]": "Mumbai"})
    assert created.status_code == 201 and created.json()["id"] == "ap-south-1"
    assert api("GET", "regions/ap-south-1.json").json()["name"] == "Mumbai"
    duplicate = api("POST", "regions", json_body={"region": {"slug": "ap-south-1", "name": "x"}})
    assert duplicate.status_code == 422 and "slug" in duplicate.json()["errors"]
    assert api("GET", "regions/nowhere").status_code == 404


def test_services_crud(api, catalogue):
    data = api("GET", "services").json()
    assert [s["name"] for s in data] == ["Run execution", "API"]
    assert data[0]["regions"] == ["us-east-1", "eu-central-1"]
    created = api(
        "POST",
        "services",
        json_body={"service": {"name": "Queue", "regions": ["us-east-1"], "description": "q"}},
    )
    assert created.status_code == 201, created.content
    service = created.json()
    assert service["slug"] == "queue" and len(service["components"]) == 1
    bad_region = api("POST", "services", json_body={"service": {"name": "Q2", "regions": ["mars"]}})
    assert bad_region.status_code == 422 and bad_region.json()["message"].startswith("regions:")
    assert api("GET", "services/queue").json()["id"] == service["id"]
    patched = api("PATCH", f"services/{service['id']}", json_body={"service": {"position": 7}})
    assert patched.json()["position"] == 7
    assert api("DELETE", f"services/{service['id']}").status_code == 204
    assert not Service.objects.filter(name="Queue").exists()


def test_pagination_headers_everywhere(api, catalogue):
    response = api("GET", "components?per_page=2&page=2")
    assert response["X-Total-Count"] == "4"
    assert len(response.json()) == 2
    assert 'rel="prev"' in response["Link"]
    assert api("GET", "regions?page=0").status_code == 422


def test_a_component_created_in_an_outage_is_in_its_history(api, catalogue):
    """Uptime is computed from the history: a component created with a status other than
    operational records that change like any other (it used to be saved with no history)."""
    ap = Region.objects.create(slug="ap-south-1", name="Mumbai")
    response = api(
        "POST",
        "components",
        json_body={
            "component": {
                "group_id": catalogue["runs"].public_id,
                "region": ap.slug,
                "status": "major_outage",
            }
        },
    )
    assert response.status_code == 201, response.content
    component = Component.objects.get(public_id=response.json()["id"])
    (change,) = ComponentStatusChange.objects.filter(component=component)
    assert (change.old_status, change.new_status) == ("operational", "major_outage")


def test_lists_of_services_and_groups_cost_the_same_for_2_or_12_services(api, catalogue, actor):
    """One query per list and page, not one per service (the lists used to be N+1)."""

    def cost(path: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api("GET", path).status_code == 200
        return len(queries)

    cost("services")  # the token's first use of the minute records last_used_at
    small = {path: cost(path) for path in ("services", "component-groups")}
    regions = [catalogue["us"], catalogue["eu"]]
    for i in range(10):
        service_create(name=f"Service {i}", regions=regions, actor=actor)
    assert {path: cost(path) for path in small} == small

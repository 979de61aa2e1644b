"""The SDKs are generated from the OpenAPI document (sdk/generate.py, `make sdk`) and the
generated files are committed. These tests fail when the committed files are not what the
generator makes of the live `/v1/openapi.json`: an operation the API gained (or a field, a
summary, a schema that changed) without `make sdk`."""

from __future__ import annotations

import copy
import difflib

import httpx
import pytest
from heliograph_client import METHODS, OPERATIONS, Client
from sdk_helpers import ROOT, load_generator, npm_ready


@pytest.fixture(scope="module")
def generator():
    return load_generator()


@pytest.fixture
def live_document(live_server) -> dict:
    response = httpx.get(f"{live_server.url}/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def operation_ids(document: dict) -> set[str]:
    return {op["operationId"] for methods in document["paths"].values() for op in methods.values()}


def test_every_operation_of_the_live_document_has_a_method(live_document):
    missing = operation_ids(live_document) - set(METHODS)
    assert not missing, f"operations the SDK lacks (run `make sdk`): {sorted(missing)}"
    assert set(OPERATIONS) == operation_ids(live_document)
    client = Client("http://sdk.invalid", "hg_x")
    for op_id, method in METHODS.items():
        resource, name = method.split(".")
        assert callable(getattr(getattr(client, resource), name)), op_id


def test_the_committed_sdk_files_are_what_the_live_document_generates(generator, live_document):
    npm_ready()  # the TypeScript types are made by openapi-typescript
    stale = []
    for path, expected in generator.render(live_document).items():
        current = path.read_text() if path.exists() else ""
        if current != expected:
            diff = difflib.unified_diff(
                current.splitlines(), expected.splitlines(), "committed", "generated", lineterm=""
            )
            stale.append(f"{path.relative_to(ROOT)}:\n" + "\n".join(list(diff)[:40]))
    assert not stale, "The SDK is out of date with /v1/openapi.json; run `make sdk`.\n\n" + (
        "\n\n".join(stale)
    )


def test_a_new_operation_in_the_document_makes_the_check_fail(generator, live_document):
    """What the test above catches: the document gains `GET widgets` → the SDK lacks it."""
    document = copy.deepcopy(live_document)
    list_op = copy.deepcopy(document["paths"]["/v1/pages/{page_id}/regions"]["get"])
    list_op.update(operationId="widgets_get", summary="List widgets")
    document["paths"]["/v1/pages/{page_id}/widgets"] = {"get": list_op}
    files = generator.render(document, typescript_types=False)
    python = files[generator.PY_OPERATIONS]
    assert '"widgets_get": "widgets.list"' in python
    assert "class WidgetsResource:" in python
    assert python != generator.PY_OPERATIONS.read_text()
    assert "widgets_get" not in METHODS


def test_two_operations_with_one_name_stop_the_generator(generator, live_document):
    document = copy.deepcopy(live_document)
    clash = copy.deepcopy(document["paths"]["/v1/pages/{page_id}/metrics/data"])
    clash["post"]["operationId"] = "metric_samples_post"
    document["paths"]["/v1/pages/{page_id}/metrics/{metric_id}/samples/data"] = clash
    document["paths"]["/v1/pages/{page_id}/metrics/samples/data"] = copy.deepcopy(clash)
    document["paths"]["/v1/pages/{page_id}/metrics/samples/data"]["post"]["operationId"] = "x"
    with pytest.raises(SystemExit, match="would both be metrics.samples_data"):
        generator.operations(document)

"""The route table (statuspage/api/routes.py) put together from the resource modules: every
route answers its own URLs, and the handlers stay thin (no transaction, no row written by
hand, no import inside a function)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings
from django.urls import resolve

from statuspage.api import resources
from statuspage.api.routes import ROUTES

API = Path(resources.__file__).resolve().parent.parent
RESOURCES = sorted((API / "resources").glob("*.py"))
WRITES = {"save", "delete", "create", "bulk_create", "bulk_update", "get_or_create"}
WRITES |= {"update_or_create", "update"}
FIRST_PARTY = {"statuspage", "incidents", "notifier"}


def _urls(path: str) -> list[str]:
    """URLs of a route's path (with a made-up id in each `{parameter}`), in every spelling."""
    if path == "/":
        base = "/v1/pages"
    elif not path:
        base = f"/v1/pages/{settings.PAGE_ID}"
    else:
        base = f"/v1/pages/{settings.PAGE_ID}/" + re.sub(r"\{\w+\}", "x7k2m9q4w1z8", path)
    return [base, f"{base}.json", f"{base}/"]


def test_every_route_answers_its_own_urls():
    """A fixed path (`incidents/unresolved`) listed after the parameter it would match
    (`incidents/{incident_id}`) would be answered by the wrong route."""
    assert len({route.name for route in ROUTES}) == len(ROUTES), "route names are unique"
    for route in ROUTES:
        for url in _urls(route.path):
            assert resolve(url).url_name == route.name, (url, route.name)


def test_every_resource_module_exports_routes_and_all_are_served():
    served = {id(route) for route in ROUTES}
    modules = [p.stem for p in RESOURCES if p.stem != "__init__"]
    assert {"incidents", "components", "subscribers", "credits", "metrics"} <= set(modules)
    for name in modules:
        module = __import__(f"statuspage.api.resources.{name}", fromlist=["ROUTES"])
        assert module.ROUTES, name
        assert all(id(route) in served for route in module.ROUTES), name


def test_handlers_open_no_transaction_and_write_no_row():
    for path in [*RESOURCES, API / "lookups.py"]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "django.db" or all(
                    alias.name != "transaction" for alias in node.names
                ), f"{path.name}: a handler opens no transaction; a service does"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in WRITES, (
                    f"{path.name}:{node.lineno}: .{node.func.attr}() — writes go through services"
                )


def test_no_first_party_import_inside_a_function():
    for path in API.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name == "ready":
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom):
                    modules = [inner.module or ""] if not inner.level else ["statuspage"]
                elif isinstance(inner, ast.Import):
                    modules = [alias.name for alias in inner.names]
                else:
                    continue
                assert not any(m.split(".")[0] in FIRST_PARTY for m in modules), (
                    f"{path.relative_to(API)}:{inner.lineno} imports inside {node.name}()"
                )

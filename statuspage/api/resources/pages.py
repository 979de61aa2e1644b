"""The page itself: `GET /v1/pages` (the one page of this Heliograph) and `GET /v1/pages/{id}`."""

from __future__ import annotations

from incidents.documents import page_dict
from incidents.selectors import page_status, page_updated_at
from statuspage.api.framework import Call, get, route


def page_get(call: Call) -> dict:
    """The page (v1 `GET /pages/{page_id}`), with the overall status beside it."""
    overall = page_status()
    return {
        **page_dict(updated_at=page_updated_at()),
        "status_indicator": overall.indicator,
        "status_description": overall.description,
    }


def pages_list(call: Call) -> list[dict]:
    return [page_get(call)]


ROUTES = [
    route(
        "/",
        "pages",
        get(pages_list, "The pages this token can use (one: this Heliograph)", many=True),
        tag="Page",
    ),
    route("", "page", get(page_get, "The page and its overall status"), tag="Page"),
]

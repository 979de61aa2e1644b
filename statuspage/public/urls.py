"""Public URLs: the page, history, incident pages, feeds, the /api/v2 JSON documents, the
badges, the maintenance calendars and the embeddable widget, all served from the snapshot;
and /hello, the benchmark baseline."""

import re

from django.urls import path, re_path

from statuspage import languages
from statuspage.public import views

# `/de/`, `/de/history`, `/de/incidents/<id>`, `/de/embed.html`: the pages in one language
# (statuspage/languages.py); `/en/…` too, for a visitor who chose English.
_LANGUAGE = "|".join(re.escape(code) for code in languages.CODES)

DOCUMENTS = [
    "/",
    "/history",
    "/history.atom",
    "/history.rss",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
    "/snapshot.json",  # when the site was last published: the pages' live script reads it
    "/badge.svg",
    "/embed.html",  # the status widget other sites may frame
    "/maintenance.ics",  # the maintenance calendar (statuspage.public.calendars)
]


def _name(doc: str) -> str:
    """`/api/v2/summary.json` → `public-api-v2-summary.json`; `/` → `public-page`."""
    return "public-" + (doc.strip("/").replace("/", "-") or "page")


# The busiest URLs first: Django tries patterns in order.
urlpatterns = [
    *(
        path(doc.removeprefix("/"), views.document, {"path": doc}, name=_name(doc))
        for doc in DOCUMENTS[:1] + DOCUMENTS[4:5]
    ),
    path("hello", views.hello, name="hello"),
    path("incidents/<slug:public_id>", views.incident, name="public-incident"),
    path("badge/<slug:component_id>.svg", views.badge, name="public-badge"),
    path(
        "maintenance/<slug:component_id>.ics",
        views.component_calendar,
        name="public-component-calendar",
    ),
    *(
        path(doc.removeprefix("/"), views.document, {"path": doc}, name=_name(doc))
        for doc in DOCUMENTS[1:4] + DOCUMENTS[5:]
    ),
    re_path(rf"^(?P<language>{_LANGUAGE})/$", views.localized, {"page": "/"}),
    re_path(rf"^(?P<language>{_LANGUAGE})/history$", views.localized, {"page": "/history"}),
    re_path(rf"^(?P<language>{_LANGUAGE})/embed\.html$", views.localized, {"page": "/embed.html"}),
    re_path(
        rf"^(?P<language>{_LANGUAGE})/incidents/(?P<public_id>[-a-zA-Z0-9_]+)$",
        views.localized_incident,
    ),
]

"""URLs of the automation API, mounted at /v1/: built from the route table (routes.py)."""

from django.urls import path, re_path

from statuspage.api import docs
from statuspage.api.framework import make_view
from statuspage.api.routes import ROUTES

app_name = "api"

urlpatterns = [
    path("openapi.json", docs.openapi_json, name="openapi"),
    path("docs", docs.docs_page, name="docs"),
    path("docs/", docs.docs_page),
    *[re_path(route.regex, make_view(route), name=route.name) for route in ROUTES],
]

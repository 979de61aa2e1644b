"""Root URLs. Each area owns its own URL module."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("console/credits/", include("incidents.credits.urls")),
    path("credits/", include("incidents.credits.public_urls")),
    path("console/metrics/", include("statuspage.metrics.urls")),
    path("console/", include("incidents.urls")),
    path("v1/", include("statuspage.api.urls")),
    path("", include("statuspage.metrics.intake_urls")),
    path("", include("notifier.urls")),
    path("", include("statuspage.public.urls")),
]

# An outage met outside a view (statuspage.conf.middleware) is a 503, not a 500.
handler500 = "statuspage.conf.middleware.server_error"

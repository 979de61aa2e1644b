"""The metrics console, mounted at /console/metrics/."""

from django.urls import path

from statuspage.metrics import views

app_name = "metrics"
urlpatterns = [
    path("", views.metrics_console, name="console"),
    path("alerts/", views.alerts_console, name="alerts"),
    path("drafts/<int:pk>/publish", views.draft_publish, name="draft_publish"),
    path("drafts/<int:pk>/discard", views.draft_discard, name="draft_discard"),
]

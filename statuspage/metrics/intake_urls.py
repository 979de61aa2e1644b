"""The intake URLs of detection, mounted at the root: anonymous, the secret is in the URL."""

from django.urls import path

from statuspage.metrics import views

app_name = "intake"
urlpatterns = [
    path("intake/alerts/<str:secret>", views.alert_intake, name="alerts"),
    path("checkin/<str:secret>", views.checkin, name="checkin"),
    path("checkin/<str:secret>/fail", views.checkin, {"failed": True}, name="checkin_fail"),
]

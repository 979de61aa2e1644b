from django.urls import path

from statuspage.metrics import views

app_name = "metrics"
urlpatterns = [path("", views.metrics_console, name="console")]

"""Public URLs of credits, mounted at /credits/: the account notice behind its signed link."""

from django.urls import path

from incidents.credits import views

app_name = "credit_notice"

urlpatterns = [
    path("notice/<str:token>/", views.notice, name="notice"),
]

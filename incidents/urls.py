"""URLs of the staff incident console, mounted at /console/."""

from django.contrib.auth import views as auth_views
from django.urls import path

from incidents import views

app_name = "console"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("declare/", views.incident_declare, name="declare"),
    path("preview", views.preview, name="preview"),
    path("incidents/", views.incident_list, name="incidents"),
    path("incidents/<str:public_id>/", views.incident_detail, name="incident"),
    path("incidents/<str:public_id>/update/", views.incident_update, name="incident_update"),
    path("incidents/<str:public_id>/resolve/", views.incident_resolve, name="incident_resolve"),
    path("incidents/<str:public_id>/edit/", views.incident_edit, name="incident_edit"),
    path(
        "incidents/<str:public_id>/postmortem/",
        views.incident_postmortem,
        name="incident_postmortem",
    ),
    path("updates/<str:public_id>/edit/", views.update_edit, name="update_edit"),
    path("maintenance/new/", views.maintenance_new, name="maintenance_new"),
    path("maintenance/<str:public_id>/start/", views.maintenance_start, name="maintenance_start"),
    path(
        "maintenance/<str:public_id>/complete/",
        views.maintenance_complete,
        name="maintenance_complete",
    ),
    path(
        "maintenance/<str:public_id>/cancel/",
        views.maintenance_cancel,
        name="maintenance_cancel",
    ),
    path("components/", views.components, name="components"),
    path("audit/", views.audit, name="audit"),
]

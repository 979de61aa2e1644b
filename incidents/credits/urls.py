"""URLs of the credits pages, mounted at /console/credits/."""

from django.urls import path

from incidents.credits import views

app_name = "credits"

urlpatterns = [
    path("", views.index, name="index"),
    path("policies/new/", views.policy_new, name="policy_new"),
    path("policies/<int:pk>/", views.policy_detail, name="policy"),
    path("policies/<int:pk>/edit/", views.policy_edit, name="policy_edit"),
    path("policies/<int:pk>/run/", views.policy_run, name="policy_run"),
    path("reports/<int:pk>/", views.report_detail, name="report"),
    path("reports/<int:pk>/credits.csv", views.report_csv, name="report_csv"),
    path("reports/<int:pk>/accounts/<str:account_id>/", views.report_line, name="line"),
    path("import/", views.import_upload, name="import"),
]

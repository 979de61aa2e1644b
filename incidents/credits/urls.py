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
    path("reports/<int:pk>/approve/", views.report_approve, name="report_approve"),
    path("reports/<int:pk>/apply/", views.report_apply, name="report_apply"),
    path("reports/<int:pk>/reconciliation/", views.report_reconciliation, name="reconciliation"),
    path(
        "reports/<int:pk>/reconciliation.csv",
        views.report_reconciliation_csv,
        name="reconciliation_csv",
    ),
    path("policies/<int:pk>/refunds/", views.refunds, name="refunds"),
    path("refunds/<int:pk>/", views.refund_decide, name="refund_decide"),
    path("reports/<int:pk>/accounts/<str:account_id>/", views.report_line, name="line"),
    path("import/", views.import_upload, name="import"),
]

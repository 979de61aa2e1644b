# Report lines get the primary key (report, account): one index instead of two. Django cannot
# change a primary key in place, so the table is recreated (report lines are derived data:
# a report is re-run from its policy).

import django.db.models.deletion
from django.db import migrations, models


def mark_reports_without_lines(apps, schema_editor):
    """Done reports lose their lines with the old table: say so, so they are run again."""
    CreditReport = apps.get_model("incidents", "CreditReport")
    CreditReport.objects.filter(status="done").update(
        status="failed",
        error="Its lines were dropped when report lines got a new key (migration 0006): "
        "run the policy's report again.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0005_credits_report_lines_no_db_fk"),
    ]

    operations = [
        migrations.RunPython(mark_reports_without_lines, migrations.RunPython.noop),
        migrations.DeleteModel(name="CreditReportLine"),
        migrations.CreateModel(
            name="CreditReportLine",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "report",
                        "account",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "report",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="lines",
                        to="incidents.creditreport",
                    ),
                ),
                (
                    "account",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="incidents.account",
                    ),
                ),
                ("account_external_id", models.CharField(max_length=64)),
                ("account_name", models.CharField(max_length=255)),
                ("currency", models.CharField(max_length=3)),
                (
                    "spend_cents",
                    models.BigIntegerField(help_text="Spend in the window, rounded once"),
                ),
                ("minimum_cents", models.BigIntegerField()),
                ("cap_cents", models.BigIntegerField(null=True)),
                ("credit_cents", models.BigIntegerField()),
                ("minimum_applied", models.BooleanField()),
                ("cap_applied", models.BooleanField()),
            ],
            options={
                "ordering": ["currency", "account_external_id"],
            },
        ),
    ]

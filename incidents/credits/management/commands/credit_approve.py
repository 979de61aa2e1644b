"""`manage.py credit_approve --report ID --user NAME`: the second pair of eyes.

NAME must be an active staff user with `credits.approve_report` who did not compute the
report (`credit_report --user`). The report is frozen from then on; `credit_apply` sends it.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.credits import services
from incidents.credits.models import CreditReport
from statuspage.services import Actor


class Command(BaseCommand):
    help = "Approve a computed credit report (four eyes: not the user who computed it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--report", required=True, type=int, help="Credit report id")
        parser.add_argument("--user", required=True, help="The approving staff user")

    def handle(self, *args: object, **options: object) -> None:
        report = CreditReport.objects.filter(pk=options["report"]).first()
        if report is None:
            raise CommandError(f"no credit report #{options['report']}")
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user named '{options['user']}'")
        try:
            report = services.credit_report_approve(report=report, actor=Actor.for_user(user))
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        self.stdout.write(
            f"Report #{report.pk} approved by {report.approved_by_name}; "
            f"apply it with: manage.py credit_apply --report {report.pk}"
        )

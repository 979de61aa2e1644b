"""`manage.py credit_apply --report ID`: apply an approved credit report through Stripe.

Each account's credit becomes a customer balance transaction, each approved add-on refund a
refund (or a credit note); one idempotency key per report, account and kind. Run it again to
resume after a failure or a crash: nothing is applied twice. A dry run (the default in
development, HELIOGRAPH_STRIPE_DRY_RUN) records what would be sent and sends nothing.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.credits import selectors, services
from incidents.credits.models import CreditReport
from statuspage.services import Actor


class Command(BaseCommand):
    help = "Apply (or resume applying) an approved credit report through Stripe."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--report", required=True, type=int, help="Credit report id")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--dry-run", action="store_true", default=None, help="Send nothing")
        mode.add_argument(
            "--live",
            dest="dry_run",
            action="store_false",
            help="Send to Stripe even where dry runs are the default",
        )
        parser.add_argument("--user", default="", help="Staff user to record as applying it")
        parser.add_argument(
            "--takeover",
            action="store_true",
            help="Take over from a run that seems alive (use only if it is not)",
        )
        parser.add_argument(
            "--resend-unchecked",
            action="store_true",
            help="Send again the items marked 'check in Stripe' (after checking them)",
        )

    def handle(self, *args: object, **options: object) -> None:
        report = CreditReport.objects.filter(pk=options["report"]).first()
        if report is None:
            raise CommandError(f"no credit report #{options['report']}")
        actor = Actor.system("manage.py credit_apply")
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user named '{options['user']}'")
            actor = Actor.for_user(user)
        try:
            application = services.credit_application_start(
                report=report, actor=actor, dry_run=options["dry_run"]
            )
            run = services.credit_application_run(
                application_id=application.pk,
                actor=actor,
                takeover=options["takeover"],
                resend_unchecked=options["resend_unchecked"],
                progress=lambda message: self.stderr.write(message),
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        application.refresh_from_db()
        counts = selectors.application_counts(application)
        label = "Dry run of report" if application.dry_run else "Report"
        self.stdout.write(
            f"{label} #{report.pk}: this run {run.applied} applied, {run.failed} failed, "
            f"{run.simulated} simulated, {run.notices} notices queued"
            + (f", {run.rate_limited} rate-limited answers waited out" if run.rate_limited else "")
        )
        self.stdout.write(
            "In all: "
            + ", ".join(
                f"{count['count']} {status}" for status, count in counts.items() if count["count"]
            )
        )
        skipped = selectors.application_items(application, status="skipped")[:20]
        for item in skipped:
            self.stdout.write(f"skipped {item.account_external_id} {item.kind}: {item.error}")
        if application.status != "done":
            raise CommandError(
                f"not finished ({application.status}): fix what failed and run it again to resume"
            )

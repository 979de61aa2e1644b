"""`manage.py import_refund_requests --policy ID requests.csv`: the contact form's export.

Columns `account_id,requested_at,contact,message,charge_ids` (only account_id is required).
Re-importing adds nothing twice; a file with any bad line is refused whole.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.credits.importers import ImportRejected
from incidents.credits.models import CreditPolicy
from incidents.credits.services import refund_requests_import
from statuspage.services import Actor


class Command(BaseCommand):
    help = "Record add-on refund requests from a CSV export of the contact form."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--policy", required=True, type=int, help="Credit policy id")
        parser.add_argument("path", help="CSV file")

    def handle(self, *args: object, **options: object) -> None:
        policy = CreditPolicy.objects.filter(pk=options["policy"]).first()
        if policy is None:
            raise CommandError(f"no credit policy #{options['policy']}")
        path = str(options["path"])
        try:
            result = refund_requests_import(
                policy=policy,
                source=path,
                actor=Actor.system("manage.py import_refund_requests"),
                filename=path,
            )
        except FileNotFoundError:
            raise CommandError(f"no such file: {path}") from None
        except ImportRejected as exc:
            for line, reason in exc.line_errors:
                self.stderr.write(f"line {line}: {reason}")
            raise CommandError(exc.summary()) from None
        self.stdout.write(
            f"{result.created} new refund requests, {result.unchanged} already recorded"
        )

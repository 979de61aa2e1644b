"""`manage.py import_spend spend.csv`: import spend records from a CSV file (streamed)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from incidents.credits.management.commands.import_accounts import run_import
from incidents.credits.services import spend_import


class Command(BaseCommand):
    help = (
        "Import spend from CSV (account_id,amount,currency and occurred_at or "
        "period_start,period_end; optional region,kind). Re-importing adds nothing twice; "
        "a file with any bad line is rejected whole."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="CSV file")

    def handle(self, *args: object, **options: object) -> None:
        run_import(self, spend_import, str(options["path"]), "import_spend")

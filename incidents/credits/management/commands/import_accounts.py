"""`manage.py import_accounts accounts.csv`: create or update accounts from a CSV file."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.credits.importers import ImportRejected
from incidents.credits.services import accounts_import
from statuspage.services import Actor


class Command(BaseCommand):
    help = "Import accounts from CSV (account_id,name,plan,paying,currency). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="CSV file")

    def handle(self, *args: object, **options: object) -> None:
        run_import(self, accounts_import, str(options["path"]), "import_accounts")


def run_import(command: BaseCommand, importer, path: str, name: str) -> None:  # noqa: ANN001
    """Shared by import_accounts and import_spend: progress on stderr, every bad line listed."""
    try:
        result = importer(
            source=path,
            actor=Actor.system(f"manage.py {name}"),
            progress=lambda message: command.stderr.write(message),
            filename=path,
        )
    except FileNotFoundError:
        raise CommandError(f"no such file: {path}") from None
    except ImportRejected as exc:
        for line, reason in exc.line_errors:
            command.stderr.write(f"line {line}: {reason}")
        if exc.bad_lines > len(exc.line_errors):
            command.stderr.write(f"… and {exc.bad_lines - len(exc.line_errors)} more bad lines")
        raise CommandError(exc.summary()) from None
    command.stdout.write(
        f"{result.lines} lines: {result.created} new, {result.updated} updated, "
        f"{result.unchanged} already there"
    )

"""`manage.py create_api_token NAME [--scopes read,incidents,...]`: a token for scripts.

Prints exactly two lines, `token: <token>` and `page_id: <id>`, so a script can read them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from statuspage.api.models import ApiScope
from statuspage.api.services import api_token_create
from statuspage.services import Actor


class Command(BaseCommand):
    help = "Create an API token and print it (it is shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who uses the token, e.g. deploy-bot")
        parser.add_argument(
            "--scopes",
            default=None,
            help="Comma-separated, from: " + ", ".join(ApiScope.values) + " (default: all)",
        )

    def handle(self, *args, name: str, scopes: str | None, **options) -> None:
        scope_list = None
        if scopes is not None:
            scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            _, raw = api_token_create(
                name=name, scopes=scope_list, actor=Actor.system("manage.py create_api_token")
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"token: {raw}")
        self.stdout.write(f"page_id: {settings.PAGE_ID}")

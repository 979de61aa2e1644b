"""`manage.py mcp_server [--token TOKEN]`: the MCP server for AI assistants, over stdio.

The token (else HELIOGRAPH_API_TOKEN) is an API token: its scopes limit what the assistant
may do, and revoking it stops the assistant. Nothing but the protocol goes to stdout.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from statuspage.api.mcp_server import build_server


class Command(BaseCommand):
    help = "Run the MCP server (stdio transport) with an API token's scopes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--token", default=None, help="API token (else HELIOGRAPH_API_TOKEN)")

    def handle(self, *args, token: str | None, **options) -> None:
        build_server(token or settings.HELIOGRAPH_API_TOKEN).run("stdio")

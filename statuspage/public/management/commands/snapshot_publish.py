"""`manage.py snapshot_publish [--full]`: render the public snapshot now."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from statuspage.public.snapshot import snapshot_publish


class Command(BaseCommand):
    help = "Render the public page, feeds and JSON documents into the snapshot directory."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--full",
            action="store_true",
            help="Re-render every incident page, not just changed ones.",
        )

    def handle(self, *args, **options) -> None:
        manifest = snapshot_publish(full=options["full"])
        self.stdout.write(
            f"Published {len(manifest['documents'])} documents to the snapshot directory."
        )

"""`manage.py create_alert_source NAME --kind alertmanager|grafana|generic
[--automation off|component|draft] [--hold-down SECONDS]`: an intake URL for alerts.

Prints exactly two lines, `url: <absolute intake URL with its secret>` and `id: <id>`, so a
script can read them (and, e.g., write the URL into an Alertmanager receiver).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from statuspage.metrics.models import AlertSourceKind, Automation
from statuspage.metrics.services import alert_source_create
from statuspage.services import Actor


class Command(BaseCommand):
    help = "Create an alert source and print its intake URL (it carries the secret)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="e.g. prod-alertmanager")
        parser.add_argument("--kind", required=True, choices=AlertSourceKind.values)
        parser.add_argument(
            "--automation",
            default=Automation.COMPONENT,
            choices=Automation.values,
            help="off: alert staff only; component (default): set the component's status; "
            "draft: also draft an incident",
        )
        parser.add_argument(
            "--hold-down",
            type=int,
            default=None,
            help="Seconds a resolved alert is held before the component is given back "
            f"(default HELIOGRAPH_ALERT_HOLD_DOWN, now {settings.HELIOGRAPH_ALERT_HOLD_DOWN})",
        )

    def handle(
        self, *args, name: str, kind: str, automation: str, hold_down: int | None, **options
    ) -> None:
        try:
            source = alert_source_create(
                name=name,
                kind=kind,
                automation=automation,
                hold_down=hold_down,
                actor=Actor.system("manage.py create_alert_source"),
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"url: {settings.SITE_URL}{source.intake_path}")
        self.stdout.write(f"id: {source.public_id}")

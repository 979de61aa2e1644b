"""`manage.py create_checkin NAME --period SECONDS [--grace SECONDS] [--component ID]
[--component-status STATUS] [--automation off|component|draft]`: a check-in for a job.

Prints exactly two lines, `url: <absolute check-in URL with its secret>` and `id: <id>`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from statuspage.metrics.models import Automation
from statuspage.metrics.services import checkin_create
from statuspage.models import Component, ComponentStatus
from statuspage.services import Actor


class Command(BaseCommand):
    help = "Create a check-in for a scheduled job and print its URL (it carries the secret)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="e.g. nightly-backup")
        parser.add_argument("--period", type=int, required=True, help="Seconds between runs")
        parser.add_argument("--grace", type=int, default=300, help="Seconds a run may be late")
        parser.add_argument("--component", default="", help="Id of the component it drives")
        parser.add_argument(
            "--component-status",
            default=ComponentStatus.DEGRADED_PERFORMANCE,
            choices=ComponentStatus.values,
        )
        parser.add_argument("--automation", default=Automation.COMPONENT, choices=Automation.values)

    def handle(self, *args, **options) -> None:
        component = None
        if options["component"]:
            component = Component.objects.filter(public_id=options["component"]).first()
            if component is None:
                raise CommandError(f"Unknown component: {options['component']}")
        try:
            checkin = checkin_create(
                name=options["name"],
                period=options["period"],
                grace=options["grace"],
                component=component,
                component_status=options["component_status"],
                automation=options["automation"],
                actor=Actor.system("manage.py create_checkin"),
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"url: {settings.SITE_URL}{checkin.intake_path}")
        self.stdout.write(f"id: {checkin.public_id}")

"""`manage.py load_demo`: the demo catalogue, history, June 2026 incident and staff login."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from statuspage.demo.loader import load_demo


class Command(BaseCommand):
    help = (
        "Load demo data: three regions, the services of the June 2026 incident report, 90 days "
        "of status history, that incident with its timeline and postmortem, templates and the "
        "staff superuser 'admin' (with DEBUG=1, or when HELIOGRAPH_ADMIN_PASSWORD is set). "
        "Safe to run again: nothing is created twice."
    )

    def handle(self, *args, **options) -> None:
        class Out:
            def write(inner, message: str) -> None:  # noqa: N805
                self.stdout.write(f"  {message}")

        result = load_demo(out=Out())
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        if result["admin_created"]:
            self.stdout.write(f"Staff login: admin / {result['admin_password']}")
        elif result["admin_exists"]:
            self.stdout.write("Staff login: admin (existing user; password unchanged)")
        else:
            self.stdout.write(
                "No staff login created (DEBUG=0): set HELIOGRAPH_ADMIN_PASSWORD and run "
                "load_demo again, or run manage.py createsuperuser."
            )

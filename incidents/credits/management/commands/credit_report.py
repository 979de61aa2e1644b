"""`manage.py credit_report --incident ID --start … --end … --minimum USD:10.00 --minimum EUR:10.00`.

Finds (or creates) the credit policy with exactly these parameters, runs the report in this
process, prints the totals (warning about paying accounts in a currency without a minimum)
and, with --csv, writes the same CSV as the staff page's export. `--minimum 10.00 --currency
USD` (one currency) still works. `--user` records who computed it: someone else approves it.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.credits import selectors, services
from incidents.credits.importers import parse_time
from incidents.credits.models import cents_to_decimal
from statuspage.services import Actor


class Command(BaseCommand):
    help = "Run a credit report for an incident (creating its credit policy if needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incident", help="Incident public id or pk (omit: no incident)")
        parser.add_argument("--start", required=True, help="Window start, UTC (inclusive)")
        parser.add_argument("--end", required=True, help="Window end, UTC (exclusive)")
        parser.add_argument(
            "--minimum",
            action="append",
            default=[],
            help="CUR:AMOUNT, once per currency (e.g. USD:10.00); or AMOUNT with --currency",
        )
        parser.add_argument("--currency", default="USD", help="Currency of a bare --minimum")
        parser.add_argument(
            "--cap", action="append", default=[], help="CUR:AMOUNT maximum credit per account"
        )
        parser.add_argument("--user", default="", help="Staff user who computes the report")
        parser.add_argument("--regions", default="", help="Comma-separated region slugs")
        parser.add_argument("--invoice-month", default=None, help="YYYY-MM (default: start's)")
        parser.add_argument("--csv", dest="csv_path", default=None, help="Write the CSV here")

    def handle(self, *args: object, **options: object) -> None:
        incident = None
        if options["incident"]:
            incident = selectors.incident_find(options["incident"])
            if incident is None:
                raise CommandError(f"no incident with public id or pk '{options['incident']}'")
        try:
            start = parse_time(options["start"], "--start")
            end = parse_time(options["end"], "--end")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        rules = _rules(options["minimum"], options["cap"], options["currency"])
        actor = Actor.system("manage.py credit_report")
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user named '{options['user']}'")
            actor = Actor.for_user(user)
        regions = [r.strip() for r in options["regions"].split(",") if r.strip()]
        try:
            policy, created = services.credit_policy_find_or_create(
                actor=actor,
                incident=incident,
                window_start=start,
                window_end=end,
                rules=rules,
                regions=regions,
                invoice_month=options["invoice_month"],
            )
            report = services.credit_report_run(policy=policy, actor=actor)
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        out = self.stdout
        out.write(f"{'Created' if created else 'Using'} credit policy #{policy.pk}: {policy.name}")
        out.write(
            f"Report #{report.pk}: {report.status}, window {start.isoformat()} – "
            f"{end.isoformat()}, invoice month {report.invoice_month}"
        )
        if report.status != "done":
            raise CommandError(f"report failed: {report.error}")
        totals = list(report.totals.all())
        if not totals:
            out.write("No account credited (no eligible account).")
        for total in totals:
            out.write(
                f"{total.currency}: {total.accounts} accounts credited, total credit "
                f"{total.credit:.2f}, spend in window {total.spend:.2f}, "
                f"{total.minimum_count} got the minimum, {total.cap_count} capped"
                + (
                    f", add-on refunds {cents_to_decimal(total.addon_refund_cents):.2f}"
                    if total.addon_refund_cents
                    else ""
                )
            )
            if total.minimum_missing:
                flagged = report.lines.filter(currency=total.currency).count()
                out.write(
                    f"WARNING: {flagged} paying account(s) billed in {total.currency} have no "
                    f"minimum in this policy (credited their spend only; flagged in the report). "
                    f"Add --minimum {total.currency}:AMOUNT to give them one."
                )
        if report.previous_id:
            out.write(
                f"Against report #{report.previous_id}: {report.added_count} added, "
                f"{report.removed_count} removed, {report.changed_count} changed"
            )
        out.write(f"Concurrency add-ons bought in the window: {report.addons.count()}")
        if options["csv_path"]:
            with open(options["csv_path"], "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                for row in selectors.report_csv_rows(report):
                    writer.writerow(row)
            out.write(f"CSV: {options['csv_path']} ({report.lines_count} lines)")


def _amount(text: str, what: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CommandError(f"{what} '{text}' is not a decimal amount, e.g. 10.00") from None


def _rules(
    minimums: list[str], caps: list[str], default_currency: str
) -> list[services.CurrencyRule]:
    """`--minimum USD:10.00 --cap USD:500` (or a bare amount for --currency) as rules."""
    found: dict[str, list] = {}
    for option, values, index in (("--minimum", minimums, 0), ("--cap", caps, 1)):
        for value in values:
            currency, sep, amount = value.rpartition(":")
            currency = (currency if sep else default_currency).strip().upper()
            rule = found.setdefault(currency, [Decimal("0"), None])
            rule[index] = _amount(amount.strip(), option)
    if not found:
        found[default_currency.strip().upper()] = [Decimal("0"), None]
    return [services.CurrencyRule(c, minimum, cap) for c, (minimum, cap) in found.items()]

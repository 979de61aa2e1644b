"""`heliograph`: the status page from a terminal, built on the SDK.

    heliograph incident declare "Runs not starting in us-east-1" \\
        --component run-execution@us-east-1=major_outage --message "Investigating"

Settings: --url/--token/--page-id, else HELIOGRAPH_URL/HELIOGRAPH_TOKEN/HELIOGRAPH_PAGE_ID,
else the config file (--config, HELIOGRAPH_CONFIG, or ~/.config/heliograph/config.toml with
`url = "…"`, `token = "…"`, `page_id = "…"`).

Exit codes (for scripts): 0 done; 1 the API refused or failed (any other error); 2 usage
(bad arguments, no URL); 3 authentication or permission (401, 403); 4 not found (404, or a
service/region/component that does not exist); 5 validation (422: nothing was written);
6 the server could not be reached.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from click.shell_completion import get_completion_class

from heliograph_client._core import RetryPolicy, __version__
from heliograph_client._operations import ComponentsResource, IncidentsResource
from heliograph_client.client import Client
from heliograph_client.errors import (
    AuthenticationError,
    DryRun,
    HeliographError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_VALIDATION = 5
EXIT_NETWORK = 6


def literal_values(function: Callable[..., Any], parameter: str) -> list[str]:
    """The values a generated method accepts for a parameter (its Literal type), so the
    command's choices follow the API when the SDK is regenerated."""
    hints = typing.get_type_hints(function)

    def walk(annotation: Any) -> list[str]:
        if typing.get_origin(annotation) is typing.Literal:
            return [str(v) for v in typing.get_args(annotation)]
        return [v for arg in typing.get_args(annotation) for v in walk(arg)]

    return list(dict.fromkeys(walk(hints[parameter])))


COMPONENT_STATUSES = literal_values(ComponentsResource.bulk_status, "status")
INCIDENT_STATUSES = literal_values(IncidentsResource.create, "status")
IMPACTS = literal_values(IncidentsResource.create, "impact_override")


# --- Settings and output ------------------------------------------------------------------


def config_path(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("HELIOGRAPH_CONFIG"):
        return Path(os.environ["HELIOGRAPH_CONFIG"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "heliograph" / "config.toml"


def read_config(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise click.UsageError(f"No config file at {path}.")
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.UsageError(f"Cannot read {path}: {exc}") from None


@dataclass
class State:
    """What the options of `heliograph` itself settled, for the subcommands."""

    url: str | None = None
    token: str | None = None
    page_id: str | None = None
    retries: int = 3
    json: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    _client: Client | None = None

    def client(self, *, dry_run: bool = False) -> Client:
        def pick(option: str | None, env: str, key: str) -> str | None:
            return option or os.environ.get(env) or self.config.get(key) or None

        try:
            client = Client(
                pick(self.url, "HELIOGRAPH_URL", "url"),
                pick(self.token, "HELIOGRAPH_TOKEN", "token"),
                page_id=pick(self.page_id, "HELIOGRAPH_PAGE_ID", "page_id"),
                dry_run=dry_run,
                retry=RetryPolicy(max_retries=self.retries),
            )
        except ValueError as exc:
            raise click.UsageError(
                f"{exc} (or --url, or `url` in {config_path(None)})"
                if "URL" in str(exc)
                else str(exc)
            ) from None
        click.get_current_context().call_on_close(client.close)
        return client


def output_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    rows = [["" if cell is None else str(cell) for cell in row] for row in rows]
    if not rows:
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in [list(headers), *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def json_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """`--json` on a command (as well as on `heliograph` itself)."""

    def set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(State).json = True

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=set_json,
        help="Print the API's JSON instead of a table.",
    )(function)


def dry_run_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--dry-run",
        is_flag=True,
        help="Print the request that would be sent, and send nothing (lookups are still made).",
    )(function)


def show_dry_run(request: DryRun, as_json: bool) -> None:
    shown = {"authorization": "Authorization", "content-type": "Content-Type"}
    shown["idempotency-key"] = "Idempotency-Key"
    headers = {
        shown[k.lower()]: ("OAuth hg_…" if k.lower() == "authorization" else v)
        for k, v in request.headers.items()
        if k.lower() in shown
    }
    if as_json:
        output_json(
            {
                "dry_run": True,
                "method": request.method,
                "url": request.url,
                "headers": headers,
                "body": request.body,
            }
        )
        return
    click.echo(f"{request.method} {request.url}")
    for name, value in headers.items():
        click.echo(f"{name}: {value}")
    if request.body is not None:
        click.echo("")
        click.echo(json.dumps(request.body, indent=2, ensure_ascii=False))
    click.echo("(dry run: nothing was sent)", err=True)


def exit_code(exc: HeliographError) -> int:
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return EXIT_AUTH
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, ValidationError):
        return EXIT_VALIDATION
    if isinstance(exc, NetworkError):
        return EXIT_NETWORK
    return EXIT_ERROR


class Group(click.Group):
    """Turns the SDK's exceptions into a message on stderr and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DryRun as request:
            show_dry_run(request, ctx.ensure_object(State).json)
            ctx.exit(EXIT_OK)
        except HeliographError as exc:
            prefix = f"error ({exc.status})" if exc.status else "error"
            click.echo(f"{prefix}: {exc.message}", err=True)
            for name, message in exc.errors.items():
                if not exc.message.startswith(f"{name}: {message}"):
                    click.echo(f"  {name}: {message}", err=True)
            ctx.exit(exit_code(exc))


# --- Components by name -------------------------------------------------------------------


class Catalogue:
    """Services and their regional components, to name components as `SERVICE@REGION`
    (service slug, region slug) or `SERVICE` for a global service; a component id works too."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._services: list[dict[str, Any]] | None = None

    @property
    def services(self) -> list[dict[str, Any]]:
        if self._services is None:
            self._services = [dict(s) for s in self.client.services.list()]
        return self._services

    def rows(self) -> list[dict[str, Any]]:
        """Every component with its service slug and region slug (None: global)."""
        rows = []
        for service in self.services:
            regional = [c for c in service.get("components", []) if c.get("group_id")]
            regions = dict(
                zip((c["id"] for c in regional), service.get("regions", []), strict=False)
            )
            for component in service.get("components", []):
                region = regions.get(component["id"])
                rows.append(
                    {
                        "spec": f"{service['slug']}@{region}" if region else service["slug"],
                        "service": service["slug"],
                        "region": region,
                        "id": component["id"],
                        "name": component["name"],
                        "status": component["status"],
                    }
                )
        return rows

    def find(self, target: str) -> dict[str, Any]:
        service_name, _, region = target.partition("@")
        rows = self.rows()
        matches = [r for r in rows if r["service"] == service_name or r["id"] == service_name]
        if not matches:
            service = next((s for s in self.services if s["id"] == service_name), None)
            if service is None:
                raise NotFoundError(
                    f"No service or component '{service_name}'. Known services: "
                    + ", ".join(s["slug"] for s in self.services)
                )
            matches = [r for r in rows if r["service"] == service["slug"]]
        if region:
            found = [r for r in matches if r["region"] == region]
            if not found:
                offered = ", ".join(r["region"] or "(global)" for r in matches)
                raise NotFoundError(
                    f"{service_name} is not offered in {region}; it is in: {offered}"
                )
            return found[0]
        if len(matches) == 1:
            return matches[0]
        raise click.UsageError(
            f"{service_name} runs in several regions; name one: "
            + ", ".join(r["spec"] for r in matches)
        )


def parse_specs(
    specs: Sequence[str], catalogue: Catalogue, *, statuses: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """`SERVICE@REGION=STATUS` → ({component id: status}, [ids given without a status])."""
    with_status: dict[str, Any] = {}  # values checked against COMPONENT_STATUSES
    affected: list[str] = []
    for spec in specs:
        target, equals, status = spec.partition("=")
        if equals and not statuses:
            raise click.BadParameter(f"{spec}: give components without =STATUS here.")
        if equals and status not in COMPONENT_STATUSES:
            raise click.BadParameter(
                f"{spec}: '{status}' is not one of {', '.join(COMPONENT_STATUSES)}.",
                param_hint="--component",
            )
        component = catalogue.find(target.strip())
        if equals:
            with_status[component["id"]] = status
        else:
            affected.append(component["id"])
    return with_status, affected


def parse_time(value: str) -> str:
    """ISO 8601 or unix seconds → ISO 8601 (UTC when no offset is given)."""
    try:
        return datetime.fromtimestamp(float(value), tz=UTC).isoformat()
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"'{value}' is neither ISO 8601 (2026-06-22T20:00:00Z) nor unix seconds."
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()


COMPONENT_HELP = (
    "SERVICE@REGION=STATUS (service and region slugs; SERVICE alone for a global service); "
    "without =STATUS the component is only marked affected. Repeatable."
)


# --- Commands -----------------------------------------------------------------------------


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", help="The status site, e.g. https://status.example.com [HELIOGRAPH_URL]")
@click.option("--token", help="An API token, hg_… [HELIOGRAPH_TOKEN]")
@click.option("--page-id", help="The page id (default heliograph) [HELIOGRAPH_PAGE_ID]")
@click.option(
    "--config",
    "config_file",
    help="A TOML file with url, token, page_id [HELIOGRAPH_CONFIG, ~/.config/heliograph/config.toml]",
)
@click.option(
    "--retries",
    default=3,
    show_default=True,
    type=click.IntRange(0, 10),
    help="Tries after a 429, 5xx or broken connection (waiting as the server asks).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.version_option(__version__, prog_name="heliograph")
@click.pass_context
def cli(
    ctx: click.Context,
    url: str | None,
    token: str | None,
    page_id: str | None,
    config_file: str | None,
    retries: int,
    as_json: bool,
) -> None:
    """Heliograph from the terminal: status, incidents, maintenance, metrics, credits.

    Exit codes: 0 ok, 1 API error, 2 usage, 3 auth (401/403), 4 not found, 5 validation
    (422, nothing written), 6 server unreachable.
    """
    state = ctx.ensure_object(State)
    state.url, state.token, state.page_id = url, token, page_id
    state.retries = retries
    state.json = state.json or as_json
    state.config = read_config(config_path(config_file), required=bool(config_file))


pass_state = click.make_pass_decorator(State, ensure=True)


@cli.command()
@json_option
@pass_state
def status(state: State) -> None:
    """The page's overall status, open incidents, maintenance and components not operational."""
    client = state.client()
    page = client.page.get()
    incidents = list(client.incidents.list_unresolved())
    maintenances = list(client.incidents.list_active_maintenance())
    components = [
        c for c in client.components.list() if not c.get("group") and c["status"] != "operational"
    ]
    if state.json:
        output_json(
            {
                "page": page,
                "incidents": incidents,
                "maintenances": maintenances,
                "components": components,
            }
        )
        return
    click.echo(f"{page.get('name', 'Status')}: {page.get('status_description', '?')}")
    for title, rows in (("Open incidents", incidents), ("Maintenance in progress", maintenances)):
        if rows:
            click.echo(f"\n{title}:")
            table(
                ["ID", "STATUS", "IMPACT", "NAME"],
                [[i["id"], i["status"], i.get("impact"), i["name"]] for i in rows],
            )
    if components:
        click.echo("\nComponents not operational:")
        table(["ID", "STATUS", "NAME"], [[c["id"], c["status"], c["name"]] for c in components])
    if not (incidents or maintenances or components):
        click.echo("No open incidents; every component is operational.")


@cli.command()
@click.option("--region", help="Only this region (slug).")
@click.option("--service", help="Only this service (slug).")
@click.option(
    "--status", "status_", type=click.Choice(COMPONENT_STATUSES), help="Only this status."
)
@json_option
@pass_state
def components(state: State, region: str | None, service: str | None, status_: str | None) -> None:
    """Components as SERVICE@REGION (the names the other commands take), with their status."""
    rows = Catalogue(state.client()).rows()
    rows = [
        r
        for r in rows
        if (region is None or r["region"] == region)
        and (service is None or r["service"] == service)
        and (status_ is None or r["status"] == status_)
    ]
    if state.json:
        output_json(rows)
        return
    table(
        ["COMPONENT", "STATUS", "ID", "NAME"],
        [[r["spec"], r["status"], r["id"], r["name"]] for r in rows],
    )


@cli.group()
def incident() -> None:
    """Declare, update, resolve and list incidents."""


def show_incident(state: State, data: dict[str, Any], verb: str) -> None:
    if state.json:
        output_json(data)
        return
    click.echo(f"{verb} {data['id']}: {data['name']} ({data['status']}, {data.get('impact')})")
    if data.get("shortlink"):
        click.echo(data["shortlink"])


def notify_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--notify/--no-notify",
        default=True,
        show_default=True,
        help="Send this update to subscribers and channels.",
    )(function)


@incident.command("declare")
@click.argument("name")
@click.option(
    "--status",
    "status_",
    type=click.Choice(INCIDENT_STATUSES),
    default="investigating",
    show_default=True,
)
@click.option(
    "--component",
    "-c",
    "specs",
    multiple=True,
    metavar="SERVICE@REGION=STATUS",
    help=COMPONENT_HELP,
)
@click.option("--message", "-m", help="The first update's text.")
@click.option(
    "--impact", type=click.Choice(IMPACTS), help="Default: from the worst component status."
)
@notify_option
@dry_run_option
@json_option
@pass_state
def incident_declare(
    state: State,
    name: str,
    status_: str,
    specs: tuple[str, ...],
    message: str | None,
    impact: str | None,
    notify: bool,
    dry_run: bool,
) -> None:
    """Declare an incident NAME."""
    client = state.client(dry_run=dry_run)
    statuses, affected = parse_specs(specs, Catalogue(client))
    created = client.incidents.create(
        name=name,
        status=status_,  # type: ignore[arg-type]  # checked by click.Choice
        body=message,
        components=statuses or None,
        component_ids=affected or None,
        impact_override=impact,  # type: ignore[arg-type]
        deliver_notifications=notify,
    )
    show_incident(state, dict(created), "Declared")


@incident.command("update")
@click.argument("incident_id", metavar="ID")
@click.option("--status", "status_", type=click.Choice(INCIDENT_STATUSES))
@click.option(
    "--component",
    "-c",
    "specs",
    multiple=True,
    metavar="SERVICE@REGION=STATUS",
    help=COMPONENT_HELP,
)
@click.option("--message", "-m", help="The update's text.")
@click.option("--impact", type=click.Choice(IMPACTS))
@click.option("--name", help="Rename the incident.")
@notify_option
@dry_run_option
@json_option
@pass_state
def incident_update(
    state: State,
    incident_id: str,
    status_: str | None,
    specs: tuple[str, ...],
    message: str | None,
    impact: str | None,
    name: str | None,
    notify: bool,
    dry_run: bool,
) -> None:
    """Post an update to incident ID (a new status, text or component statuses)."""
    client = state.client(dry_run=dry_run)
    statuses, affected = parse_specs(specs, Catalogue(client))
    if affected:
        current = client.incidents.get(incident_id)
        affected = list(
            dict.fromkeys([*(c["id"] for c in current.get("components", [])), *affected])
        )
    updated = client.incidents.update(
        incident_id,
        status=status_,  # type: ignore[arg-type]
        body=message,
        components=statuses or None,
        component_ids=affected or None,
        impact_override=impact,  # type: ignore[arg-type]
        name=name,
        deliver_notifications=notify,
    )
    show_incident(state, dict(updated), "Updated")


@incident.command("resolve")
@click.argument("incident_id", metavar="ID")
@click.option("--message", "-m", default="This incident has been resolved.", show_default=True)
@click.option(
    "--component",
    "-c",
    "specs",
    multiple=True,
    metavar="SERVICE@REGION=STATUS",
    help="A status other than operational for a component (affected ones go back to operational).",
)
@notify_option
@dry_run_option
@json_option
@pass_state
def incident_resolve(
    state: State,
    incident_id: str,
    message: str,
    specs: tuple[str, ...],
    notify: bool,
    dry_run: bool,
) -> None:
    """Resolve incident ID: its components go back to operational unless --component says."""
    client = state.client(dry_run=dry_run)
    statuses, _ = parse_specs(specs, Catalogue(client))
    resolved = client.incidents.update(
        incident_id,
        status="resolved",
        body=message,
        components=statuses or None,
        deliver_notifications=notify,
    )
    show_incident(state, dict(resolved), "Resolved")


@incident.command("list")
@click.option("--all", "all_", is_flag=True, help="Recent incidents, resolved ones too.")
@click.option("--search", "-q", help="Only those whose name or updates contain this.")
@json_option
@pass_state
def incident_list(state: State, all_: bool, search: str | None) -> None:
    """Open incidents (--all: recent ones too)."""
    client = state.client()
    if all_ or search:
        items = list(client.incidents.list(q=search))
    else:
        items = list(client.incidents.list_unresolved())
    if state.json:
        output_json(items)
        return
    table(
        ["ID", "STATUS", "IMPACT", "STARTED", "NAME"],
        [[i["id"], i["status"], i.get("impact"), i.get("started_at"), i["name"]] for i in items],
    )


@incident.command("show")
@click.argument("incident_id", metavar="ID")
@json_option
@pass_state
def incident_show(state: State, incident_id: str) -> None:
    """An incident with its timeline."""
    data = state.client().incidents.get(incident_id)
    if state.json:
        output_json(data)
        return
    click.echo(f"{data['id']}: {data['name']} ({data['status']}, {data.get('impact')})")
    for component in data.get("components", []):
        click.echo(f"  affects {component['name']} ({component['status']})")
    for update in data.get("incident_updates", []):
        click.echo(f"\n{update.get('display_at') or update.get('created_at')}  {update['status']}")
        if update.get("body"):
            click.echo(f"  {update['body']}")


@cli.command("bulk-status")
@click.argument("status_", metavar="STATUS", type=click.Choice(COMPONENT_STATUSES))
@click.option("--region", help="Every component in this region (slug).")
@click.option("--service", help="Every component of this service (slug or id).")
@click.option(
    "--component",
    "-c",
    "specs",
    multiple=True,
    metavar="SERVICE@REGION",
    help="These components too. Repeatable.",
)
@click.option("--reason", help="Kept in each component's status history.")
@dry_run_option
@json_option
@pass_state
def bulk_status(
    state: State,
    status_: str,
    region: str | None,
    service: str | None,
    specs: tuple[str, ...],
    reason: str | None,
    dry_run: bool,
) -> None:
    """Set STATUS on many components at once (all or nothing): by region, service and/or name."""
    if not (region or service or specs):
        raise click.UsageError("Say which components: --region, --service and/or --component.")
    client = state.client(dry_run=dry_run)
    _, ids = parse_specs(specs, Catalogue(client), statuses=False)
    result = client.components.bulk_status(
        status=status_,  # type: ignore[arg-type]
        region=region,
        service=service,
        component_ids=ids or None,
        reason=reason,
    )
    if state.json:
        output_json(result)
        return
    click.echo(
        f"{result.get('changed')} of {result.get('matched')} components set to {result.get('status')}."
    )
    table(
        ["ID", "STATUS", "NAME"],
        [[c["id"], c["status"], c["name"]] for c in result.get("components", [])],
    )


@cli.group()
def maintenance() -> None:
    """Scheduled maintenance."""


@maintenance.command("schedule")
@click.argument("name")
@click.option("--start", required=True, help="ISO 8601 (2026-06-22T20:00:00Z) or unix seconds.")
@click.option("--end", required=True, help="ISO 8601 or unix seconds.")
@click.option(
    "--component",
    "-c",
    "specs",
    multiple=True,
    metavar="SERVICE@REGION[=STATUS]",
    help=COMPONENT_HELP,
)
@click.option("--message", "-m", help="What will happen.")
@notify_option
@dry_run_option
@json_option
@pass_state
def maintenance_schedule(
    state: State,
    name: str,
    start: str,
    end: str,
    specs: tuple[str, ...],
    message: str | None,
    notify: bool,
    dry_run: bool,
) -> None:
    """Schedule a maintenance NAME from --start to --end."""
    client = state.client(dry_run=dry_run)
    statuses, affected = parse_specs(specs, Catalogue(client))
    created = client.scheduled_maintenances.create(
        name=name,
        scheduled_for=parse_time(start),
        scheduled_until=parse_time(end),
        body=message,
        components=statuses or None,
        component_ids=affected or None,
        deliver_notifications=notify,
    )
    if state.json:
        output_json(created)
        return
    click.echo(
        f"Scheduled {created['id']}: {created['name']} "
        f"({created.get('scheduled_for')} → {created.get('scheduled_until')})"
    )


@cli.group()
def metric() -> None:
    """Metrics."""


@metric.command("push")
@click.argument("slug")
@click.argument("value", type=float)
@click.option("--at", help="When (ISO 8601 or unix seconds); default now.")
@dry_run_option
@json_option
@pass_state
def metric_push(state: State, slug: str, value: float, at: str | None, dry_run: bool) -> None:
    """Record VALUE for the metric SLUG (or id)."""
    client = state.client(dry_run=dry_run)
    when = parse_time(at) if at else datetime.now(UTC).isoformat()
    result = client.metrics.push(slug, timestamp=when, value=value)
    if state.json:
        output_json(result)
        return
    level = result.get("level") or "normal"
    click.echo(f"Recorded {result.get('recorded')} point(s) for {slug}; level: {level}.")


@metric.command("list")
@json_option
@pass_state
def metric_list(state: State) -> None:
    """Metrics with their last value and open alert."""
    items = list(state.client().metrics.list())
    if state.json:
        output_json(items)
        return
    table(
        ["SLUG", "LAST VALUE", "AT", "ALERT", "NAME"],
        [
            [
                m.get("slug"),
                m.get("last_value"),
                m.get("last_value_at"),
                (m.get("alert") or {}).get("level"),
                m.get("name"),
            ]
            for m in items
        ],
    )


@cli.group()
def credits() -> None:
    """SLA credit policies and reports."""


def show_report(state: State, report: dict[str, Any]) -> None:
    if state.json:
        output_json(report)
        return
    click.echo(
        f"Report {report['id']} of policy {report.get('policy_id')}: {report['status']}, "
        f"{report.get('lines', 0)} credited account(s)"
    )
    table(
        ["CURRENCY", "ACCOUNTS", "SPEND", "CREDIT"],
        [[t["currency"], t["accounts"], t["spend"], t["credit"]] for t in report.get("totals", [])],
    )


@credits.command("policies")
@json_option
@pass_state
def credits_policies(state: State) -> None:
    """Credit policies."""
    policies = list(state.client().credit_policies.list())
    if state.json:
        output_json(policies)
        return
    table(
        ["ID", "NAME", "INCIDENT", "WINDOW", "REGIONS", "MONTH"],
        [
            [
                p["id"],
                p.get("name"),
                p.get("incident_id"),
                f"{p.get('window_start')} → {p.get('window_end')}",
                ",".join(p.get("regions") or []) or "all",
                p.get("invoice_month"),
            ]
            for p in policies
        ],
    )


def write_csv(client: Client, report_id: str, target: str) -> None:
    text = client.credit_reports.get_csv(report_id)
    if target == "-":
        click.echo(text, nl=False)
    else:
        Path(target).write_text(str(text))
        click.echo(f"CSV written to {target}", err=True)


@credits.command("report")
@click.argument("policy_id")
@click.option(
    "--queue", is_flag=True, help="Run it on a worker and wait for it (default: in the request)."
)
@click.option(
    "--timeout", default=600, show_default=True, help="Seconds to wait for a queued report."
)
@click.option(
    "--csv", "csv_target", metavar="FILE", help="Write the report's CSV to FILE ('-': stdout)."
)
@dry_run_option
@json_option
@pass_state
def credits_report(
    state: State,
    policy_id: str,
    queue: bool,
    timeout: int,
    csv_target: str | None,
    dry_run: bool,
) -> None:
    """Run a credit report of POLICY_ID and show its totals per currency."""
    client = state.client(dry_run=dry_run)
    report = client.credit_policies.run_report(policy_id, wait=not queue)
    deadline = time.monotonic() + timeout
    while report["status"] == "running":
        if time.monotonic() > deadline:
            raise HeliographError(f"Report {report['id']} still running after {timeout} s.")
        time.sleep(2)
        report = client.credit_reports.get(report["id"])
    show_report(state, dict(report))
    if report["status"] != "done":
        click.get_current_context().exit(EXIT_ERROR)
    if csv_target:
        write_csv(client, report["id"], csv_target)


@credits.command("show")
@click.argument("report_id")
@click.option(
    "--csv", "csv_target", metavar="FILE", help="Write the report's CSV to FILE ('-': stdout)."
)
@json_option
@pass_state
def credits_show(state: State, report_id: str, csv_target: str | None) -> None:
    """A credit report: status, progress and totals."""
    client = state.client()
    report = client.credit_reports.get(report_id)
    show_report(state, dict(report))
    if csv_target:
        write_csv(client, report_id, csv_target)


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script: eval "$(heliograph completion bash)"."""
    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "heliograph", "_HELIOGRAPH_COMPLETE").source())


def main() -> None:
    cli(prog_name="heliograph")


if __name__ == "__main__":
    main()

"""Reads of the catalogue: components and regions in page order, the services × regions
matrix that the public page and the console both draw, and a component's last change."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import QuerySet

from statuspage.models import Component, ComponentStatusChange, Region, Service, ServiceGroup


def components_for_page() -> QuerySet[Component]:
    """Every component with its service (and group) and region, in page order."""
    return Component.objects.select_related("service", "service__group", "region")


def component_last_change(component: Component) -> ComponentStatusChange | None:
    """The component's latest status change (its history's newest row), or None if it never
    changed. Automation compares it with the change it made to know whether a human changed
    the component since."""
    return (
        ComponentStatusChange.objects.filter(component=component)
        .order_by("-created_at", "-id")
        .first()
    )


def regions_for_page() -> QuerySet[Region]:
    """Every region in page order."""
    return Region.objects.all()


@dataclass
class MatrixRow:
    """One service of the matrix: its component per region column (None where it is not
    offered), and its global component (None for a regional service)."""

    service: Service
    cells: list[Component | None] = field(default_factory=list)
    global_component: Component | None = None

    @property
    def group(self) -> ServiceGroup | None:
        return self.service.group


@dataclass
class Matrix:
    regions: list[Region]
    rows: list[MatrixRow]
    has_global: bool

    @property
    def components(self) -> list[Component]:
        found: list[Component] = []
        for row in self.rows:
            found.extend(c for c in row.cells if c is not None)
            if row.global_component is not None:
                found.append(row.global_component)
        return found


def _row_order(row: MatrixRow) -> tuple:
    group = row.service.group
    return (
        (group.position, group.name) if group is not None else (-1, ""),
        row.service.position,
        row.service.name,
    )


def component_matrix(
    *, components: Iterable[Component] | None = None, regions: Iterable[Region] | None = None
) -> Matrix:
    """Services × regions, in page order: ungrouped services first, then by group, each by
    position and name. Columns are the regions that have at least one of the components,
    plus "Global" (`has_global`) when some service is global.

    `components` (with service, group and region selected) and `regions` default to all of
    them; the public page passes the components it shows."""
    if components is None:
        components = components_for_page()
    if regions is None:
        regions = regions_for_page()
    components = list(components)
    used = {c.region_id for c in components if c.region_id is not None}
    columns = [r for r in regions if r.pk in used]
    index = {region.pk: i for i, region in enumerate(columns)}
    rows: dict[int, MatrixRow] = {}
    for component in components:
        row = rows.get(component.service_id)
        if row is None:
            row = rows[component.service_id] = MatrixRow(
                service=component.service, cells=[None] * len(columns)
            )
        if component.region_id is None:
            row.global_component = component
        else:
            row.cells[index[component.region_id]] = component
    ordered = sorted(rows.values(), key=_row_order)
    return Matrix(
        regions=columns,
        rows=ordered,
        has_global=any(row.global_component is not None for row in ordered),
    )

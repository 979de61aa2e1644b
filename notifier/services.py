"""The notifier's write path: outbox rows written inside the caller's transaction.

`incidents.services` and `statuspage.services` call these from inside their transaction;
the rows are delivered by Celery tasks after commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from incidents.models import IncidentUpdate
    from statuspage.models import ComponentStatusChange


def deliveries_create_for_update(*, update: IncidentUpdate) -> int:
    """Write one delivery per recipient that must hear of this update. Returns the count."""
    return 0


def deliveries_create_for_component_change(*, change: ComponentStatusChange) -> int:
    """Write deliveries for a component status change made outside an incident update."""
    return 0

"""The OpenAPI schema pieces of the v1 API, declared once: resource modules describe their body
fields with them and docs.py its response shapes.

Short names on purpose: a route declaration reads `fields={"name": S, "notify": B}`.
"""

from __future__ import annotations

from collections.abc import Iterable

from incidents.models import Impact, IncidentStatus
from notifier.models import ChannelKind, Scope
from statuspage import languages
from statuspage.models import ComponentStatus

S = {"type": "string"}
B = {"type": "boolean"}
I = {"type": "integer"}  # noqa: E741 - reads as "integer" beside S and B
NUMBER = {"type": "number"}
T = {"type": "string", "format": "date-time"}
DATE = {"type": "string", "format": "date"}
IDS = {"type": "array", "items": S}
OBJECT = {"type": "object"}

# The query of every paginated list (query parameter: description).
PAGED = {"page": "Page number, from 1", "per_page": "Items per page, at most 100"}


def enum(values: Iterable[str]) -> dict:
    return {"type": "string", "enum": list(values)}


def nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


def ref(name: str) -> dict:
    """A reference to a response schema of docs.SCHEMAS."""
    return {"$ref": f"#/components/schemas/{name}"}


COMPONENT_STATUS = enum(ComponentStatus.values)
INCIDENT_STATUS = enum(IncidentStatus.values)
IMPACT = enum(Impact.values)
RECIPIENT_SCOPE = enum(Scope.values)
CHANNEL_KIND = enum(ChannelKind.values)
# A recipient's language: one of the codes (answers say the code); a request may also write
# a tag that reads as one (`pt-BR`, `de-AT`).
LANGUAGE_CODE = enum(languages.CODES)
LANGUAGE = {
    **S,
    "description": "the language of the messages: "
    + ", ".join(languages.CODES)
    + " (default en; tags such as pt-BR or de-AT are read as the closest of them)",
}
STATUS_MAP = {
    "type": "object",
    "additionalProperties": COMPONENT_STATUS,
    "description": "component id → component status",
}

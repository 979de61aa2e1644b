"""The OpenAPI 3 document of the API, generated from the route table, and the browsable docs
page that renders it. Generating both from the table keeps them true to what is served."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from notifier.models import SubscriberKind
from statuspage.api.framework import MAX_PER_PAGE, Operation, rate_limit, rate_window
from statuspage.api.models import ApiScope
from statuspage.api.routes import ROUTES
from statuspage.api.schema import (
    CHANNEL_KIND,
    COMPONENT_STATUS,
    DATE,
    IDS,
    LANGUAGE_CODE,
    B,
    I,
    S,
    T,
    enum,
    nullable,
    ref,
)
from statuspage.markdown import render_markdown

# The response shapes (request bodies are described by each operation's `fields`).
_NS = nullable(S)
_T = nullable(T)

SCHEMAS: dict[str, dict] = {
    "Error": {
        "type": "object",
        "properties": {
            "message": S,
            "errors": {"type": "object", "additionalProperties": S},
        },
        "required": ["message"],
    },
    "component": {
        "type": "object",
        "properties": {
            "id": S,
            "name": S,
            "status": COMPONENT_STATUS,
            "created_at": _T,
            "updated_at": _T,
            "position": I,
            "description": _NS,
            "showcase": B,
            "start_date": nullable(DATE),
            "group_id": _NS,
            "page_id": S,
            "group": B,
            "only_show_if_degraded": B,
            "components": {"type": "array", "items": S, "description": "group only"},
        },
    },
    "incident_update": {
        "type": "object",
        "properties": {
            "id": S,
            "status": S,
            "body": S,
            "incident_id": S,
            "created_at": _T,
            "updated_at": _T,
            "display_at": _T,
            "affected_components": {
                "type": "array",
                "nullable": True,
                "items": {
                    "type": "object",
                    "properties": {"code": S, "name": S, "old_status": S, "new_status": S},
                },
            },
            "deliver_notifications": B,
            "custom_tweet": _NS,
            "tweet_id": _NS,
            "translations": {"type": "object", "additionalProperties": S},
        },
    },
    "incident": {
        "type": "object",
        "properties": {
            "id": S,
            "name": S,
            "status": S,
            "impact": S,
            "shortlink": S,
            "created_at": _T,
            "updated_at": _T,
            "monitoring_at": _T,
            "resolved_at": _T,
            "started_at": _T,
            "page_id": S,
            "incident_updates": {
                "type": "array",
                "items": ref("incident_update"),
            },
            "components": {"type": "array", "items": ref("component")},
            "scheduled_for": _T,
            "scheduled_until": _T,
        },
    },
    "postmortem": {
        "type": "object",
        "properties": {
            "incident_id": S,
            "body": S,
            "body_html": S,
            "published_at": _T,
            "updated_at": _T,
        },
    },
    "status_change": {
        "type": "object",
        "properties": {
            "component_id": S,
            "old_status": S,
            "new_status": S,
            "created_at": _T,
            "actor": S,
            "reason": S,
            "incident_id": _NS,
            "incident_update_id": _NS,
        },
    },
    "region": {
        "type": "object",
        "properties": {
            "id": S,
            "slug": S,
            "name": S,
            "position": I,
            "created_at": _T,
        },
    },
    "service": {
        "type": "object",
        "properties": {
            "id": S,
            "name": S,
            "slug": S,
            "description": S,
            "position": I,
            "created_at": _T,
            "updated_at": _T,
            "regions": IDS,
            "components": {"type": "array", "items": ref("component")},
        },
    },
    "bulk_status": {
        "type": "object",
        "properties": {
            "status": S,
            "matched": I,
            "changed": I,
            "components": {"type": "array", "items": ref("component")},
        },
    },
    "subscriber": {
        "type": "object",
        "properties": {
            "id": S,
            "mode": enum(SubscriberKind.values),
            "email": _NS,
            "endpoint": {**_NS, "description": "for slack, discord and teams: the host only"},
            "phone_number": _NS,
            "phone_country": _NS,
            "components": IDS,
            "scope": S,
            "regions": IDS,
            "services": IDS,
            "component_changes": B,
            "language": LANGUAGE_CODE,
            "state": {
                "type": "string",
                "enum": ["active", "unconfirmed", "unsubscribed", "quarantined"],
            },
            "created_at": _T,
            "confirmed_at": _T,
            "unsubscribed_at": _T,
            "quarantined_at": _T,
        },
    },
    "channel": {
        "type": "object",
        "properties": {
            "id": S,
            "kind": CHANNEL_KIND,
            "name": S,
            "url": {**_NS, "description": "host only: the path carries the webhook's secret"},
            "target": _NS,
            "uses_bot_token": B,
            "enabled": B,
            "scope": S,
            "staff_alerts": B,
            "language": LANGUAGE_CODE,
            "healthy": B,
            "last_success_at": _T,
            "last_error": _NS,
            "last_error_at": _T,
            "broken_at": _T,
        },
    },
    "credit_policy": {
        "type": "object",
        "properties": {
            "id": S,
            "name": S,
            "incident_id": _NS,
            "window_start": _T,
            "window_end": _T,
            "regions": IDS,
            "invoice_month": S,
            "rules": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "currency": S,
                        "minimum_cents": I,
                        "minimum": S,
                        "cap_cents": nullable(I),
                        "cap": _NS,
                    },
                },
            },
        },
    },
    "credit_report": {
        "type": "object",
        "properties": {
            "id": S,
            "policy_id": S,
            "status": {"type": "string", "enum": ["running", "done", "failed"]},
            "progress": I,
            "lines": I,
            "totals": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "currency": S,
                        "accounts": I,
                        "spend_cents": I,
                        "spend": S,
                        "credit_cents": I,
                        "credit": S,
                    },
                },
            },
        },
    },
    "object": {"type": "object"},
}

ERRORS = {
    "400": "Malformed JSON",
    "401": "Missing, unknown or revoked token",
    "403": "The token lacks the scope",
    "404": "Unknown page or id",
    "409": "A request with the same Idempotency-Key is still running",
    "413": "Request body too large",
    "422": "Invalid field (the message names it)",
    "429": "Rate limit exceeded; see Retry-After",
}


def _operation_doc(route_name: str, operation: Operation, path_params: list[str]) -> dict:
    params = [
        *(
            [{"name": "page_id", "in": "path", "required": True, "schema": S}]
            if route_name != "pages"
            else []
        ),
        *[{"name": p, "in": "path", "required": True, "schema": S} for p in path_params],
        *[
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": description,
                "schema": S,
            }
            for name, description in operation.query.items()
        ],
        *(
            [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "A retry with the same key gets the first answer again",
                    "schema": {**S, "maxLength": 200},
                }
            ]
            if operation.method == "POST"
            else []
        ),
    ]
    doc: dict = {
        "operationId": f"{route_name}_{operation.method.lower()}",
        "summary": operation.summary,
        "tags": [operation.tag] if operation.tag else [],
        "parameters": params,
        "security": [{"oauth": []}, {"bearer": []}, {"api_key": []}],
        "x-scope": operation.scope,
        "responses": {
            code: {
                "description": text,
                "content": {"application/json": {"schema": ref("Error")}},
            }
            for code, text in ERRORS.items()
        },
    }
    if operation.fields:
        inner = {"type": "object", "properties": operation.fields}
        if operation.required:
            inner["required"] = operation.required
        schema = (
            {"type": "object", "properties": {operation.envelope: inner}}
            if operation.envelope
            else inner
        )
        doc["requestBody"] = {
            "required": bool(operation.required),
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        }
    if operation.status == 204:
        doc["responses"]["204"] = {"description": "Deleted"}
    else:
        body = ref(operation.response)
        if operation.many:
            body = {"type": "array", "items": body}
        doc["responses"][str(operation.status)] = {
            "description": "OK" if operation.status == 200 else "Created",
            "content": {"application/json": {"schema": body}},
        }
    return doc


def openapi_document() -> dict:
    """The OpenAPI 3.0 document: every route of the table, with scopes as `x-scope`."""
    paths: dict[str, dict] = {}
    for route in ROUTES:
        path_params = [p.strip("{}") for p in route.path.split("/") if p.startswith("{")]
        key = (
            "/v1/pages" if route.path == "/" else ("/v1/pages/{page_id}/" + route.path).rstrip("/")
        )
        paths[key] = {
            method.lower(): _operation_doc(route.name, operation, path_params)
            for method, operation in route.operations.items()
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"{settings.SITE_NAME} automation API",
            "version": "1",
            "description": (
                "A compatible subset of the Statuspage v1 management API plus Heliograph's "
                "own resources. Bodies are JSON or form-encoded (`incident[name]=…`); the "
                "`.json` suffix is optional; lists take `page` and `per_page` (at most "
                f"{MAX_PER_PAGE}) and answer a JSON array with `X-Total-Count` and `Link` "
                f"headers. Rate limit: {rate_limit()} requests per {rate_window()} s per token "
                "(429 with Retry-After). Scopes: "
                + ", ".join(f"`{s.value}` ({s.label})" for s in ApiScope)
                + ". Page id: "
                + settings.PAGE_ID
            ),
        },
        "servers": [{"url": settings.SITE_URL}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "oauth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Authorization: OAuth <token>`",
                },
                "bearer": {"type": "http", "scheme": "bearer"},
                "api_key": {"type": "apiKey", "in": "query", "name": "api_key"},
            },
        },
        "paths": paths,
    }


def openapi_json(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(openapi_document())
    response["Access-Control-Allow-Origin"] = "*"
    return response


def docs_page(request: HttpRequest) -> HttpResponse:
    """A readable page of every endpoint, rendered from the same OpenAPI document."""
    document = openapi_document()
    groups: dict[str, list] = {}
    for path_key, methods in document["paths"].items():
        for method, operation in methods.items():
            tag = (operation["tags"] or ["Other"])[0]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            fields = []
            if body:
                schema = body["schema"]
                props = schema["properties"]
                envelope = None
                if len(props) == 1 and "properties" in next(iter(props.values())):
                    envelope, inner = next(iter(props.items()))
                else:
                    inner = schema
                for name, field_schema in inner["properties"].items():
                    fields.append(
                        {
                            "name": f"{envelope}[{name}]" if envelope else name,
                            "type": field_schema.get("type", ""),
                            "enum": field_schema.get("enum"),
                            "required": name in inner.get("required", []),
                            "description": field_schema.get("description", ""),
                        }
                    )
            success = next(code for code in operation["responses"] if code.startswith("2"))
            groups.setdefault(tag, []).append(
                {
                    "method": method.upper(),
                    "path": path_key,
                    "summary": operation["summary"],
                    "scope": operation["x-scope"],
                    "query": [p for p in operation["parameters"] if p["in"] == "query"],
                    "fields": fields,
                    "status": success,
                    "id": operation["operationId"],
                }
            )
    return render(
        request,
        "api/docs.html",
        {
            "groups": groups,
            "info": document["info"],
            "description_html": render_markdown(document["info"]["description"]),
            "page_id": settings.PAGE_ID,
            "base_url": settings.SITE_URL,
            "scopes": list(ApiScope),
            "errors": ERRORS,
            "rate_limit": rate_limit(),
            "rate_window": rate_window(),
        },
    )

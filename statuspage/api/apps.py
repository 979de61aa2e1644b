from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The v1 management API: tokens, the route table, OpenAPI and the MCP server."""

    name = "statuspage.api"
    label = "api"
    verbose_name = "Automation API"

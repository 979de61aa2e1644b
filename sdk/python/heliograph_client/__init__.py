"""heliograph-client: the Heliograph status page API from Python, and the `heliograph` command.

    from heliograph_client import Client
    client = Client()  # HELIOGRAPH_URL and HELIOGRAPH_TOKEN from the environment
    client.components.bulk_status(status="major_outage", region="us-east-1")

See docs/api.md ("Python SDK") for the naming of the methods, retries, pagination and errors.
"""

from heliograph_client._core import (
    AsyncPaginator,
    Operation,
    Page,
    Paginator,
    RetryPolicy,
    __version__,
)
from heliograph_client._operations import METHODS, OPERATIONS
from heliograph_client.client import AsyncClient, Client
from heliograph_client.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DryRun,
    HeliographError,
    NetworkError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
)

__all__ = [
    "METHODS",
    "OPERATIONS",
    "AsyncClient",
    "AsyncPaginator",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "DryRun",
    "HeliographError",
    "NetworkError",
    "NotFoundError",
    "Operation",
    "Page",
    "Paginator",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "ValidationError",
    "__version__",
]

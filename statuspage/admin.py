"""Admin of the catalogue."""
from statuspage.api import admin as api_admin  # noqa: F401

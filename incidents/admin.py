"""Admin of incidents. Credits register their admin in incidents.credits.admin."""

from incidents.credits import admin as credits_admin  # noqa: F401

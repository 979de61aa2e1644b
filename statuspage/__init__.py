"""The catalogue: regions, services, components (a service in a region), their status history
and the audit trail. The bottom layer of Heliograph: it imports none of the other apps.

Its sub-packages are apps of higher layers (public, api, metrics, demo) and the project
configuration (conf); see docs/architecture.md.
"""

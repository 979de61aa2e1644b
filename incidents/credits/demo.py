"""Demo data for credits, called by `manage.py load_demo`."""


def load_demo_credits() -> None:
    """Add demo accounts, spend around the June incident and the seed report's policy."""

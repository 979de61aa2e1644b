"""Admin of the credits models (imported by incidents/admin.py)."""

"""Helpers for migrations that move models from one app to another without touching their
tables (`SeparateDatabaseAndState`): v0.1 kept API tokens and metrics in `statuspage` and
credits in `incidents`; they are apps of their own now, on the same tables and rows."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import migrations


def move_content_types(
    old_label: str, new_label: str, models: Iterable[str]
) -> migrations.RunPython:
    """A migration step that re-labels the content types of moved models (so permissions
    granted on them, admin log entries and audit entries follow them) instead of leaving them
    behind and creating new ones. On a new database there is nothing to move yet."""
    names = [name.lower() for name in models]

    def forwards(apps, schema_editor) -> None:
        _relabel(apps, old_label, new_label, names)

    def backwards(apps, schema_editor) -> None:
        _relabel(apps, new_label, old_label, names)

    return migrations.RunPython(forwards, backwards)


def _relabel(apps, old_label: str, new_label: str, names: list[str]) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    AuditEntry = apps.get_model("statuspage", "AuditEntry")
    for name in names:
        if not ContentType.objects.filter(app_label=new_label, model=name).exists():
            ContentType.objects.filter(app_label=old_label, model=name).update(app_label=new_label)
        AuditEntry.objects.filter(object_type=f"{old_label}.{name}").update(
            object_type=f"{new_label}.{name}"
        )

"""What every form that writes through a service needs: the service's refusal shown on the
form. One helper for the admin, the console, credits and metrics pages."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def show_refusal(
    form: forms.BaseForm,
    error: ValidationError,
    *,
    fields: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> None:
    """Put a service's ValidationError onto `form`: each message on the field it names (after
    `fields`, which maps a service's field names to the form's), else above the form, named
    (`labels`, or the field name made readable). A plain ValidationError goes above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, errors in error.error_dict.items():
        field = (fields or {}).get(key, key)
        for message in ValidationError(errors).messages:
            if field in form.fields:
                form.add_error(field, message)
            elif key == NON_FIELD_ERRORS:
                form.add_error(None, message)
            else:
                label = (labels or {}).get(key) or key.replace("_", " ").capitalize()
                form.add_error(None, f"{label}: {message}")

"""Forms of the staff console.

They only parse and check the shape of what was typed; the rules (allowed statuses, closed
incidents, lengths) live in the service functions. When a service refuses, its
ValidationError dict is put back on the form's fields by `apply_service_errors`, so the
commander sees exactly which field is wrong, next to what they typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError

from incidents.models import (
    INCIDENT_STATUSES,
    Impact,
    IncidentStatus,
)
from statuspage import languages
from statuspage.forms import show_refusal
from statuspage.models import Component, ComponentStatus, Region
from statuspage.selectors import Matrix
from statuspage.status import IMPACT_WORDS

NO_CHANGE = ("", "— no change —")
STATUS_CHOICES = [NO_CHANGE, *ComponentStatus.choices]
INCIDENT_STATUS_CHOICES = [(s, IncidentStatus(s).label) for s in INCIDENT_STATUSES]
# Each impact with the word the public page shows for it ("Critical (major outage)"), so the
# commander picks in the visitor's words (statuspage.status: one level, one word).
INCIDENT_IMPACT_CHOICES = [
    (value, f"{label} ({IMPACT_WORDS[value].lower()})")
    for value, label in Impact.choices
    if value != Impact.MAINTENANCE
]
# The default of the declare form: the impact follows the component statuses chosen
# (statuspage.status.impact_for_component_statuses); the view applies it.
IMPACT_FROM_COMPONENTS = ("", "From the components you set")
# The default of the update form: keep the impact, raised if the components set are worse.
IMPACT_KEEP = ("", "No change (raised if the components get worse)")
DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]

# Labels the service errors use for keys that are not form fields.
ERROR_LABELS = {"components": "Components", "incident": "Incident"}


def apply_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's refusal on a console form (statuspage.forms.show_refusal, with the
    console's names for the fields it has no input for)."""
    show_refusal(form, exc, labels=ERROR_LABELS)


@dataclass
class GridCell:
    component: Component
    field: forms.BoundField


@dataclass
class GridRow:
    service_name: str
    cells: list[GridCell | None]
    global_cell: GridCell | None


class ComponentGridMixin:
    """Adds one select per component ("no change" by default) and one "whole region" select per
    region, laid out as the services × regions matrix.

    A region select applies to every component of that region left at "no change", so a whole
    region can be marked down in one choice, with or without JavaScript.
    """

    matrix: Matrix

    def add_grid_fields(self, matrix: Matrix) -> None:
        self.matrix = matrix
        fields = self.fields  # type: ignore[attr-defined]
        for region in matrix.regions:
            fields[self.region_field_name(region)] = forms.ChoiceField(
                choices=STATUS_CHOICES, required=False, label=f"Whole region {region.slug}"
            )
        for component in matrix.components:
            fields[self.component_field_name(component)] = forms.ChoiceField(
                choices=STATUS_CHOICES, required=False, label=component.name
            )

    @staticmethod
    def component_field_name(component: Component) -> str:
        return f"c_{component.public_id}"

    @staticmethod
    def region_field_name(region: Region) -> str:
        return f"r_{region.slug}"

    def grid_rows(self) -> list[GridRow]:
        form = self  # a Form

        def cell(component: Component | None) -> GridCell | None:
            if component is None:
                return None
            return GridCell(component, form[self.component_field_name(component)])  # type: ignore[index]

        return [
            GridRow(
                service_name=row.service.name,
                cells=[cell(c) for c in row.cells],
                global_cell=cell(row.global_component),
            )
            for row in self.matrix.rows
        ]

    def region_fields(self) -> list[tuple[Region, forms.BoundField]]:
        return [(r, self[self.region_field_name(r)]) for r in self.matrix.regions]  # type: ignore[index]

    def component_statuses(self) -> dict[Component, str]:
        """The status chosen for each component (explicit choice first, then its region's)."""
        data = self.cleaned_data  # type: ignore[attr-defined]
        chosen: dict[Component, str] = {}
        for component in self.matrix.components:
            status = data.get(self.component_field_name(component)) or ""
            if not status and component.region is not None:
                status = data.get(self.region_field_name(component.region)) or ""
            if status:
                chosen[component] = status
        return chosen


class TranslationsMixin:
    """Optional translations of the update's text, one field per language other than
    English (`translation_de`, …): shown to that language's readers and sent to its
    subscribers instead of the text as written. The incident services check them."""

    def add_translation_fields(self, initial: dict[str, str] | None = None) -> None:
        for code, name in languages.LANGUAGES:
            if code == languages.DEFAULT:
                continue
            self.fields[f"translation_{code}"] = forms.CharField(
                label=f"{name} ({code})",
                required=False,
                initial=(initial or {}).get(code, ""),
                widget=forms.Textarea(attrs={"rows": 2, "lang": code}),
            )

    @property
    def translation_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith("translation_")]

    def translations(self, *, keep_empty: bool = False) -> dict[str, str]:
        """{language: text}; empty texts left out, or kept (to remove a translation) on edit."""
        found = {
            name.removeprefix("translation_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("translation_")
        }
        return found if keep_empty else {code: text for code, text in found.items() if text}


class DeclareForm(TranslationsMixin, ComponentGridMixin, forms.Form):
    name = forms.CharField(
        max_length=255,
        widget=forms.TextInput(
            attrs={"autofocus": True, "placeholder": "Runs not starting in us-east-1"}
        ),
    )
    impact = forms.ChoiceField(
        choices=[IMPACT_FROM_COMPONENTS, *INCIDENT_IMPACT_CHOICES], required=False, initial=""
    )
    status = forms.ChoiceField(
        choices=INCIDENT_STATUS_CHOICES, initial=IncidentStatus.INVESTIGATING
    )
    body = forms.CharField(
        label="First update (Markdown)",
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "We are investigating…"}),
    )
    notify = forms.BooleanField(
        required=False, initial=True, label="Notify subscribers and channels"
    )

    def __init__(self, *args, matrix: Matrix, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_grid_fields(matrix)
        self.add_translation_fields()


class UpdateForm(TranslationsMixin, ComponentGridMixin, forms.Form):
    status = forms.ChoiceField(choices=INCIDENT_STATUS_CHOICES)
    # The last update the commander saw when the page was rendered: if another one was posted
    # since (another tab, another commander), the view shows it and keeps the text instead of
    # posting blind. Empty: not checked (a form from before this field, or no update yet).
    seen = forms.CharField(required=False, widget=forms.HiddenInput)
    impact = forms.ChoiceField(choices=[IMPACT_KEEP, *INCIDENT_IMPACT_CHOICES], required=False)
    body = forms.CharField(label="Message (Markdown)", widget=forms.Textarea(attrs={"rows": 4}))
    notify = forms.BooleanField(
        required=False, initial=True, label="Notify subscribers and channels"
    )

    def __init__(self, *args, matrix: Matrix, status_choices=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if status_choices is not None:
            self.fields["status"].choices = status_choices
        self.add_grid_fields(matrix)
        self.add_translation_fields()


class ResolveForm(forms.Form):
    body = forms.CharField(
        label="Message (Markdown)",
        initial="This incident has been resolved.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    notify = forms.BooleanField(
        required=False, initial=True, label="Notify subscribers and channels"
    )


class UpdateTextForm(TranslationsMixin, forms.Form):
    """Correct the text of a timeline entry (a typo) and its translations; the correction is
    not sent again."""

    body = forms.CharField(label="Message (Markdown)", widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, translations: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_translation_fields(translations)


class PostmortemForm(forms.Form):
    body = forms.CharField(label="Postmortem (Markdown)", widget=forms.Textarea(attrs={"rows": 12}))
    notify = forms.BooleanField(
        required=False,
        label="Tell subscribers and channels that the postmortem is published",
    )


class EditIncidentForm(forms.Form):
    name = forms.CharField(max_length=255)
    impact = forms.ChoiceField(choices=Impact.choices)


class ComponentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Component) -> str:
        return f"{obj.name} — {obj.get_status_display()}"


class ComponentMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Component) -> str:
        return obj.name


class MaintenanceForm(forms.Form):
    name = forms.CharField(max_length=255)
    scheduled_for = forms.DateTimeField(
        label="Window start (UTC)",
        input_formats=DATETIME_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    scheduled_until = forms.DateTimeField(
        label="Window end (UTC)",
        input_formats=DATETIME_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    components = ComponentMultipleChoiceField(
        queryset=Component.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    body = forms.CharField(label="Message (Markdown)", widget=forms.Textarea(attrs={"rows": 4}))
    auto_in_progress = forms.BooleanField(
        required=False, initial=True, label="Start automatically at the window start"
    )
    auto_completed = forms.BooleanField(
        required=False, initial=True, label="Complete automatically at the window end"
    )
    notify = forms.BooleanField(
        required=False, initial=True, label="Notify subscribers and channels"
    )

    def __init__(self, *args, components=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if components is not None:
            self.fields["components"].queryset = components


class ComponentStatusForm(forms.Form):
    component = ComponentChoiceField(queryset=Component.objects.none())
    status = forms.ChoiceField(choices=ComponentStatus.choices)
    reason = forms.CharField(
        max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": "Why (kept in the history)"}),
    )

    def __init__(self, *args, components=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if components is not None:
            self.fields["component"].queryset = components


class PreviewForm(forms.Form):
    body = forms.CharField(required=False, max_length=25000)

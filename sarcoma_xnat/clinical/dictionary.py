"""The data dictionary of the clinical table: each variable's type, vocabulary and range.

The 11 clinical variables are the model's inputs (:mod:`sarcoma_xnat.models.encoding`,
whose vocabularies are used here unchanged); the 4 outcome variables are the
survival targets. Every variable is stored as an XNAT subject custom field of the
same name. :func:`write_dictionary_csv` and :func:`write_redcap_dictionary` write the
two files shipped as package data (``sarcoma_xnat/clinical/data/``); a test checks
that the shipped files are what this module writes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sarcoma_xnat.models.encoding import CLINICAL_VARIABLES, VOCABULARIES

__all__ = [
    "ID_COLUMNS",
    "MEASUREMENT_FIELDS",
    "OUTCOME_VARIABLES",
    "REDCAP_COLUMNS",
    "SIZE_CHECK_CHOICES",
    "VARIABLES",
    "Variable",
    "dictionary_csv",
    "redcap_dictionary_csv",
]

#: columns that say whose row it is: the site's original ID, or the pseudonym (subject label)
ID_COLUMNS = ("patient_id", "subject")
#: the survival outcomes (optional: empty while follow-up is unknown)
OUTCOME_VARIABLES = ("os_months", "os_event", "dm_months", "dm_event")


@dataclass(frozen=True)
class Variable:
    """One column of the clinical table."""

    name: str
    label: str
    kind: str  # "integer", "number" or "choice"
    required: bool = True
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""

    def describe_rule(self) -> str:
        """Return what a valid value looks like, in words (for reports and the dictionary)."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        what = "a whole number" if self.kind == "integer" else "a number"
        return f"{what} from {self.minimum:g} to {self.maximum:g}" + (f" {self.unit}" if self.unit else "")


_LABELS = {
    "age": "Age at diagnosis", "sex": "Sex", "tumour_location": "Tumour location",
    "diagnosis": "Histological diagnosis", "neoadjuvant_chemo": "Neoadjuvant chemotherapy",
    "tumour_size_cm": "Tumour size (longest diameter)", "tumour_volume_cm3": "Tumour volume",
    "tumour_depth": "Tumour depth (relative to the fascia)", "tumour_grade": "FNCLCC grade",
    "metastases_at_presentation": "Metastases at presentation", "radiotherapy": "Radiotherapy",
    "os_months": "Overall survival: time from diagnosis", "os_event": "Overall survival: died",
    "dm_months": "Distant metastasis: time from diagnosis",
    "dm_event": "Distant metastasis: occurred",
}
_NUMBERS = {
    "age": ("integer", 0, 120, "years"),
    "tumour_size_cm": ("number", 0.1, 100, "cm"),
    "tumour_volume_cm3": ("number", 0.01, 100000, "cm3"),
    "os_months": ("number", 0, 600, "months"),
    "dm_months": ("number", 0, 600, "months"),
}
_EVENTS = ("0", "1")


def _variables() -> tuple[Variable, ...]:
    out = []
    for name in CLINICAL_VARIABLES + OUTCOME_VARIABLES:
        required = name in CLINICAL_VARIABLES
        if name in _NUMBERS:
            kind, lo, hi, unit = _NUMBERS[name]
            out.append(Variable(name, _LABELS[name], kind, required, minimum=lo, maximum=hi, unit=unit))
        else:
            choices = VOCABULARIES.get(name, _EVENTS)
            out.append(Variable(name, _LABELS[name], "choice", required, choices=tuple(choices)))
    return tuple(out)


#: every column of the clinical table after the ID column, in table order
VARIABLES: tuple[Variable, ...] = _variables()

_ROI_STATS = (("mean", "mean"), ("std", "standard deviation"), ("median", "median"),
              ("p05", "5th percentile"), ("p95", "95th percentile"))
#: what ``clinical send-measurements`` sends (the session fields of
#: :mod:`sarcoma_xnat.steps.measurement_fields`): name, label, unit; numbers unless listed in
#: :data:`SIZE_CHECK_CHOICES`
MEASUREMENT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("tumour_volume_ml", "Measured tumour volume (from the ROI)", "mL"),
    ("tumour_longest_diameter_mm", "Measured longest tumour diameter (3D)", "mm"),
    ("tumour_longest_axial_diameter_mm", "Measured longest axial tumour diameter", "mm"),
    *((f"{ch}_roi_{key}", f"{ch.upper()} intensity in the ROI (z-scored): {what}", "")
      for ch in ("t1", "t2") for key, what in _ROI_STATS),
    ("tumour_size_check", "Measured size agrees with the entered clinical size", ""),
)
#: REDCap codes of ``tumour_size_check`` (codes have no spaces) and the session field's values
SIZE_CHECK_CHOICES = {"ok": "ok", "disagree": "disagree", "not_entered": "not entered"}


def dictionary_csv() -> str:
    """Return the data dictionary as CSV text (one row per variable)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["variable", "label", "type", "required", "allowed", "unit", "xnat_field"])
    writer.writerow(["patient_id", "Site's original patient ID (or give 'subject')", "text", "yes*",
                     "mapped to the pseudonym with the site secret; never stored in XNAT", "", ""])
    writer.writerow(["subject", "XNAT subject label (pseudonym)", "text", "yes*",
                     "the pseudonym, e.g. SXNC0376JDDK8", "", ""])
    for var in VARIABLES:
        writer.writerow([var.name, var.label, var.kind, "yes" if var.required else "no",
                         var.describe_rule(), var.unit, f"xnat:subjectData/fields/field[name={var.name}]"])
    for name, label, unit in MEASUREMENT_FIELDS:
        kind, rule = ("choice", "one of " + ", ".join(SIZE_CHECK_CHOICES.values())) \
            if name == "tumour_size_check" else ("number", "measured by preprocess")
        writer.writerow([name, label, kind, "no", rule, unit,
                         f"xnat:mrSessionData/fields/field[name={name}]"])
    return buf.getvalue()


#: header of a REDCap data dictionary (the "Data Dictionary" upload of a REDCap project)
REDCAP_COLUMNS = (
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
    "Text Validation Min", "Text Validation Max", "Identifier?",
    "Branching Logic (Show field only if...)", "Required Field?", "Custom Alignment",
    "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?", "Field Annotation",
)
_FORM = "sarcoma_clinical"
_MEASUREMENT_FORM = "sarcoma_imaging"


def redcap_dictionary_csv() -> str:
    """Return a REDCap data dictionary (one instrument, ``sarcoma_clinical``) as CSV text.

    The record ID field is ``patient_id`` (marked an identifier, so REDCap's
    de-identified exports drop it); choices use the table's own codes as raw values,
    so a raw REDCap export is the clinical table. A second instrument,
    ``sarcoma_imaging``, holds the measurements ``clinical send-measurements`` sends.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(REDCAP_COLUMNS)
    blank = [""] * len(REDCAP_COLUMNS)

    def row(**cells: str) -> list[str]:
        out = list(blank)
        for key, value in cells.items():
            out[_REDCAP_INDEX[key]] = value
        return out

    writer.writerow(row(name="patient_id", form=_FORM, type="text", label="Patient ID (hospital)",
                        identifier="y", required="y"))
    for var in VARIABLES:
        cells = {"name": var.name, "form": _FORM, "label": var.label,
                 "required": "y" if var.required else ""}
        if var.kind == "choice":
            cells.update(type="radio", choices=" | ".join(f"{c}, {c}" for c in var.choices))
        else:
            cells.update(type="text", validation="integer" if var.kind == "integer" else "number",
                         min=f"{var.minimum:g}", max=f"{var.maximum:g}", note=var.unit)
        writer.writerow(row(**cells))
    for name, label, unit in MEASUREMENT_FIELDS:
        cells = {"name": name, "form": _MEASUREMENT_FORM, "label": label}
        if name == "tumour_size_check":
            cells.update(type="radio",
                         choices=" | ".join(f"{c}, {t}" for c, t in SIZE_CHECK_CHOICES.items()))
        else:
            cells.update(type="text", validation="number", note=unit)
        writer.writerow(row(**cells))
    return buf.getvalue()


_REDCAP_INDEX = {"name": 0, "form": 1, "type": 3, "label": 4, "choices": 5, "note": 6,
                 "validation": 7, "min": 8, "max": 9, "identifier": 10, "required": 12}

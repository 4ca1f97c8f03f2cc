"""Tumour measurements as session custom fields, checked against the entered clinical size.

``preprocess`` writes ``measurements.json``; :func:`publish` puts the numbers XNAT
users search by on the session as custom fields (XNAT lists them as search columns
``xnat:mrSessionData/fields/field/name`` / ``.../field``, the form XNAT's own REST
tests use: ``NrgXnat/xnat-rest-tests:src/test/java/org/nrg/testing/xnat/tests/TestCustomVariables.java``),
and compares them with the subject's clinical ``tumour_size_cm`` (longest diameter)
and ``tumour_volume_cm3``: a relative difference above the tolerance sets
``tumour_size_check`` to ``disagree`` (``ok`` otherwise, ``not entered`` without
clinical values).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef

__all__ = ["DEFAULT_TOLERANCE", "clinical_check", "intensity_stats", "publish", "session_fields"]

#: largest relative difference between measured and entered size/volume still called "ok"
DEFAULT_TOLERANCE = 0.25
_STATS = ("mean", "std", "median", "p05", "p95")


def intensity_stats(image: sitk.Image, mask: sitk.Image) -> dict[str, float]:
    """Return mean, std, median, 5th and 95th percentile of ``image`` inside ``mask`` (same grid)."""
    values = sitk.GetArrayViewFromImage(image)[sitk.GetArrayViewFromImage(mask) > 0].astype(float)
    if values.size == 0:
        return {}
    p05, median, p95 = np.percentile(values, [5, 50, 95])
    return {"mean": round(float(values.mean()), 4), "std": round(float(values.std()), 4),
            "median": round(float(median), 4), "p05": round(float(p05), 4),
            "p95": round(float(p95), 4), "voxels": int(values.size)}


def _relative(measured: float, entered: float) -> float:
    return abs(measured - entered) / entered


def clinical_check(measurements: dict[str, Any], subject_fields: dict[str, str],
                   tolerance: float = DEFAULT_TOLERANCE) -> dict[str, Any]:
    """Compare the measured tumour with the subject's entered size and volume."""
    tumour = measurements.get("tumour") or {}
    out: dict[str, Any] = {"tolerance": tolerance, "flag": "not entered"}
    pairs = (("size", "tumour_size_cm", 10.0, tumour.get("longest_diameter_mm")),
             ("volume", "tumour_volume_cm3", 1000.0, tumour.get("volume_mm3")))
    disagree = checked = False
    for name, field, to_mm, measured in pairs:
        try:
            entered = float(subject_fields.get(field, "")) * to_mm
        except ValueError:
            continue
        if measured is None or entered <= 0:
            continue
        diff = _relative(float(measured), entered)
        out[name] = {"entered": subject_fields[field], "measured": round(float(measured) / to_mm, 3),
                     "relative_difference": round(diff, 4)}
        checked = True
        disagree = disagree or diff > tolerance
    if checked:
        out["flag"] = "disagree" if disagree else "ok"
    return out


def session_fields(measurements: dict[str, Any], check: dict[str, Any] | None = None) -> dict[str, str]:
    """Return the session custom fields for ``measurements`` (empty without a tumour)."""
    tumour = measurements.get("tumour")
    if not tumour:
        return {}
    fields = {"tumour_volume_ml": f"{tumour['volume_mm3'] / 1000.0:.3f}",
              "tumour_longest_diameter_mm": f"{tumour['longest_diameter_mm']:.1f}",
              "tumour_longest_axial_diameter_mm": f"{tumour['longest_axial_diameter_mm']:.1f}"}
    for channel, stats in sorted((measurements.get("intensity") or {}).items()):
        for key in _STATS:
            if key in stats:
                fields[f"{channel}_roi_{key}"] = f"{stats[key]:.4f}"
    lesions = measurements.get("lesions") or []
    if len(lesions) > 1:  # the tumour_* fields above are the primary's
        fields["lesion_count"] = str(len(lesions))
        for row in lesions:
            fields[f"lesion{row['lesion']}_volume_ml"] = f"{row['volume_mm3'] / 1000.0:.3f}"
            fields[f"lesion{row['lesion']}_longest_diameter_mm"] = f"{row['longest_diameter_mm']:.1f}"
    if check is not None:
        fields["tumour_size_check"] = check["flag"]
    return fields


def publish(archive: Archive, session: ObjectRef, measurements: dict[str, Any],
            tolerance: float = DEFAULT_TOLERANCE) -> dict[str, str]:
    """Check against the subject's clinical fields and set the session fields; return them."""
    subject = archive.get(ObjectRef(session.project, session.subject))
    check = clinical_check(measurements, subject.fields, tolerance)
    fields = session_fields(measurements, check)
    if fields:
        archive.set_fields(session, fields)
    return fields

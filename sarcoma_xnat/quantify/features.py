"""Radiomics features with PyRadiomics, from the parameter file the suite ships, IBSI-coded.

The parameter file (:data:`PARAMS_FILE`, package data) fixes resampling, intensity
normalisation, bin width and feature classes; its SHA-256 goes into every result.
:data:`IBSI_TABLE` maps PyRadiomics feature names to IBSI reference-manual codes
(e.g. ``firstorder Mean`` -> ``Q4LE``); features without an IBSI equivalent keep
their PyRadiomics name under a private coding scheme (:data:`PRIVATE_SCHEME`).
PyRadiomics is the optional extra ``radiomics`` (the ``pyradiomics-bhklab`` wheel).
"""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from sarcoma_xnat.errors import AnnotationError, ConfigurationError

__all__ = ["FeatureCode", "IBSI_SCHEME", "IBSI_TABLE", "PARAMS_FILE", "PRIVATE_SCHEME",
           "extract_features", "feature_code", "params_path"]

#: the suite's PyRadiomics parameter file (package data)
PARAMS_FILE = "radiomics-params.yaml"
#: PyRadiomics name -> IBSI code table (package data)
IBSI_TABLE = "ibsi-features.tsv"
#: coding scheme designator of IBSI feature codes (as QIICR's pyradiomics-dcm uses it)
IBSI_SCHEME = "IBSI"
#: private coding scheme for PyRadiomics features that IBSI does not define
PRIVATE_SCHEME = "99PYRADIOMICS"


@dataclass(frozen=True)
class FeatureCode:
    """How one feature is coded in DICOM: value, scheme, meaning and UCUM unit."""

    value: str
    scheme: str
    meaning: str
    unit: str


def params_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the parameter file to use: ``path`` if given (must exist), else the shipped one."""
    if path is not None:
        chosen = Path(path)
        if not chosen.is_file():
            raise ConfigurationError(f"radiomics parameter file {chosen} does not exist")
        return chosen
    return Path(str(resources.files("sarcoma_xnat.quantify") / "data" / PARAMS_FILE))


def _ibsi_rows() -> dict[tuple[str, str], tuple[str, str, str]]:
    table = resources.files("sarcoma_xnat.quantify") / "data" / IBSI_TABLE
    with table.open("r", encoding="utf-8") as fh:
        rows = csv.DictReader(fh, delimiter="\t")
        return {(r["pyradiomics_class"], r["pyradiomics_feature"]): (r["ibsi_code"], r["ibsi_name"],
                                                                    r["unit"]) for r in rows}


_SHAPE_UNITS = {"Maximum2DDiameterColumn": "mm", "Maximum2DDiameterRow": "mm",
                "Maximum2DDiameterSlice": "mm"}


def feature_code(name: str) -> FeatureCode:
    """Return the code of a PyRadiomics feature key such as ``original_glcm_Contrast``."""
    parts = name.split("_", 2)
    if len(parts) != 3:
        raise ConfigurationError(f"not a PyRadiomics feature name: {name!r}")
    image_type, klass, feature = parts
    found = _ibsi_rows().get((klass, feature))
    if found is not None and image_type == "original":
        code, meaning, unit = found
        return FeatureCode(code, IBSI_SCHEME, meaning, unit)
    unit = _SHAPE_UNITS.get(feature, "1")
    return FeatureCode(name[:16] if len(name) <= 16 else _short(name), PRIVATE_SCHEME,
                       f"PyRadiomics {klass} {feature}"[:64], unit)


def _short(name: str) -> str:
    """A code value of at most 16 characters for a long private feature name (stable)."""
    import hashlib

    return "PR" + hashlib.sha256(name.encode()).hexdigest()[:14].upper()


def extract_features(image: sitk.Image, mask: sitk.Image,
                     params: str | os.PathLike[str] | None = None,
                     context: dict[str, Any] | None = None) -> dict[str, float]:
    """Return the PyRadiomics features of ``image`` inside ``mask`` (label 1), as floats.

    Keys are PyRadiomics' own (``original_<class>_<feature>``), sorted. Diagnostics are
    not returned (the parameter file turns them off).
    """
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)  # its INFO lines name file paths
    ctx = dict(context or {})
    if not sitk.GetArrayViewFromImage(mask).any():
        raise AnnotationError("the tumour mask is empty on this image's grid", **ctx)
    extractor = featureextractor.RadiomicsFeatureExtractor(str(params_path(params)))
    try:
        raw = extractor.execute(image, mask)
    except ValueError as exc:  # PyRadiomics' own checks: ROI too small, geometry mismatch
        raise AnnotationError(f"PyRadiomics refused the image and mask: {exc}", **ctx) from exc
    return {k: float(v) for k, v in sorted(raw.items()) if not k.startswith("diagnostics_")}

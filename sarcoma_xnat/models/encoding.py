"""Encode the 11 clinical variables of the study as a fixed-length numeric vector.

The encoding uses fixed scales and vocabularies, not statistics fitted on data, so
that every site of a federation encodes identically without sharing anything.
Categorical values outside a vocabulary go to an explicit ``other`` column; an
unparsable value is an error, never a silent zero. A missing value is an error too,
unless the caller gives its ``fill`` (the training run's imputation,
:mod:`sarcoma_xnat.models.missing`) or asks for NaN columns (``allow_missing``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from sarcoma_xnat.errors import InputDataError

__all__ = ["CLINICAL_VARIABLES", "ENCODING_VERSION", "FEATURE_NAMES", "VOCABULARIES", "encode_clinical"]

ENCODING_VERSION = 1

#: the 11 clinical variables (subject custom fields), in study order
CLINICAL_VARIABLES = ("age", "sex", "tumour_location", "diagnosis", "neoadjuvant_chemo",
                      "tumour_size_cm", "tumour_volume_cm3", "tumour_depth", "tumour_grade",
                      "metastases_at_presentation", "radiotherapy")

# one-hot vocabularies; the first value of each is the reference level (no column)
_CATEGORIES = {
    "tumour_location": ("thigh", "buttock", "knee", "other"),
    "diagnosis": ("UPS", "myxofibrosarcoma", "liposarcoma", "synovial_sarcoma",
                  "leiomyosarcoma", "other"),
    "tumour_grade": ("1", "2", "3"),
    "radiotherapy": ("none", "neoadjuvant", "adjuvant"),
}
_BINARY = {"sex": ("F", "M"), "neoadjuvant_chemo": ("no", "yes"),
           "tumour_depth": ("superficial", "deep"), "metastases_at_presentation": ("no", "yes")}
#: allowed values of every categorical variable (binary and one-hot), reference level first
VOCABULARIES: dict[str, tuple[str, ...]] = {**_BINARY, **_CATEGORIES}


def _feature_names() -> tuple[str, ...]:
    names: list[str] = []
    for var in CLINICAL_VARIABLES:
        if var in _CATEGORIES:
            names += [f"{var}={v}" for v in _CATEGORIES[var][1:]]
        else:
            names.append(var)
    return tuple(names)


#: names of the encoded columns
FEATURE_NAMES = _feature_names()


def _number(values: Mapping[str, str], key: str) -> float:
    try:
        x = float(values[key])
    except (KeyError, TypeError, ValueError):
        raise InputDataError(f"clinical field {key!r} missing or not a number: "
                             f"{values.get(key)!r}") from None
    if not math.isfinite(x):
        raise InputDataError(f"clinical field {key!r} is not finite: {x}")
    return x


def encode_clinical(values: Mapping[str, str], fill: Mapping[str, str] | None = None,
                    allow_missing: bool = False) -> np.ndarray:
    """Return the encoded feature vector (float32, ``len(FEATURE_NAMES)``) of one subject.

    A missing value takes ``fill[var]`` when given, else NaN columns with
    ``allow_missing``. Raises :class:`InputDataError` naming the field when a value is
    missing (otherwise) or invalid.
    """
    out: list[float] = []
    for var in CLINICAL_VARIABLES:
        raw = values.get(var)
        if (raw is None or str(raw).strip() == "") and fill and str(fill.get(var) or "").strip():
            values = {**values, var: str(fill[var])}
            raw = values[var]
        if raw is None or str(raw).strip() == "":
            if allow_missing:
                width = len(_CATEGORIES[var]) - 1 if var in _CATEGORIES else 1
                out += [math.nan] * width
                continue
            raise InputDataError(f"clinical field {var!r} is missing")
        raw = str(raw).strip()
        if var == "age":
            out.append((_number(values, var) - 58.0) / 15.0)
        elif var == "tumour_size_cm":
            out.append((_number(values, var) - 10.0) / 5.0)
        elif var == "tumour_volume_cm3":
            out.append(math.log(max(_number(values, var), 1.0) / 100.0))
        elif var in _BINARY:
            levels = _BINARY[var]
            if raw not in levels:
                raise InputDataError(f"clinical field {var!r} must be one of {levels}, got {raw!r}")
            out.append(float(raw == levels[1]))
        else:
            levels = _CATEGORIES[var]
            if raw not in levels:
                if "other" not in levels:
                    raise InputDataError(f"clinical field {var!r} must be one of {levels}, got {raw!r}")
                raw = "other"
            out += [float(raw == level) for level in levels[1:]]
    return np.asarray(out, dtype=np.float32)

"""Clinical variables and survival outcomes from a known proportional-hazards model.

The 11 clinical variables of the study are drawn per subject; tumour size and volume
come from the phantom (as a radiologist would measure them, with a little error). The
log-hazard of overall survival (OS) and of distant metastasis (DM) is linear in the
clinical variables **and** in the tumour's necrotic fraction, an image-only property
(visible as the bright core on T2) that no clinical variable carries. Event times are
Weibull; follow-up ends by staggered administrative censoring or loss to follow-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sarcoma_xnat.synthetic.phantom import Phantom

__all__ = [
    "CLINICAL_FIELDS",
    "ClinicalRecord",
    "OUTCOME_FIELDS",
    "draw_clinical",
    "draw_outcomes",
    "log_hazards",
]

#: subject custom fields holding the 11 clinical variables (XNAT field names)
CLINICAL_FIELDS = ("age", "sex", "tumour_location", "diagnosis", "neoadjuvant_chemo",
                   "tumour_size_cm", "tumour_volume_cm3", "tumour_depth", "tumour_grade",
                   "metastases_at_presentation", "radiotherapy")
#: subject custom fields holding the outcomes
OUTCOME_FIELDS = ("os_months", "os_event", "dm_months", "dm_event")

_LOCATIONS = ("thigh", "thigh", "thigh", "buttock", "knee")
_DIAGNOSES = ("UPS", "myxofibrosarcoma", "liposarcoma", "synovial_sarcoma", "leiomyosarcoma")
_HIGH_RISK = {"UPS", "leiomyosarcoma"}
_RADIOTHERAPY = ("none", "neoadjuvant", "adjuvant")

#: true coefficients of the OS and DM log-hazards (necrosis is per unit of z-scored fraction)
OS_BETA = {"age10": 0.25, "grade2": 0.35, "grade3": 0.75, "mets": 1.0, "log_volume": 0.30,
           "deep": 0.30, "high_risk": 0.25, "necrosis": 0.70}
DM_BETA = {"grade2": 0.30, "grade3": 0.80, "log_volume": 0.35, "deep": 0.35,
           "high_risk": 0.20, "necrosis": 0.75, "age10": 0.05}
NECROSIS_MEAN, NECROSIS_SD = 0.22, 0.10


@dataclass(frozen=True)
class ClinicalRecord:
    """One subject's clinical variables, with the image-only property kept beside them."""

    values: dict[str, str]
    age: int
    sex: str
    grade: int
    deep: bool
    mets: bool
    diagnosis: str
    volume_cm3: float
    necrotic_fraction: float


def draw_clinical(rng: np.random.Generator, phantom: Phantom) -> ClinicalRecord:
    """Draw the 11 clinical variables consistent with the subject's phantom."""
    age = int(np.clip(rng.normal(58, 15), 18, 90))
    sex = "M" if rng.random() < 0.55 else "F"
    grade = int(rng.choice([1, 2, 3], p=[0.2, 0.35, 0.45]))
    diagnosis = str(rng.choice(_DIAGNOSES))
    true_volume_cm3 = phantom.tumour_volume_mm3() / 1000.0
    volume_cm3 = true_volume_cm3 * rng.normal(1.0, 0.05)
    longest_cm = 2.0 * max(phantom.tumour_r * (1 + sum(a for _, a, _ in phantom.lobes)),
                           phantom.tumour_c) / 10.0
    size_cm = longest_cm * rng.normal(1.0, 0.04)
    deep = bool(rng.random() < 0.85)
    mets = bool(rng.random() < 0.12)
    values = {
        "age": str(age),
        "sex": sex,
        "tumour_location": str(rng.choice(_LOCATIONS)),
        "diagnosis": diagnosis,
        "neoadjuvant_chemo": "yes" if rng.random() < 0.3 else "no",
        "tumour_size_cm": f"{size_cm:.1f}",
        "tumour_volume_cm3": f"{volume_cm3:.1f}",
        "tumour_depth": "deep" if deep else "superficial",
        "tumour_grade": str(grade),
        "metastases_at_presentation": "yes" if mets else "no",
        "radiotherapy": str(rng.choice(_RADIOTHERAPY, p=[0.25, 0.45, 0.30])),
    }
    return ClinicalRecord(values, age, sex, grade, deep, mets, diagnosis, volume_cm3,
                          phantom.necrotic_fraction)


def _covariates(rec: ClinicalRecord) -> dict[str, float]:
    return {
        "age10": (rec.age - 58) / 10.0,
        "grade2": float(rec.grade == 2),
        "grade3": float(rec.grade == 3),
        "mets": float(rec.mets),
        "log_volume": math.log(max(rec.volume_cm3, 1.0) / 100.0),
        "deep": float(rec.deep),
        "high_risk": float(rec.diagnosis in _HIGH_RISK),
        "necrosis": (rec.necrotic_fraction - NECROSIS_MEAN) / NECROSIS_SD,
    }


def log_hazards(rec: ClinicalRecord) -> tuple[float, float]:
    """Return the true OS and DM log-hazards (linear predictors) of one subject."""
    x = _covariates(rec)
    return (sum(OS_BETA[k] * x[k] for k in OS_BETA), sum(DM_BETA[k] * x[k] for k in DM_BETA))


def _weibull_time(rng: np.random.Generator, eta: float, median0: float, shape: float) -> float:
    scale = median0 / math.log(2.0) ** (1.0 / shape)
    return scale * (-math.log(1.0 - rng.random()) * math.exp(-eta)) ** (1.0 / shape)


def draw_outcomes(rng: np.random.Generator, rec: ClinicalRecord) -> dict[str, str]:
    """Draw censored OS and DM times (months) and event flags for one subject."""
    eta_os, eta_dm = log_hazards(rec)
    t_os = _weibull_time(rng, eta_os, median0=90.0, shape=1.2)
    t_dm = _weibull_time(rng, eta_dm, median0=70.0, shape=1.1)
    follow_up = min(rng.uniform(24.0, 120.0), rng.exponential(300.0))
    dm_end = min(t_os, follow_up)  # death censors distant metastasis
    os_event, dm_event = t_os <= follow_up, t_dm <= dm_end
    return {
        "os_months": f"{min(t_os, follow_up):.1f}",
        "os_event": "1" if os_event else "0",
        "dm_months": f"{min(t_dm, dm_end):.1f}",
        "dm_event": "1" if dm_event else "0",
    }

"""Synthetic sarcoma cohorts: the test data and demo data of the whole project.

Everything here is synthetic and generated from a seed: DICOM T1/T2 MR series of a
thigh-like phantom with a tumour, OHIF-style SEG and RTSTRUCT annotations, clinical
variables and outcomes from a known hazard, and headers full of invented PHI (on
purpose, to test de-identification). Regenerate with
``sarcoma-xnat synth --subjects N --seed S --out DIR``.
"""

from sarcoma_xnat.synthetic.clinical import CLINICAL_FIELDS, OUTCOME_FIELDS
from sarcoma_xnat.synthetic.cohort import ROI_XSI_TYPE, SCANS, CohortManifest, generate_cohort

__all__ = [
    "CLINICAL_FIELDS",
    "CohortManifest",
    "OUTCOME_FIELDS",
    "ROI_XSI_TYPE",
    "SCANS",
    "generate_cohort",
]

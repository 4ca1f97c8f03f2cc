"""The de-identifier keeps a description's vocabulary that also names the patient's hospital."""

from __future__ import annotations

from pathlib import Path

import pydicom
from deidcorpus import load, write
from pydicom.uid import generate_uid

from sarcoma_xnat.deid import Deidentifier, deidentify_folder


def _mr(institution: str, study: str, series: str) -> pydicom.Dataset:
    ds = load("MR_small.dcm")
    ds.PatientID, ds.PatientName = "MRN300", "ADEBAYO^FOLAKE"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.InstitutionName = ds.IssuerOfPatientID = institution
    ds.InstitutionalDepartmentName = "Orthopaedic Oncology"
    ds.StudyDescription, ds.SeriesDescription = study, series
    return ds


def test_disease_words_of_the_institution_stay_in_descriptions(
        tmp_path: Path, deidentifier: Deidentifier) -> None:
    write(_mr("St Winifred Sarcoma Centre", "MR THIGH SARCOMA PROTOCOL",
              "T1 Sarcoma staging Winifred"), tmp_path / "in" / "a.dcm")
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", deidentifier, jobs=1)
    out = pydicom.dcmread(report.written[0])
    assert str(out.StudyDescription) == "MR THIGH SARCOMA PROTOCOL"
    series = str(out.SeriesDescription)
    assert "Sarcoma staging" in series and "Winifred" not in series  # its own word still goes
    assert "ADEBAYO" not in str(out.PatientName)


def test_a_whole_place_name_and_person_parts_still_go(
        tmp_path: Path, deidentifier: Deidentifier) -> None:
    write(_mr("St Winifred Sarcoma Centre", "Referred by St Winifred Sarcoma Centre",
              "Folake knee Adebayo"), tmp_path / "in" / "a.dcm")
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", deidentifier, jobs=1)
    out = pydicom.dcmread(report.written[0])
    assert "Winifred" not in str(out.StudyDescription)
    assert "Sarcoma Centre" not in str(out.StudyDescription)
    assert "Folake" not in str(out.SeriesDescription) and "Adebayo" not in str(out.SeriesDescription)

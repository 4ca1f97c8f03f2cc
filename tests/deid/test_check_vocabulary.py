"""``deid check``: ordinary words of an institution are no survivors; its own words and name are."""

from __future__ import annotations

from pathlib import Path

import pydicom
from deidcorpus import load, write
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from sarcoma_xnat.deid import Deidentifier, deidentify_folder
from sarcoma_xnat.deid.check import check_folders


def _mr(patient_id: str, name: str, institution: str, description: str) -> Dataset:
    ds = load("MR_small.dcm")
    ds.PatientID, ds.PatientName = patient_id, name
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.InstitutionName = ds.IssuerOfPatientID = institution  # the hospital issues the IDs
    ds.InstitutionalDepartmentName = "Department of Radiology"
    ds.ReferringPhysicianName = "OKONKWO^ADAEZE"
    ds.StudyDescription = description
    ds.SeriesDescription = "T1 AX sarcoma protocol"
    return ds


def _by_hand(original: Path, output: Path, **changes: str) -> None:
    """Write what a correct de-identifier keeps of ``original`` (descriptions), and ``changes``."""
    source = pydicom.dcmread(original, stop_before_pixels=True)
    ds = Dataset()
    ds.SOPClassUID, ds.Modality = source.SOPClassUID, source.Modality
    ds.PatientName = ds.PatientID = "SXN0001"
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "2.25.11", "2.25.12", "2.25.13"
    ds.StudyDescription, ds.SeriesDescription = source.StudyDescription, source.SeriesDescription
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    write(ds, output)


def _survivors(src: Path, out: Path) -> list[tuple[str, str]]:
    return [(f.where, f.detail) for f in check_folders(src, out).survivors]


def test_a_disease_word_of_the_institution_in_a_description_is_no_survivor(
        tmp_path: Path) -> None:
    original = write(_mr("MRN100", "CHASE^ROBERT", "Rizzoli Sarcoma Centre",
                         "Sarcoma staging MR thigh"), tmp_path / "in" / "a.dcm")
    _by_hand(original, tmp_path / "out" / "a.dcm")
    kept = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    assert "Sarcoma" in kept.StudyDescription and "sarcoma" in kept.SeriesDescription
    assert _survivors(tmp_path / "in", tmp_path / "out") == []


def test_the_institutions_own_word_or_whole_name_is_a_survivor(tmp_path: Path) -> None:
    original = write(_mr("MRN100", "CHASE^ROBERT", "Rizzoli Sarcoma Centre",
                         "Sarcoma staging MR thigh"), tmp_path / "in" / "a.dcm")
    _by_hand(original, tmp_path / "word" / "a.dcm", StudyDescription="Sarcoma staging Rizzoli")
    assert _survivors(tmp_path / "in", tmp_path / "word") == [
        ("StudyDescription", "value of InstitutionName of a.dcm")]
    _by_hand(original, tmp_path / "whole" / "a.dcm", InstitutionName="Rizzoli Sarcoma Centre")
    assert ("InstitutionName", "value of InstitutionName of a.dcm") in _survivors(
        tmp_path / "in", tmp_path / "whole")
    _by_hand(original, tmp_path / "staff" / "a.dcm", ImageComments="seen by okonkwo")
    assert _survivors(tmp_path / "in", tmp_path / "staff") == [
        ("ImageComments", "value of ReferringPhysicianName of a.dcm")]


def test_one_patients_institution_word_in_anothers_description_after_deid(
        tmp_path: Path, deidentifier: Deidentifier) -> None:
    """The benchmark's case: the pools are per patient, the check's values are global."""
    write(_mr("MRN100", "CHASE^ROBERT", "St Winifred Sarcoma Centre", "MR thigh"),
          tmp_path / "in" / "p1" / "a.dcm")
    write(_mr("MRN200", "WILSON^JAMES", "Royal Marlowe Infirmary", "Sarcoma staging MR"),
          tmp_path / "in" / "p2" / "b.dcm")
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", deidentifier, jobs=1)
    descriptions = {str(pydicom.dcmread(p).StudyDescription) for p in report.written}
    assert "Sarcoma staging MR" in descriptions
    result = check_folders(tmp_path / "in", tmp_path / "out")
    assert result.outputs == 2 and result.findings == []


def test_an_incomplete_deidentification_is_still_caught(tmp_path: Path) -> None:
    original = write(_mr("MRN100", "CHASE^ROBERT", "St Winifred Sarcoma Centre",
                         "Sarcoma staging MR"), tmp_path / "in" / "a.dcm")
    ds = pydicom.dcmread(original)  # a naive tool: the patient's identity only
    ds.PatientName, ds.PatientID = "ANON", "ANON"
    write(ds, tmp_path / "naive" / "a.dcm")
    where = {w for w, _ in _survivors(tmp_path / "in", tmp_path / "naive")}
    assert {"InstitutionName", "ReferringPhysicianName", "StudyInstanceUID"} <= where
    assert "InstitutionalDepartmentName" not in where  # "Department of Radiology": vocabulary
    assert "StudyDescription" not in where and "SeriesDescription" not in where

"""ROI collections through /xapi/roi, assessors from XML, DICOM import and the prearchive."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.errors import ObjectNotFoundError, XnatError
from sarcoma_xnat.synthetic import generate_cohort
from sarcoma_xnat.xnat import ROI_XSI_TYPE


def _dicom_series(folder: Path, n_series: int = 2, n_files: int = 2) -> Path:
    study = generate_uid()
    for s in range(1, n_series + 1):
        series = generate_uid()
        for i in range(n_files):
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = pydicom.Dataset()
            ds.file_meta = meta
            ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.SeriesNumber, ds.InstanceNumber = s, i + 1
            ds.SeriesDescription, ds.Modality = f"T{s} AX", "MR"
            ds.PatientName, ds.PatientID, ds.StudyDate = "PSEUDO^ONE", "PSEUDO1", "20240301"
            folder.mkdir(parents=True, exist_ok=True)
            ds.save_as(folder / f"s{s}_{i}.dcm", enforce_file_format=True)
    return folder


@pytest.fixture
def cohort(emulator, client):
    """The lead's synthetic cohort (1 subject), seeded into the emulator's archive."""
    generate_cohort(emulator.archive, project="SYNTH", n_subjects=1, seed=0, preset="small")
    return ObjectRef("SYNTH", "SYN001", "SYN001_MR1")


def test_roi_upload_list_download_overwrite(emulator, client, cohort, tmp_path: Path):
    seg = emulator.archive.resource_path(cohort.child(assessor="SYN001_MR1_SEG"), "SEG") \
        / "SYN001_MR1_SEG.dcm"
    ident = client.roi.upload(cohort, "ANNOT1", seg, "SEG")
    cols = {c.label: c for c in client.roi.list(cohort)}
    assert cols["ANNOT1"].id == ident and cols["ANNOT1"].collection_type == "SEG"
    assert cols["ANNOT1"].series_uids  # read from the SEG's references
    rows = client.assessors.list(cohort, ROI_XSI_TYPE)
    assert "ANNOT1" in [r["label"] for r in rows]
    path = client.roi.download("SYNTH", "ANNOT1", tmp_path, "SEG")
    assert path.read_bytes() == seg.read_bytes()
    with pytest.raises(XnatError) as info:
        client.roi.upload(cohort, "ANNOT1", seg, "SEG")
    assert info.value.status == 422 and info.value.context["assessor"] == "ANNOT1"
    assert client.roi.upload(cohort, "ANNOT1", seg, "SEG", overwrite=True) == ident
    assert [c.label for c in client.roi.list(cohort)].count("ANNOT1") == 1
    client.roi.delete("SYNTH", "ANNOT1")
    assert "ANNOT1" not in [c.label for c in client.roi.list(cohort)]


def test_missing_collection_is_422_and_read_as_not_found(emulator, client, cohort, tmp_path: Path):
    """OhifRoiApi: GET "Bad ID or label" and DELETE "not valid for project" are 422, not 404."""
    import requests

    base = f"{emulator.url}/xapi/roi/projects/SYNTH/collections/NOPE"
    assert requests.get(base, auth=("admin", "admin-pass"), timeout=10).status_code == 422
    assert requests.delete(base, auth=("admin", "admin-pass"), timeout=10).status_code == 422
    with pytest.raises(ObjectNotFoundError, match="no ROI collection 'NOPE'"):
        client.roi.download("SYNTH", "NOPE", tmp_path, "SEG")
    client.roi.delete("SYNTH", "NOPE")  # a missing one is not an error


def test_roi_of_another_study_is_refused(emulator, client, cohort, tmp_path: Path):
    other = _dicom_series(tmp_path / "other", 1, 1) / "s1_0.dcm"
    with pytest.raises(XnatError) as info:
        client.roi.upload(cohort, "WRONG", other, "SEG")
    assert info.value.status == 422 and "does not match the session" in str(info.value)


def test_assessor_from_xml(emulator, client, cohort):
    xml = ('<?xml version="1.0"?><xnat:qcAssessmentData xmlns:xnat="http://nrg.wustl.edu/xnat" '
           'label="QC1" project="SYNTH"><xnat:rating>pass</xnat:rating></xnat:qcAssessmentData>')
    ref = client.assessors.create_from_xml(cohort, "QC1", xml)
    item = client.assessors.get(ref)
    assert item.xsi_type == "xnat:qcAssessmentData" and item.data["rating"] == "pass"
    assert [r["label"] for r in client.assessors.list(cohort, "xnat:qcAssessmentData")] == ["QC1"]


def test_dicom_import_into_given_labels(emulator, client, tmp_path: Path):
    client.objects.create(ObjectRef("P"), "xnat:projectData")
    src = _dicom_series(tmp_path / "dicom")
    uri = client.imports.import_dicom(src, "P", "SUBJ01", "SUBJ01_MR1")
    assert uri == "/data/archive/projects/P/subjects/SUBJ01/experiments/SUBJ01_MR1"
    sess = ObjectRef("P", "SUBJ01", "SUBJ01_MR1")
    assert [r["ID"] for r in client.objects.scans(sess)] == ["1", "2"]
    # a re-import replaces the session (overwrite=delete), never duplicates scans or files
    client.imports.import_dicom(src, "P", "SUBJ01", "SUBJ01_MR1")
    assert len(emulator.archive.resources(sess.child(scan="1"))[0].files) == 2
    with pytest.raises(XnatError) as info:
        client.imports.import_dicom(src, "P", "SUBJ01", "SUBJ01_MR1", overwrite="none")
    assert info.value.status == 409


def test_prearchive_then_archive(emulator, client, tmp_path: Path):
    client.objects.create(ObjectRef("P"), "xnat:projectData")
    uri = client.imports.import_dicom(_dicom_series(tmp_path / "d", 1), "P", "S2", "S2_MR",
                                      to_prearchive=True)
    assert uri.startswith("/data/prearchive/projects/P/")
    (row,) = client.imports.prearchive("P")
    assert row["status"] == "READY" and row["name"] == "S2_MR"
    ref = client.imports.archive(row["url"])
    assert ref == ObjectRef("P", "S2", "S2_MR")
    assert client.imports.prearchive("P") == []
    assert client.objects.exists(ref)


def test_empty_import_is_refused(emulator, client, tmp_path: Path):
    client.objects.create(ObjectRef("P"), "xnat:projectData")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.txt").write_text("not dicom")
    with pytest.raises(XnatError) as info:
        client.imports.import_dicom(tmp_path / "junk", "P", "S", "S_MR")
    assert info.value.status == 400 and "parseable" in str(info.value)


"""XNAT as its source behaves: catalog UIDs from the importer only, duplicate uploads, merges.

* The ROI plugin refuses a collection whose instances are not in the scans' catalog
  entries (ICR plugin ``DefaultCollectionStorage.checkDependencies``); only XNAT's
  DICOM importer writes those entries.
* ``gradual-DICOM`` ignores ``dest`` (xnat-web ``Importer``); a zip honours it.
* A file PUT without ``overwrite=true`` on an existing file is 200 and keeps the old
  file (xnat-web ``FileList.handlePost``).
* An assessor XML PUT merges unless ``allowDataDeletion=true`` (xnat-web
  ``SubjAssessmentResource``/``ExptAssessmentResource``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.errors import ArchiveError, XnatError
from sarcoma_xnat.synthetic import generate_cohort
from sarcoma_xnat.xnat import ResourceRef

SESSION = ObjectRef("SYNTH", "SYN001", "SYN001_MR1")


@pytest.fixture
def cohort_files(tmp_path: Path) -> Path:
    """A synthetic session's files, read from a local cohort: ``<scan>/*.dcm`` and ``SEG.dcm``."""
    from sarcoma_xnat.archive import LocalArchive

    local = LocalArchive(tmp_path / "local")
    generate_cohort(local, project="SYNTH", n_subjects=1, seed=0, preset="small")
    out = tmp_path / "files"
    for scan in ("1", "2"):
        local.fetch_resource(SESSION.child(scan=scan), "DICOM", out / scan)
    seg = SESSION.child(assessor="SYN001_MR1_SEG")
    local.fetch_resource(seg, "SEG", out / "seg")
    shutil.move(next((out / "seg").iterdir()), out / "SEG.dcm")
    return out


def _session_uid(folder: Path) -> str:
    import pydicom

    return str(pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True).StudyInstanceUID)


def _series_uid(folder: Path) -> str:
    import pydicom

    return str(pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True).SeriesInstanceUID)


def _make_session(client, files: Path) -> None:
    client.objects.create(ObjectRef("SYNTH"), "xnat:projectData")
    client.objects.create_subject("SYNTH", "SYN001")
    client.objects.create_session("SYNTH", "SYN001", "SYN001_MR1",
                                  attrs={"UID": _session_uid(files / "1")})
    for scan in ("1", "2"):
        client.objects.create(SESSION.child(scan=scan), "xnat:mrScanData",
                              attrs={"type": "T", "UID": _series_uid(files / scan)})


def test_roi_refused_after_rest_upload_accepted_after_import(emulator, client, cohort_files):
    _make_session(client, cohort_files)
    for scan in ("1", "2"):
        client.files.upload_folder(ResourceRef(SESSION.child(scan=scan), "DICOM"),
                                   cohort_files / scan, format="DICOM")
    with pytest.raises(XnatError) as info:
        client.roi.upload(SESSION, "ANNOT", cohort_files / "SEG.dcm", "SEG")
    assert info.value.status == 422 and "Missing dependencies: SOP instance UID" in str(info.value)
    assert client.roi.list(SESSION) == []  # checked before anything is saved
    for scan in ("1", "2"):
        client.imports.import_scan(SESSION.child(scan=scan), cohort_files / scan)
    assert client.roi.upload(SESSION, "ANNOT", cohort_files / "SEG.dcm", "SEG")
    assert [c.label for c in client.roi.list(SESSION)] == ["ANNOT"]


def test_roi_of_unknown_series_is_refused(emulator, client, cohort_files):
    _make_session(client, cohort_files)
    client.objects.delete(SESSION.child(scan="1"))  # the SEG refers to the T1 series
    with pytest.raises(XnatError) as info:
        client.roi.upload(SESSION, "ANNOT", cohort_files / "SEG.dcm", "SEG")
    assert info.value.status == 422 and "Missing dependencies: series UID" in str(info.value)


def test_single_file_import_honours_dest(emulator, client, cohort_files):
    client.objects.create(ObjectRef("P"), "xnat:projectData")
    one = next((cohort_files / "1").glob("*.dcm"))
    uri = client.imports.import_dicom(one, "P", "S1", "S1_MR")
    assert uri == "/data/archive/projects/P/subjects/S1/experiments/S1_MR"
    assert client.imports.prearchive("P") == []
    # the gradual-DICOM handler itself ignores dest: the file lands in the prearchive
    with open(one, "rb") as fh:
        text = client.session.post("/data/services/import", params={
            "import-handler": "gradual-DICOM", "inbody": "true", "project": "P",
            "dest": "/archive/projects/P/subjects/S2/experiments/S2_MR"}, data=fh).text
    assert text.strip().startswith("/data/prearchive/projects/P/")
    assert not client.objects.exists(ObjectRef("P", "S2", "S2_MR"))


def test_file_put_without_overwrite_keeps_the_old_file(emulator, client, tmp_path: Path):
    client.objects.create(ObjectRef("P"), "xnat:projectData")
    res = ResourceRef(ObjectRef("P"), "NOTES")
    (tmp_path / "a.txt").write_text("old")
    client.files.upload_file(res, tmp_path / "a.txt")
    (tmp_path / "a.txt").write_text("new!")
    raw = client.session.put(f"{res.files_path}/a.txt", params={"inbody": "true"},
                             data=b"new!")
    assert raw.status_code == 200 and "duplicates" in raw.text
    assert (emulator.archive.resource_path(ObjectRef("P"), "NOTES") / "a.txt").read_text() == "old"
    with pytest.raises(ArchiveError, match="kept the old file"):
        client.files.upload_file(res, tmp_path / "a.txt", overwrite=False)
    client.files.upload_file(res, tmp_path / "a.txt")  # overwrite=True is the default
    assert (emulator.archive.resource_path(ObjectRef("P"), "NOTES") / "a.txt").read_text() == "new!"


def _qc_xml(**fields: str) -> str:
    body = "".join(f"<xnat:{k}>{v}</xnat:{k}>" for k, v in fields.items())
    return ('<?xml version="1.0"?><xnat:qcAssessmentData xmlns:xnat="http://nrg.wustl.edu/xnat" '
            f'label="QC1" project="P">{body}</xnat:qcAssessmentData>')


def test_assessor_xml_put_merges_and_create_from_xml_replaces(emulator, client):
    client.objects.create(ObjectRef("P"), "xnat:projectData")
    client.objects.create_subject("P", "S")
    client.objects.create_session("P", "S", "S_MR")
    sess = ObjectRef("P", "S", "S_MR")
    ref = sess.child(assessor="QC1")
    headers = {"Content-Type": "text/xml"}
    path = "/data/projects/P/subjects/S/experiments/S_MR/assessors/QC1"
    for xml in (_qc_xml(rating="pass", note="first"), _qc_xml(rating="fail")):
        client.session.put(path, params={"inbody": "true", "xsiType": "xnat:qcAssessmentData"},
                           data=xml.encode(), headers=headers)
    data = client.assessors.get(ref).data
    assert (data["rating"], data.get("note")) == ("fail", "first")  # merged: note kept
    client.assessors.create_from_xml(sess, "QC1", _qc_xml(rating="pass"))
    data = client.assessors.get(ref).data
    assert data["rating"] == "pass" and "note" not in data  # replaced

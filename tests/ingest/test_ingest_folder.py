"""Ingest a folder of exports: pseudonymised labels, scans and ROI collections, no PHI, atomic."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.cli import main
from sarcoma_xnat.deid import Deidentifier, LinkageFile, find_phi
from sarcoma_xnat.errors import ArchiveError
from sarcoma_xnat.ingest import ROI_XSI_TYPE, ingest_archive, ingest_folder
from sarcoma_xnat.synthetic import CLINICAL_FIELDS


def _patient_ids(folder: Path) -> set[str]:
    return {str(pydicom.dcmread(p, stop_before_pixels=True).PatientID)
            for p in folder.rglob("*.dcm")}


def test_ingest_stores_each_study_under_pseudonyms(export_dir: Path, tmp_path: Path,
                                                   deidentifier: Deidentifier,
                                                   phi: list[str]) -> None:
    archive = LocalArchive(tmp_path / "study-archive")
    linkage = LinkageFile(tmp_path / "linkage.csv")
    report = ingest_folder(export_dir, archive, "STUDY", deidentifier, linkage)
    assert report.ok and len(report.stored) == 2
    assert report.files == len(list(export_dir.rglob("*.dcm")))
    expected = {deidentifier.key.pseudonym(pid) for pid in _patient_ids(export_dir)}
    subjects = {s.label for s in archive.children(ObjectRef("STUDY"), "subject")}
    assert subjects == expected
    for ref in report.stored:
        assert ref.session.startswith(f"{ref.subject}_MR_")
        scans = archive.children(ref, "scan")
        assert [s.label for s in scans] == ["1", "2"]
        assert {s.attrs["type"] for s in scans} == {"T1 AX POST GD", "T2 AX FS"}
        assert all(archive.resources(s.ref)[0].label == "DICOM" for s in scans)
        rois = {a.attrs["collectionType"]: a for a in archive.children(ref, "assessor")}
        assert set(rois) == {"SEG", "RTSTRUCT"}
        t1_uid = next(s.attrs["UID"] for s in scans if s.label == "1")
        for kind, roi in rois.items():
            assert roi.xsi_type == ROI_XSI_TYPE and roi.attrs["name"] == "Tumour"
            assert roi.attrs["references"] == [t1_uid]
            assert archive.resources(roi.ref)[0].files == (f"{roi.label}.dcm",)
    assert find_phi(archive.root, phi) == []
    assert sorted(linkage.pseudonyms()) == sorted(expected)


def test_a_study_with_a_broken_file_is_not_stored_and_the_other_is(
        export_dir: Path, tmp_path: Path, deidentifier: Deidentifier) -> None:
    patients = sorted(p for p in export_dir.iterdir())
    victim = sorted(patients[0].rglob("*.dcm"))[3]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    (export_dir / "README.txt").write_text("exported by the PACS workstation")
    archive = LocalArchive(tmp_path / "study-archive")
    report = ingest_folder(export_dir, archive, "STUDY", deidentifier)
    assert not report.ok
    assert len(report.stored) == 1 and len(report.failed) == 1
    # files are named by their position among the sorted input files, never by their path
    files = sorted(p for p in export_dir.rglob("*") if p.is_file())
    assert any(reason.startswith(f"#{files.index(victim) + 1}: ") and "truncated" in reason
               for reason in report.failed[0].reasons)
    assert [s.file for s in report.skipped] == [f"#{files.index(export_dir / 'README.txt') + 1}"]
    assert not any(victim.name in r or patients[0].name in r for r in report.failed[0].reasons)
    broken_subject = deidentifier.key.pseudonym(_patient_ids(patients[0]).pop())
    assert not archive.exists(ObjectRef("STUDY", broken_subject))


def test_a_failure_while_storing_leaves_nothing_behind(export_dir: Path, tmp_path: Path,
                                                       deidentifier: Deidentifier,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    archive = LocalArchive(tmp_path / "study-archive")
    calls = {"n": 0}
    original = archive.store_resource

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:  # the first study's first ROI collection
            raise ArchiveError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(archive, "store_resource", flaky)
    report = ingest_folder(export_dir, archive, "STUDY", deidentifier)
    assert len(report.failed) == 1 and "disk full" in report.failed[0].reasons[0]
    assert len(report.stored) == 1
    assert len(archive.children(ObjectRef("STUDY"), "subject")) == 1


def test_ingesting_twice_gives_the_same_archive(export_dir: Path, tmp_path: Path,
                                                deidentifier: Deidentifier) -> None:
    archive = LocalArchive(tmp_path / "study-archive")
    ingest_folder(export_dir, archive, "STUDY", deidentifier)
    before = {p.relative_to(archive.root): p.read_bytes()
              for p in archive.root.rglob("*.dcm")}
    ingest_folder(export_dir, archive, "STUDY", deidentifier)
    after = {p.relative_to(archive.root): p.read_bytes() for p in archive.root.rglob("*.dcm")}
    assert before == after


def test_ingest_archive_copies_clinical_fields(small_cohort, tmp_path: Path,  # type: ignore[no-untyped-def]
                                               deidentifier: Deidentifier,
                                               phi: list[str]) -> None:
    source, manifest = small_cohort
    dest = LocalArchive(tmp_path / "study-archive")
    report = ingest_archive(source, manifest.project, dest, "STUDY", deidentifier,
                            fields=CLINICAL_FIELDS)
    assert report.ok and len(report.stored) == len(manifest.subjects)
    for subject in manifest.subjects:
        original = source.get(ObjectRef(manifest.project, subject))
        pid = str(pydicom.dcmread(next(source.path(original.ref).rglob("*.dcm")),
                                  stop_before_pixels=True).PatientID)
        copy = dest.get(ObjectRef("STUDY", deidentifier.key.pseudonym(pid)))
        assert copy.fields == {k: original.fields[k] for k in CLINICAL_FIELDS}
    assert find_phi(dest.root, phi) == []


def test_cli_ingest_folder(export_dir: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "secret"
    secret.write_text("ingest-test-secret-0123456789abcd")
    audit = tmp_path / "audit.jsonl"
    status = main(["ingest", "folder", str(export_dir), "--archive", str(tmp_path / "a"),
                   "--project", "STUDY", "--secret-file", str(secret), "--audit-log", str(audit)])
    assert status == 0
    assert "stored 2 studies" in capsys.readouterr().out
    assert '"studies_stored": 2' in audit.read_text()

"""Ingest pools identifying values per study: a name in one series is scrubbed from another."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.cli import main
from sarcoma_xnat.deid import Deidentifier
from sarcoma_xnat.ingest import ingest_folder

STUDY = generate_uid()


def _series(folder: Path, number: int, description: str, operator: str | None) -> None:
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.PatientID, ds.PatientName = "MRN5550001", "CHASE^ROBERT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY, generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesNumber, ds.SeriesDescription = number, description
    if operator is None:
        del ds.OperatorsName
    else:
        ds.OperatorsName = operator
    folder.mkdir(parents=True)
    ds.save_as(folder / "1.dcm", enforce_file_format=True)


@pytest.fixture
def two_series(tmp_path: Path) -> Path:
    """Series A names its operator (a PN); series B names her only in its description."""
    source = tmp_path / "export"
    _series(source / "A", 1, "T1 AX", "THISTLEBRAMBLE^ODILE")
    _series(source / "B", 2, "T2 AX Thistlebramble protocol", None)
    return source


def _stored_descriptions(root: Path) -> list[str]:
    return sorted(str(pydicom.dcmread(p, stop_before_pixels=True).SeriesDescription)
                  for p in root.rglob("*.dcm"))


def test_a_name_from_series_a_is_scrubbed_from_series_b(two_series: Path, tmp_path: Path,
                                                        deidentifier: Deidentifier) -> None:
    archive = LocalArchive(tmp_path / "archive")
    report = ingest_folder(two_series, archive, "STUDY", deidentifier, jobs=1)
    assert report.ok and report.files == 2
    descriptions = _stored_descriptions(archive.root)
    assert len(descriptions) == 2 and descriptions[0] == "T1 AX"
    assert "thistlebramble" not in descriptions[1].lower()
    assert descriptions[1].startswith("T2 AX")  # the vocabulary is kept
    scans = archive.children(ObjectRef("STUDY", deidentifier.key.pseudonym("MRN5550001"),
                                       report.stored[0].session), "scan")
    assert [s.label for s in scans] == ["1", "2"]


def test_cli_ingest_and_jobs_give_the_same_archive(two_series: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("ingest-test-secret-0123456789abcd")
    stored = {}
    for jobs in ("1", "2"):
        root = tmp_path / f"archive-{jobs}"
        assert main(["ingest", "folder", str(two_series), "--archive", str(root), "--project",
                     "STUDY", "--secret-file", str(secret), "--jobs", jobs]) == 0
        stored[jobs] = {p.relative_to(root): p.read_bytes() for p in root.rglob("*.dcm")}
        assert all(b"Thistlebramble" not in data and b"THISTLEBRAMBLE" not in data
                   for data in stored[jobs].values())
    assert len(stored["1"]) == 2 and stored["1"] == stored["2"]

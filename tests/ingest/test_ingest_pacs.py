"""PACS round trip against a real Orthanc: C-STORE in, C-FIND and C-MOVE out, ingest."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.cli import main
from sarcoma_xnat.deid import Deidentifier, find_phi
from sarcoma_xnat.errors import PacsError
from sarcoma_xnat.ingest import PacsNode, StudyQuery, find_studies, ingest_pacs

pytestmark = pytest.mark.pacs


def test_find_move_and_ingest_one_patient(orthanc, export_dir: Path,  # type: ignore[no-untyped-def]
                                          tmp_path: Path, deidentifier: Deidentifier,
                                          phi: list[str]) -> None:
    node = PacsNode("127.0.0.1", orthanc.dicom_port, orthanc.aet)
    patient_dir = sorted(export_dir.iterdir())[0]
    files = sorted(patient_dir.rglob("*.dcm"))
    patient_id = str(pydicom.dcmread(files[0], stop_before_pixels=True).PatientID)

    assert len(find_studies(node, StudyQuery(study_date="19000101-20991231"))) == 2
    matches = find_studies(node, StudyQuery(patient_id=patient_id))
    assert len(matches) == 1 and int(matches[0].NumberOfStudyRelatedInstances) == len(files)

    archive = LocalArchive(tmp_path / "study-archive")
    report = ingest_pacs(node, StudyQuery(patient_id=patient_id), archive, "STUDY", deidentifier,
                         listen_port=orthanc.move_port, timeout=30)
    assert report.ok and len(report.stored) == 1 and report.files == len(files)
    subject = deidentifier.key.pseudonym(patient_id)
    assert [s.label for s in archive.children(ObjectRef("STUDY"), "subject")] == [subject]
    session = report.stored[0]
    assert [s.label for s in archive.children(session, "scan")] == ["1", "2"]
    assert {a.attrs["collectionType"] for a in archive.children(session, "assessor")} == \
        {"SEG", "RTSTRUCT"}
    assert find_phi(archive.root, phi) == []


def test_cli_ingest_pacs_by_date(orthanc, export_dir: Path,  # type: ignore[no-untyped-def]
                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "secret"
    secret.write_text("ingest-test-secret-0123456789abcd")
    status = main(["ingest", "pacs", "--host", "127.0.0.1", "--port", str(orthanc.dicom_port),
                   "--called-ae", orthanc.aet, "--listen-port", str(orthanc.move_port),
                   "--date", "19000101-20991231", "--archive", str(tmp_path / "a"),
                   "--project", "STUDY", "--secret-file", str(secret), "--timeout", "30"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "stored 2 studies" in out


def test_an_unknown_calling_ae_fails_and_stores_nothing(  # type: ignore[no-untyped-def]
        orthanc, export_dir: Path, tmp_path: Path,
        deidentifier: Deidentifier) -> None:
    node = PacsNode("127.0.0.1", orthanc.dicom_port, orthanc.aet)
    archive = LocalArchive(tmp_path / "study-archive")
    with pytest.raises(PacsError, match=orthanc.aet):  # Orthanc does not know this AE
        ingest_pacs(node, StudyQuery(study_date="19000101-20991231"), archive, "STUDY",
                    deidentifier, calling_ae="STRANGER", listen_port=orthanc.move_port,
                    timeout=10)
    assert not archive.exists(ObjectRef("STUDY"))


def test_a_failed_move_stores_nothing(orthanc, tmp_path: Path,  # type: ignore[no-untyped-def]
                                      deidentifier: Deidentifier) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free_port = sock.getsockname()[1]
    node = PacsNode("127.0.0.1", orthanc.dicom_port, orthanc.aet)
    archive = LocalArchive(tmp_path / "study-archive")
    # our SCP listens elsewhere than where Orthanc sends: every C-STORE sub-operation fails
    with pytest.raises(PacsError, match="C-MOVE .* failed"):
        ingest_pacs(node, StudyQuery(study_date="19000101-20991231"), archive, "STUDY",
                    deidentifier, listen_port=free_port, timeout=10)
    assert not archive.exists(ObjectRef("STUDY"))


def test_a_query_that_matches_nothing_is_an_error(orthanc, export_dir: Path,  # type: ignore[no-untyped-def]
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "secret"
    secret.write_text("ingest-test-secret-0123456789abcd")
    status = main(["ingest", "pacs", "--host", "127.0.0.1", "--port", str(orthanc.dicom_port),
                   "--called-ae", orthanc.aet, "--listen-port", str(orthanc.move_port),
                   "--patient-id", "NO-SUCH-PATIENT-42", "--archive", str(tmp_path / "a"),
                   "--project", "STUDY", "--secret-file", str(secret), "--timeout", "30"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "found no study matching the query (patient_id)" in err
    assert "NO-SUCH-PATIENT-42" not in err  # the query's values may be PHI
    assert not (tmp_path / "a").exists()

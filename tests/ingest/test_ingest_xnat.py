"""``ingest folder --xnat``: studies imported through the import service, ROIs through /xapi/roi."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ holds xnat_emulator

from xnat_emulator import XnatEmulator  # noqa: E402

from sarcoma_xnat.archive import ObjectRef  # noqa: E402
from sarcoma_xnat.cli import main  # noqa: E402
from sarcoma_xnat.deid import find_phi  # noqa: E402
from sarcoma_xnat.xnat import ROI_XSI_TYPE, connect  # noqa: E402

SECRET = b"ingest-test-secret-0123456789abcd"  # the export fixture's key (conftest)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[XnatEmulator]:
    emu = XnatEmulator(tmp_path / "xnat", users={"alice": "alice-pass"}).start()
    try:
        yield emu
    finally:
        emu.stop()


def test_ingest_into_xnat_imports_dicom_and_uploads_rois(
        emulator: XnatEmulator, export_dir: Path, tmp_path: Path, phi: list[str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XNAT_USER", "alice")
    monkeypatch.setenv("XNAT_PASS", "alice-pass")
    monkeypatch.delenv("XNAT_HOST", raising=False)
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    emulator.archive.create(ObjectRef("STUDY"), "xnat:projectData")
    code = main(["ingest", "folder", str(export_dir), "--xnat", emulator.url,
                 "--project", "STUDY", "--secret-file", str(secret)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "stored 2 studies" in out.out
    # every series went through the DICOM importer, none as plain resource files
    assert emulator.count("POST", r"^/data/services/import$") == 4
    assert emulator.count("PUT", r"/scans/[^/]+/resources/DICOM/files/") == 0
    with connect(emulator.url, "alice", "alice-pass") as client:
        sessions = client.objects.sessions("STUDY")
        assert len(sessions) == 2
        for row in sessions:
            ref = ObjectRef("STUDY", str(row["subject_label"]), str(row["label"]))
            assert [s["ID"] for s in client.objects.scans(ref)] == ["1", "2"]
            rois = client.roi.list(ref)
            assert sorted(c.collection_type for c in rois) == ["RTSTRUCT", "SEG"]
            assert [r["label"] for r in client.assessors.list(ref, ROI_XSI_TYPE)]
    stored = emulator.archive.root / "projects" / "STUDY"
    assert find_phi(stored, phi) == []


def test_ingest_needs_one_destination(export_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["ingest", "folder", str(export_dir), "--project", "STUDY"])
    assert "--archive" in capsys.readouterr().err

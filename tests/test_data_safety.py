"""A mistyped flag must never cost data: every writing command checks its folders first.

Each test sets up the user's files, runs the command the way a typo would, and checks
that the command refused with ``error: …`` (exit 2) and that every file is intact.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.cli import EXIT_ERROR, main
from sarcoma_xnat.steps.base import stage_session
from sarcoma_xnat.synthetic import CohortManifest

SECRET = "test-site-secret-0123456789abcdef"


def _snapshot(root: Path) -> dict[str, str]:
    """Return relative path -> SHA-256 of every file under ``root``."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def session(small_cohort_template: tuple[Path, CohortManifest], tmp_path: Path) -> Path:
    """A hospital session (DICOM with planted PHI) staged at ``tmp_path/W/session``."""
    root, manifest = small_cohort_template
    return stage_session(LocalArchive(root), manifest.sessions[0], tmp_path / "W" / "session")


@pytest.fixture
def archive(small_cohort_template: tuple[Path, CohortManifest], tmp_path: Path) -> Path:
    """A private copy of the small synthetic archive."""
    dest = tmp_path / "archive"
    shutil.copytree(small_cohort_template[0], dest)
    return dest


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], *words: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == EXIT_ERROR, err
    assert err.startswith("error: ")
    for word in words:
        assert word in err
    return err


# -- preprocess ------------------------------------------------------------------------
def test_preprocess_output_containing_the_input_is_refused(
        session: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = session.parent
    (work / "notes.txt").write_text("unrelated work")
    before = _snapshot(work)
    _refused(["preprocess", "--input", str(session), "--output", str(work)], capsys,
             "contains the --input folder")
    assert _snapshot(work) == before


def test_preprocess_output_inside_the_input_or_equal_is_refused(
        session: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(session)
    _refused(["preprocess", "--input", str(session), "--output", str(session)], capsys,
             "is the --input folder")
    _refused(["preprocess", "--input", str(session), "--output", str(session / "SCANS")],
             capsys, "lies inside the --input folder")
    assert _snapshot(session) == before


def test_preprocess_through_a_symlink_is_still_the_input(
        session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "link"
    link.symlink_to(session.parent)
    before = _snapshot(session.parent)
    _refused(["preprocess", "--input", str(session), "--output", str(link)], capsys,
             "contains the --input folder")
    assert _snapshot(session.parent) == before


def test_preprocess_never_replaces_a_folder_it_did_not_write(
        session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "results"
    other.mkdir()
    (other / "thesis.docx").write_text("years of work")
    _refused(["preprocess", "--input", str(session), "--output", str(other)], capsys,
             "did not write")
    assert [p.name for p in other.iterdir()] == ["thesis.docx"]


def test_preprocess_missing_or_empty_input_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["preprocess", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "o")],
             capsys, "--input", "does not exist")
    (tmp_path / "empty").mkdir()
    _refused(["preprocess", "--input", str(tmp_path / "empty"), "--output", str(tmp_path / "o")],
             capsys, "is empty")
    assert not (tmp_path / "o").exists()


def test_preprocess_unwritable_output_fails_before_any_work(
        session: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["preprocess", "--input", str(session), "--output", "/proc/sarcoma-xnat-test/out"],
             capsys, "cannot write")


# -- deid --------------------------------------------------------------------------------
def test_deid_output_equal_to_input_keeps_the_originals(
        session: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SARCOMA_XNAT_SITE_SECRET", SECRET)
    before = _snapshot(session)
    _refused(["deid", "run", "--input", str(session), "--output", str(session)], capsys,
             "is the --input folder")
    assert _snapshot(session) == before


def test_deid_never_replaces_a_folder_it_did_not_write(
        session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SARCOMA_XNAT_SITE_SECRET", SECRET)
    other = tmp_path / "exports"
    other.mkdir()
    (other / "keep.dcm").write_bytes(b"the only copy")
    _refused(["deid", "run", "--input", str(session), "--output", str(other)], capsys,
             "did not write")
    assert (other / "keep.dcm").read_bytes() == b"the only copy"


def test_deid_linkage_file_inside_the_output_is_refused(
        session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the output is uploaded to XNAT: a linkage file (PatientIDs) there would leak them
    monkeypatch.setenv("SARCOMA_XNAT_SITE_SECRET", SECRET)
    out = tmp_path / "out"
    _refused(["deid", "run", "--input", str(session), "--output", str(out),
              "--linkage", str(out / "linkage.csv")], capsys, "--linkage", "inside the output")
    assert not out.exists()


def test_deid_twice_into_its_own_output_is_fine(
        session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SARCOMA_XNAT_SITE_SECRET", SECRET)
    out = tmp_path / "out"
    argv = ["deid", "run", "--input", str(session), "--output", str(out)]
    assert main(argv) == 0
    first = _snapshot(out)
    assert main(argv) == 0  # its own previous output (provenance.json) is replaced
    assert set(_snapshot(out)) == set(first)


# -- synth and demo -------------------------------------------------------------------------
def test_synth_with_zero_subjects_or_a_typo_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["synth", "--subjects", "0", "--out", str(tmp_path / "a")], capsys, "--subjects")
    assert not (tmp_path / "a").exists()
    _refused(["synth", "--subjects", "1", "--preset", "small", "--out",
              str(tmp_path / "typo" / "arch")], capsys, "does not exist")
    assert not (tmp_path / "typo").exists()


def test_synth_into_a_folder_of_other_files_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    _refused(["synth", "--subjects", "1", "--preset", "small", "--out", str(home)], capsys,
             "not a sarcoma-xnat archive")
    assert [p.name for p in home.iterdir()] == ["notes.txt"]


def test_demo_into_a_folder_of_other_files_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    (home / "archive").mkdir(parents=True)
    (home / "archive" / "scan.dcm").write_bytes(b"someone's data")
    before = _snapshot(home)
    _refused(["demo", "--folder", str(home), "--subjects", "1", "--preset", "small",
              "--engine", "inprocess"], capsys, "--folder", "did not write")
    assert _snapshot(home) == before


def test_demo_with_zero_subjects_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["demo", "--folder", str(tmp_path / "d"), "--subjects", "0"], capsys, "--subjects")
    assert not (tmp_path / "d").exists()


# -- ingest --------------------------------------------------------------------------------
def _ingest(*argv: str) -> list[str]:
    return ["ingest", *argv, "--project", "STUDY"]


def test_ingest_from_a_missing_folder_leaves_no_archive(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SARCOMA_XNAT_SITE_SECRET", SECRET)
    _refused(_ingest("folder", str(tmp_path / "nonexistent"), "--archive", str(tmp_path / "a")),
             capsys, "does not exist")
    assert not (tmp_path / "a").exists()


def test_ingest_into_a_mistyped_archive_creates_nothing(
        session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SARCOMA_XNAT_SITE_SECRET", SECRET)
    _refused(_ingest("folder", str(session), "--archive", str(tmp_path / "typo" / "arch")),
             capsys, "--archive", "does not exist")
    assert not (tmp_path / "typo").exists()


def test_ingest_archive_inside_the_source_is_refused(
        session: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SARCOMA_XNAT_SITE_SECRET", SECRET)
    before = _snapshot(session)
    _refused(_ingest("folder", str(session), "--archive", str(session / "archive")), capsys,
             "inside the source folder")
    assert _snapshot(session) == before


def test_ingest_pacs_on_a_closed_port_leaves_no_archive(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SARCOMA_XNAT_SITE_SECRET", SECRET)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends
    _refused(_ingest("pacs", "--host", "127.0.0.1", "--port", str(port), "--called-ae", "PACS",
                     "--date", "20200101", "--timeout", "5", "--archive", str(tmp_path / "a")),
             capsys)
    assert not (tmp_path / "a").exists()


# -- run, model train, fl -------------------------------------------------------------------
def test_run_on_a_mistyped_archive_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["run", "--command", "preprocess", "--archive", str(tmp_path / "arch"),
              "--target", "/archive/projects/P/subjects/S/experiments/E", "--engine",
              "inprocess"], capsys, "--archive", "does not exist")
    assert not (tmp_path / "arch").exists()


def test_model_train_output_in_the_archive_is_refused(
        archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    before = _snapshot(archive)
    _refused(["model", "train", "--archive", str(archive), "--project", "SYNTH", "--out",
              str(archive)], capsys, "is the --archive folder")
    _refused(["model", "train", "--archive", str(archive), "--project", "SYNTH", "--out",
              str(archive / "projects" / "model")], capsys, "lies inside the --archive folder")
    assert _snapshot(archive) == before


def test_model_train_never_writes_into_a_folder_of_other_files(
        archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "models"
    out.mkdir()
    (out / "model.pt").write_bytes(b"last year's model")
    _refused(["model", "train", "--archive", str(archive), "--project", "SYNTH", "--out",
              str(out)], capsys, "--out", "did not write")
    assert (out / "model.pt").read_bytes() == b"last year's model"


def test_fl_workspace_containing_a_site_archive_is_refused(
        archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(archive)
    _refused(["fl", "simulate", "--site", f"a={archive}:SYNTH", "--server-data",
              f"{archive}:SYNTH", "--workspace", str(archive.parent), "--rounds", "1"], capsys,
             "--workspace", "contains the --site a folder")
    assert _snapshot(archive) == before


def test_fl_workspace_of_other_files_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    (ws / "result").mkdir(parents=True)
    (ws / "result" / "paper.tex").write_text("draft")
    _refused(["fl", "poc", "--synthetic", "4", "--workspace", str(ws), "--rounds", "1"], capsys,
             "--workspace", "did not write")
    assert [p.name for p in ws.rglob("*")] == ["result", "paper.tex"]

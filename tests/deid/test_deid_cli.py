"""``sarcoma-xnat deid run|verify``: exit statuses, skipped files, secrets, linkage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sarcoma_xnat.cli import main
from sarcoma_xnat.deid import SECRET_ENV, find_phi


def test_bad_files_are_reported_skipped_and_fail_the_exit_status(
        session_dir: Path, secret_file: Path, tmp_path: Path, phi: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    t2 = sorted(session_dir.glob("SCANS/2/DICOM/*.dcm"))
    data = t2[0].read_bytes()
    t2[0].write_bytes(data[: len(data) - 500])                    # truncated
    (session_dir / "SCANS/2/DICOM/notes.txt").write_text("not an image")  # not DICOM
    out = tmp_path / "out"
    status = main(["deid", "run", "--input", str(session_dir), "--output", str(out),
                   "--secret-file", str(secret_file)])
    err = capsys.readouterr().err
    assert status == 1
    inputs = sorted(p for top in ("SCANS", "ASSESSORS") for p in (session_dir / top).rglob("*")
                    if p.is_file() and not p.name.endswith(".xml"))
    # reported by folders and position, never by the input file name (it may carry PHI)
    truncated = f"SCANS/2/DICOM/#{inputs.index(t2[0]) + 1}"
    not_dicom = f"SCANS/2/DICOM/#{inputs.index(session_dir / 'SCANS/2/DICOM/notes.txt') + 1}"
    assert f"skipped {truncated}: " in err and "truncated" in err
    assert f"skipped {not_dicom}: not a DICOM file" in err
    assert t2[0].name not in err and "notes.txt" not in err
    total = len(list(session_dir.rglob("*.dcm")))
    assert len(list(out.rglob("*.dcm"))) == total - 1
    assert find_phi(out, phi) == []


def test_file_and_folder_names_with_phi_are_renamed(session_dir: Path, secret_file: Path,
                                                    tmp_path: Path, phi: list[str]) -> None:
    import pydicom

    exports = tmp_path / "exports"
    first = pydicom.dcmread(next(session_dir.rglob("*.dcm")), stop_before_pixels=True)
    name = str(first.PatientName).replace("^", " ")  # e.g. "DOE JOHN"
    for index, path in enumerate(sorted(session_dir.rglob("*.dcm"))):
        folder = exports / f"{name} {first.PatientID}" / f"{first.PatientBirthDate}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / f"{name}_{index:03d}.dcm")
    assert [h for h in find_phi(exports, phi) if h.where == "name"]  # names do carry PHI
    out = tmp_path / "out"
    assert main(["deid", "run", "--input", str(exports), "--output", str(out),
                 "--secret-file", str(secret_file)]) == 0
    assert len(list(out.rglob("*.dcm"))) == len(list(exports.rglob("*.dcm")))
    assert find_phi(out, phi + [name]) == []


def test_missing_secret_is_a_configuration_error(session_dir: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    out = tmp_path / "out"
    assert main(["deid", "run", "--input", str(session_dir), "--output", str(out)]) == 2
    assert "no site secret" in capsys.readouterr().err
    assert not out.exists()


def test_secret_from_the_environment(session_dir: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "test-site-secret-0123456789abcdef")
    assert main(["deid", "run", "--input", str(session_dir), "--output",
                 str(tmp_path / "out")]) == 0


def test_verify_forward_and_reverse_through_the_linkage_file(
        session_dir: Path, secret_file: Path, tmp_path: Path,
        small_cohort_template, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    import pydicom

    original_id = str(pydicom.dcmread(next(session_dir.rglob("*.dcm"))).PatientID)
    linkage = tmp_path / "linkage.csv"
    out = tmp_path / "out"
    assert main(["deid", "run", "--input", str(session_dir), "--output", str(out),
                 "--secret-file", str(secret_file), "--linkage", str(linkage)]) == 0
    stored = str(pydicom.dcmread(next(out.rglob("*.dcm"))).PatientID)
    capsys.readouterr()
    assert main(["deid", "verify", "--secret-file", str(secret_file),
                 "--patient-id", original_id]) == 0
    assert capsys.readouterr().out.strip() == stored
    assert main(["deid", "verify", "--secret-file", str(secret_file), "--pseudonym", stored,
                 "--linkage", str(linkage)]) == 0
    assert capsys.readouterr().out.strip() == original_id
    assert oct(linkage.stat().st_mode & 0o777) == "0o600"
    other = tmp_path / "other.secret"
    other.write_text("a-completely-different-secret-xyz")
    assert main(["deid", "verify", "--secret-file", str(other), "--pseudonym", stored,
                 "--linkage", str(linkage)]) == 2

"""A wrong site secret must not silently give patients a second pseudonym."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from sarcoma_xnat.cli import EXIT_ERROR, main
from sarcoma_xnat.deid import SiteKey
from sarcoma_xnat.deid.linkage import LinkageFile
from sarcoma_xnat.errors import ConfigurationError

SECRET = b"test-site-secret-0123456789abcdef"  # the secret of conftest.secret_file

OTHER = b"another-site-secret-fedcba9876543210"


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_a_second_run_with_another_secret_is_refused(
        session_dir: Path, secret_file: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    linkage = tmp_path / "linkage.csv"
    assert main(["deid", "run", "--input", str(session_dir), "--output", str(tmp_path / "out1"),
                 "--secret-file", str(secret_file), "--linkage", str(linkage)]) == 0
    first = linkage.read_bytes()
    other = tmp_path / "other.secret"
    other.write_bytes(OTHER)
    capsys.readouterr()
    code = main(["deid", "run", "--input", str(session_dir), "--output", str(tmp_path / "out2"),
                 "--secret-file", str(other), "--linkage", str(linkage)])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "another site secret" in err and SiteKey(SECRET).fingerprint() in err
    assert linkage.read_bytes() == first  # no second pseudonym for the same patient
    assert not (tmp_path / "out2").exists()


def test_rows_carry_the_fingerprint_not_the_secret(tmp_path: Path) -> None:
    key = SiteKey(SECRET)
    path = tmp_path / "linkage.csv"
    LinkageFile(path, key).record(key.pseudonym("MRN1"), "MRN1")
    rows = _rows(path)
    assert rows[0] == ["pseudonym", "patient_id", "key_fingerprint"]
    assert rows[1] == [key.pseudonym("MRN1"), "MRN1", key.fingerprint()]
    assert SECRET not in path.read_bytes()
    assert SiteKey(OTHER).fingerprint() != key.fingerprint()


def test_an_old_two_column_file_is_checked_by_its_pseudonyms(tmp_path: Path) -> None:
    key = SiteKey(SECRET)
    path = tmp_path / "linkage.csv"
    path.write_text(f"pseudonym,patient_id\n{key.pseudonym('MRN1')},MRN1\n")
    LinkageFile(path, key).check_key()  # the right key reads it
    with pytest.raises(ConfigurationError, match="do not match this site secret"):
        LinkageFile(path, SiteKey(OTHER)).check_key()
    with pytest.raises(ConfigurationError, match="prefix 'XYZ'"):
        LinkageFile(path, SiteKey(SECRET, "XYZ")).check_key()
    LinkageFile(path, key).record(key.pseudonym("MRN2"), "MRN2")
    assert _rows(path)[-1] == [key.pseudonym("MRN2"), "MRN2"]  # the file keeps its form


def test_ingest_with_another_secret_is_refused_before_any_work(
        session_dir: Path, secret_file: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    key = SiteKey(SECRET)
    linkage = tmp_path / "linkage.csv"
    LinkageFile(linkage, key).record(key.pseudonym("MRN1"), "MRN1")
    other = tmp_path / "other.secret"
    other.write_bytes(OTHER)
    code = main(["ingest", "folder", str(session_dir), "--archive", str(tmp_path / "a"),
                 "--project", "STUDY", "--secret-file", str(other), "--linkage", str(linkage)])
    assert code == EXIT_ERROR and "another site secret" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_verify_with_a_missing_linkage_file_says_so(
        secret_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["deid", "verify", "--secret-file", str(secret_file), "--pseudonym", "SXN1",
                 "--linkage", str(tmp_path / "missing.csv")])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "does not exist" in err and "not in the linkage file" not in err


def test_the_audit_log_records_the_fingerprint(session_dir: Path, secret_file: Path,
                                               tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    assert main(["deid", "run", "--input", str(session_dir), "--output", str(tmp_path / "out"),
                 "--secret-file", str(secret_file), "--audit-log", str(audit)]) == 0
    record = json.loads(audit.read_text().splitlines()[-1])
    assert record["key_fingerprint"] == SiteKey(SECRET).fingerprint()
    assert SECRET.decode() not in audit.read_text()

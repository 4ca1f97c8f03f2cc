"""Clinical table: every bad cell reported, nothing written on error, round trip identical."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.cli import main
from sarcoma_xnat.deid.keys import SiteKey

SECRET = b"clinical-test-secret-0123456789"
HEADER = ("subject,age,sex,tumour_location,diagnosis,neoadjuvant_chemo,tumour_size_cm,"
          "tumour_volume_cm3,tumour_depth,tumour_grade,metastases_at_presentation,radiotherapy,"
          "os_months,os_event,dm_months,dm_event\n")


def _archive(tmp_path: Path, subjects: list[str]) -> LocalArchive:
    archive = LocalArchive(tmp_path / "archive")
    archive.create(ObjectRef("SARC01"))
    for label in subjects:
        archive.create(ObjectRef("SARC01", label))
    return archive


def _secret(tmp_path: Path) -> Path:
    path = tmp_path / "site.key"
    path.write_bytes(SECRET)
    return path


def test_round_trip_csv_fields_csv_is_identical(tmp_path: Path) -> None:
    table = HEADER + ("SXNA,63,M,thigh,UPS,no,11.2,310.5,deep,3,no,neoadjuvant,40.1,1,22.0,1\n"
                      "SXNB,47,F,knee,liposarcoma,yes,6.0,80,superficial,1,no,none,,,,\n")
    archive = _archive(tmp_path, ["SXNA", "SXNB", "SXNC"])
    (tmp_path / "in.csv").write_text(table)
    assert main(["clinical", "import", "--archive", str(archive.root), "--project", "SARC01",
                 "--csv", str(tmp_path / "in.csv")]) == 0
    assert archive.get(ObjectRef("SARC01", "SXNA")).fields["tumour_volume_cm3"] == "310.5"
    assert "os_months" not in archive.get(ObjectRef("SARC01", "SXNB")).fields
    assert main(["clinical", "export", "--archive", str(archive.root), "--project", "SARC01",
                 "--output", str(tmp_path / "out.csv")]) == 0
    assert (tmp_path / "out.csv").read_text() == table


def test_bad_table_writes_nothing_and_names_every_bad_cell(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    archive = _archive(tmp_path, ["SXNA", "SXNB"])
    table = HEADER + ("SXNA,63,M,thigh,UPS,no,11.2,310.5,deep,3,no,neoadjuvant,,,,\n"
                      "SXNB,200,X,,UPS,no,abc,80,deep,4,no,none,12,2,,\n"
                      "SXNZ,50,F,thigh,UPS,no,5,50,deep,2,no,none,,,,\n")
    (tmp_path / "bad.csv").write_text(table)
    rc = main(["clinical", "import", "--archive", str(archive.root), "--project", "SARC01",
               "--csv", str(tmp_path / "bad.csv")])
    err = capsys.readouterr().err
    assert rc == 2
    for expected in ("row 3 (subject SXNB): age: out of range", "row 3 (subject SXNB): sex: invalid",
                     "row 3 (subject SXNB): tumour_location: missing",
                     "row 3 (subject SXNB): tumour_size_cm: invalid",
                     "row 3 (subject SXNB): tumour_grade: invalid",
                     "row 3 (subject SXNB): os_event: invalid",
                     "row 4 (subject SXNZ): unknown subject"):
        assert expected in err
    assert "row 2" not in err
    assert "abc" not in err and ",200," not in err  # cell values are never echoed
    # the good row was not written either
    assert archive.get(ObjectRef("SARC01", "SXNA")).fields == {}


def test_partial_writes_valid_cells_only(tmp_path: Path) -> None:
    archive = _archive(tmp_path, ["SXNA", "SXNB"])
    table = HEADER + ("SXNA,63,M,thigh,UPS,no,11.2,310.5,deep,3,no,neoadjuvant,,,,\n"
                      "SXNB,200,F,knee,UPS,no,5,80,deep,2,no,none,,,,\n")
    (tmp_path / "t.csv").write_text(table)
    rc = main(["clinical", "import", "--archive", str(archive.root), "--project", "SARC01",
               "--csv", str(tmp_path / "t.csv"), "--partial"])
    assert rc == 1
    assert archive.get(ObjectRef("SARC01", "SXNA")).fields["age"] == "63"
    b = archive.get(ObjectRef("SARC01", "SXNB")).fields
    assert "age" not in b and b["tumour_location"] == "knee"


def test_rows_by_original_id_map_through_the_site_secret(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    key = SiteKey(SECRET)
    mrn_a, mrn_b = "MRN-7734521", "MRN-9911002"
    archive = _archive(tmp_path, [key.pseudonym(mrn_a), key.pseudonym(mrn_b)])
    table = HEADER.replace("subject,", "patient_id,") + (
        f"{mrn_a},63,M,thigh,UPS,no,11.2,310.5,deep,3,no,neoadjuvant,,,,\n"
        f"{mrn_b},47,F,knee,other,yes,6.0,80,superficial,9,no,none,,,,\n")
    (tmp_path / "t.csv").write_text(table)
    rc = main(["clinical", "import", "--archive", str(archive.root), "--project", "SARC01",
               "--csv", str(tmp_path / "t.csv"), "--secret-file", str(_secret(tmp_path))])
    out = capsys.readouterr()
    assert rc == 2
    assert f"row 3 (subject {key.pseudonym(mrn_b)}): tumour_grade: invalid" in out.err
    assert mrn_a not in out.err + out.out and mrn_b not in out.err + out.out
    fixed = table.replace("superficial,9,", "superficial,1,")
    (tmp_path / "t.csv").write_text(fixed)
    assert main(["clinical", "import", "--archive", str(archive.root), "--project", "SARC01",
                 "--csv", str(tmp_path / "t.csv"), "--secret-file", str(_secret(tmp_path))]) == 0
    assert archive.get(ObjectRef("SARC01", key.pseudonym(mrn_b))).fields["diagnosis"] == "other"


def test_patient_id_without_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SARCOMA_XNAT_SITE_SECRET", raising=False)
    archive = _archive(tmp_path, ["SXNA"])
    (tmp_path / "t.csv").write_text("patient_id,age\nMRN1,50\n")
    assert main(["clinical", "import", "--archive", str(archive.root), "--project", "SARC01",
                 "--csv", str(tmp_path / "t.csv")]) == 2
    assert "site secret" in capsys.readouterr().err


def test_duplicate_rows_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = _archive(tmp_path, ["SXNA"])
    row = "SXNA,63,M,thigh,UPS,no,11.2,310.5,deep,3,no,neoadjuvant,,,,\n"
    (tmp_path / "t.csv").write_text(HEADER + row + row)
    assert main(["clinical", "import", "--archive", str(archive.root), "--project", "SARC01",
                 "--csv", str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err
    assert "row 2 (subject SXNA): duplicate" in err and "row 3 (subject SXNA): duplicate" in err

"""Clinical table → XNAT subject custom fields → clinical table, on the emulator (and live tier)."""

from __future__ import annotations

from pathlib import Path

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.archive.xnat import XnatArchive
from sarcoma_xnat.clinical import check_rows, export_table, read_csv_rows, write_rows
from sarcoma_xnat.clinical.store import project_subjects

HEADER = ("subject,age,sex,tumour_location,diagnosis,neoadjuvant_chemo,tumour_size_cm,"
          "tumour_volume_cm3,tumour_depth,tumour_grade,metastases_at_presentation,radiotherapy,"
          "os_months,os_event,dm_months,dm_event\n")


def test_round_trip_through_xnat_fields(xnat, unique: str, tmp_path: Path) -> None:  # noqa: ANN001
    a, b = f"{unique}A", f"{unique}B"
    for label in (a, b):
        xnat.client.objects.create_subject(xnat.project, label)
    try:
        table = HEADER + (f"{a},71,F,other,leiomyosarcoma,yes,14.0,900.25,deep,3,yes,adjuvant,"
                          "8.5,1,3.0,1\n"
                          f"{b},35,M,thigh,synovial_sarcoma,no,4.1,22,superficial,2,no,none,,,,\n")
        (tmp_path / "t.csv").write_text(table)
        archive = XnatArchive(xnat.client)
        rows = check_rows(read_csv_rows(tmp_path / "t.csv"),
                          known_subjects=project_subjects(archive, xnat.project))
        report = write_rows(archive, xnat.project, rows)
        assert report.written == [a, b]
        # read back the way XNAT lists custom variables: the subject's fields/field children
        assert xnat.client.objects.fields(ObjectRef(xnat.project, a))["tumour_volume_cm3"] == "900.25"
        exported = export_table(archive, xnat.project)
        mine = [line for line in exported.splitlines(keepends=True)
                if line.startswith(unique) or line.startswith("subject,")]
        assert "".join(mine) == table
    finally:
        for label in (a, b):
            xnat.client.objects.delete(ObjectRef(xnat.project, label))

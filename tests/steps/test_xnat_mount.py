"""XNAT's bookkeeping files in a mount are recognised; a DICOM file cut anywhere is incomplete."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.steps.base import stage_session
from sarcoma_xnat.steps.session_layout import find_roi_files, scan_catalog
from sarcoma_xnat.steps.xnat_mount import dicom_complete, is_bookkeeping
from xnat_bookkeeping import AIM, CATALOG, add_xnat_bookkeeping

@pytest.fixture
def session(small_cohort_template, tmp_path: Path) -> Path:
    root, manifest = small_cohort_template
    return stage_session(LocalArchive(root), manifest.sessions[0], tmp_path / "input")


def test_bookkeeping_by_name_content_and_folder(tmp_path: Path) -> None:
    files = {
        "DICOM/scan_3_catalog.xml": CATALOG.format(root="DCMCatalog", id="s", uri="a.dcm"),
        "SEG/SEG_catalog.xml": CATALOG.format(root="Catalog", id="SEG", uri="a.dcm"),
        "OTHER/renamed.xml": CATALOG.format(root="Catalog", id="x", uri="a.dcm"),  # by root element
        "AIM/roi.xml": AIM.format(name="X"),
        "RTSTRUCT/roi_aim.xml": AIM.format(name="X"),
        "SNAPSHOTS/3_qc.gif": "GIF89a",
    }
    kept = {"DICOM/notes.xml": "<notes>mine</notes>", "DICOM/1.dcm": "not xml at all",
            "DICOM/broken.xml": "<unclosed"}
    for rel, text in {**files, **kept}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert {rel for rel in {**files, **kept} if is_bookkeeping(tmp_path / rel, tmp_path)} == set(files)
    # a mount that *is* a SNAPSHOTS resource is read as asked
    assert not is_bookkeeping(tmp_path / "SNAPSHOTS" / "3_qc.gif", tmp_path / "SNAPSHOTS")


def test_layout_reader_ignores_bookkeeping(session: Path) -> None:
    before = (scan_catalog(session), find_roi_files(session))
    added = add_xnat_bookkeeping(session)
    assert len(added) > 10
    after = (scan_catalog(session), find_roi_files(session))
    assert after == before


@pytest.mark.parametrize("kind", ["SEG", "RTSTRUCT"])
def test_every_cut_of_an_annotation_is_incomplete(session: Path, tmp_path: Path, kind: str) -> None:
    whole = next((session / "ASSESSORS").glob(f"*/{kind}/*.dcm"))
    assert dicom_complete(whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.dcm"
    lengths = sorted(set(range(0, len(data), 61)) | set(range(max(len(data) - 400, 0), len(data))))
    judged_whole = []
    for n in lengths:
        cut.write_bytes(data[:n])
        if dicom_complete(cut):
            judged_whole.append(n)
    assert judged_whole == []
    cut.write_bytes(data)
    assert dicom_complete(cut)


def test_an_image_slice_cut_short_is_incomplete(session: Path, tmp_path: Path) -> None:
    image = sorted((session / "SCANS" / "1" / "DICOM").glob("*.dcm"))[0]
    assert dicom_complete(image)
    data = image.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[:-10])
    assert not dicom_complete(cut)

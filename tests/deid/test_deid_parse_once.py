"""Folder de-identification parses each header once; the byte scan finds what pydicom finds.

The first pass (identifying values per study and patient) scans the header bytes
(:mod:`sarcoma_xnat.deid.prescan`) instead of building a pydicom Dataset, so the
clean pass is the only one that parses a file. Where the scan does not model a file
it hands it to pydicom: either way the values must be exactly those of
:func:`~sarcoma_xnat.deid.values.identifying_values` on the pydicom header.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from deidcorpus import build_corpus
from pydicom.data import get_testdata_file

from sarcoma_xnat.deid import Deidentifier, deidentify_folder
from sarcoma_xnat.deid import split
from sarcoma_xnat.deid.collect import header_values
from sarcoma_xnat.deid.header import read_header
from sarcoma_xnat.deid.prescan import scan_values
from sarcoma_xnat.deid.values import identifying_values

VENDOR = ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
          "rtplan.dcm", "rtdose.dcm", "rtstruct.dcm", "image_dfl.dcm", "nested_priv_SQ.dcm",
          "UN_sequence.dcm", "MR_small_jp2klossless.dcm", "JPEG2000.dcm", "SC_rgb_jpeg.dcm"]


def _pydicom_values(path: Path) -> tuple[set[str], str, str] | None:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - not DICOM, or unreadable: it contributes nothing
        return None
    return (identifying_values(ds), str(ds.get("PatientID", "") or "").strip(),
            str(ds.get("StudyInstanceUID", "") or "").strip())


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """The real-world-like corpus (SR, SEG, non-ASCII, UN, private) and vendor files."""
    paths = build_corpus(tmp_path / "in")
    for name in VENDOR:
        target = tmp_path / "in" / "vendor" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(get_testdata_file(name), target)
        paths.append(target)
    return paths


def test_scan_finds_what_pydicom_finds(files: list[Path]) -> None:
    scanned = 0
    for path in files:
        expected = _pydicom_values(path)
        found = scan_values(str(path), {})
        if found is not None:
            scanned += 1
            assert found == expected, path.name
        assert header_values(path) == expected, path.name
    assert scanned >= len(files) // 2  # the scan, not the fallback, reads most of them


def test_scan_reads_past_its_first_block(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.ImageComments = "x" * 70_000  # the header goes on past the first 64 KiB read
    ds.OperatorsName = "LATE^NAME"
    path = tmp_path / "long.dcm"
    ds.save_as(path)
    found = scan_values(str(path), {})
    assert found is not None and "LATE^NAME" in found[0]


def test_clean_pass_parses_each_file_once(session_dir: Path, tmp_path: Path,
                                          deidentifier: Deidentifier,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    read = pydicom.dcmread

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args[0])
        return read(*args, **kwargs)  # type: ignore[arg-type]

    def fast(data: bytes) -> object:
        found = read_header(data)
        if found is not None:  # read by the fast reader: pydicom is not called for it
            calls.append("fast")
        return found

    monkeypatch.setattr(pydicom, "dcmread", counting)
    monkeypatch.setattr(split, "read_header", fast)
    report = deidentify_folder(session_dir, tmp_path / "out", deidentifier, jobs=1)
    assert len(report.written) >= 5 and not report.skipped
    assert len(calls) == len(report.written)
    assert "fast" in calls

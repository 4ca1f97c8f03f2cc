"""The fast path of folder de-identification gives what the plain path gives, whatever --jobs.

Header-only reading with the pixel data copied as bytes (:mod:`sarcoma_xnat.deid.split`),
the encoder that copies untouched elements (:mod:`sarcoma_xnat.deid.encode`) and the
worker processes (``jobs``) must not change a single output byte, and must not let a
library warning quote a value from a file.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import struct
from pathlib import Path

import pydicom
import pytest
from deidcorpus import build_corpus, load, write
from pydicom.data import get_testdata_file

from sarcoma_xnat.cli import main
from sarcoma_xnat.deid import Deidentifier, SiteKey, dataset_bytes, deidentify_folder, read_dicom
from sarcoma_xnat.deid import jobs
from sarcoma_xnat.deid.encode import encode
from sarcoma_xnat.deid.scrub import Scrubber
from sarcoma_xnat.deid.split import read_split
from sarcoma_xnat.errors import DeidentificationError

VENDOR_FILES = ["CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm",
                "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "rtplan.dcm", "rtdose.dcm",
                "image_dfl.dcm", "JPEG2000.dcm"]


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Real-world-like files plus pydicom's vendor files, in one folder."""
    root = tmp_path / "in"
    build_corpus(root)
    for name in VENDOR_FILES:
        target = root / "vendor" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(get_testdata_file(name), target)
    return root


def test_jobs_give_the_same_bytes(corpus: Path, tmp_path: Path,
                                  deidentifier: Deidentifier) -> None:
    one = deidentify_folder(corpus, tmp_path / "j1", deidentifier, jobs=1)
    two = deidentify_folder(corpus, tmp_path / "j2", deidentifier, jobs=2)
    assert len(one.written) >= 15 and one.digest == two.digest
    assert _tree(tmp_path / "j1") == _tree(tmp_path / "j2")
    assert [s.file for s in one.skipped] == [s.file for s in two.skipped]
    assert not list((tmp_path / "j2").rglob("*.part"))


def test_spawned_workers_give_the_same_bytes(corpus: Path, tmp_path: Path,
                                            deidentifier: Deidentifier,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers started by spawn (Windows, macOS's default) rebuild the run from its pickle."""
    one = deidentify_folder(corpus, tmp_path / "j1", deidentifier, jobs=1)
    monkeypatch.setattr(jobs.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.setattr(jobs, "_fork_is_unsafe", lambda: False)
    spawned = deidentify_folder(corpus, tmp_path / "sp", deidentifier, jobs=2)
    assert len(one.written) >= 15 and one.digest == spawned.digest
    assert _tree(tmp_path / "j1") == _tree(tmp_path / "sp")
    assert [s.file for s in one.skipped] == [s.file for s in spawned.skipped]


@pytest.mark.parametrize("name", VENDOR_FILES)
def test_header_only_path_writes_what_the_whole_file_path_writes(
        name: str, deidentifier: Deidentifier) -> None:
    path = get_testdata_file(name)

    def outcome(header_only: bool) -> bytes | str:
        try:
            if header_only:
                split = read_split(path)
                deidentifier.deidentify(split.dataset, None, None, split.has_pixels)
                return split.encode()
            whole = read_dicom(path)
            deidentifier.deidentify(whole)
            return dataset_bytes(whole)
        except DeidentificationError as exc:  # refused (a secondary capture): refused alike
            return exc.message

    assert outcome(True) == outcome(False)


def test_pixel_data_bytes_are_copied_untouched(deidentifier: Deidentifier) -> None:
    for name in ("CT_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"):
        path = get_testdata_file(name)
        data = Path(path).read_bytes()
        split = read_split(path)
        deidentifier.deidentify(split.dataset, None, None, split.has_pixels)
        assert split.pixels and split.pixels in data  # the element, as on disk
        out = split.encode()
        assert out.endswith(split.pixels)
        assert pydicom.dcmread(pydicom.filebase.DicomBytesIO(out)).PixelData == \
            pydicom.dcmread(path).PixelData


def test_encoder_matches_pydicom_on_every_corpus_file(tmp_path: Path,
                                                      deidentifier: Deidentifier) -> None:
    paths = build_corpus(tmp_path / "c")
    paths.append(write(load("rtstruct.dcm"), tmp_path / "c" / "rtstruct.dcm"))
    copied = 0
    for path in paths:
        split = read_split(path)
        ds = split.dataset
        deidentifier.deidentify(ds)
        assert encode(ds) == dataset_bytes(ds), path.name
        if split.source is not None:  # elements still as read copied from the file's bytes
            copied += 1
            assert encode(ds, split.source) == dataset_bytes(ds), path.name
    assert copied >= len(paths) // 2


def _spans(data: bytes, pos: int) -> list[tuple[int, int]]:
    """Return where each top-level element of an explicit VR little endian data set lies."""
    spans = []
    while pos < len(data):
        vr = data[pos + 4:pos + 6]
        if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
            end = pos + 12 + struct.unpack_from("<L", data, pos + 8)[0]
        else:
            end = pos + 8 + struct.unpack_from("<H", data, pos + 6)[0]
        spans.append((pos, end))
        pos = end
    return spans


def test_copied_elements_are_the_bytes_pydicom_writes(tmp_path: Path,
                                                      deidentifier: Deidentifier) -> None:
    """Copying runs of a file's bytes gives pydicom's bytes for files pydicom would rewrite.

    A long-VR element with non-zero reserved bytes (written as zeros), a group length
    (not written), elements out of tag order (written in order): none of them is
    copied as it is in the file.
    """
    ds = load("MR_small.dcm")
    ds.RedPaletteColorLookupTableData = b"\x00\x01" * 4  # OW, kept as read by the profile
    data = bytearray(write(ds, tmp_path / "plain.dcm").read_bytes())
    start = 132 + 12 + struct.unpack_from("<L", data, 132 + 8)[0]
    ow = bytes(data).index(b"\x28\x00\x01\x12OW")
    data[ow + 6:ow + 8] = b"\x01\x00"  # reserved, shall be zero (PS3.5 7.1.2)
    spans = {struct.unpack_from("<L", data, at)[0]: (at, end)
             for at, end in _spans(bytes(data), start)}
    (a, b), (c, d) = spans[0x00100028], spans[0x00110028]  # Rows, Columns: kept as read
    data[a:d] = data[c:d] + data[a:b]  # two elements out of order
    data[start:start] = struct.pack("<HH2sHL", 0x0008, 0x0000, b"UL", 4, 1234)  # a group length
    path = tmp_path / "odd.dcm"
    path.write_bytes(bytes(data))
    split = read_split(path)
    assert split.source is not None
    deidentifier.deidentify(split.dataset)
    assert encode(split.dataset, split.source) == dataset_bytes(split.dataset)


def test_truncated_pixel_data_is_refused(tmp_path: Path, deidentifier: Deidentifier) -> None:
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.dcm").write_bytes(data[:-100])
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", deidentifier, jobs=1)
    assert not report.written and "truncated" in report.skipped[0].reason


def test_no_library_warning_quotes_a_value(tmp_path: Path, deidentifier: Deidentifier,
                                           caplog: pytest.LogCaptureFixture,
                                           recwarn: pytest.WarningsRecorder) -> None:
    ds = load("CT_small.dcm")
    ds.PatientName = "HOUSE^GREGORY"
    ds.ReferencedSOPInstanceUID = "1.2.HOUSE"  # invalid UI: pydicom's warning would quote it
    write(ds, tmp_path / "in" / "a.dcm")
    caplog.set_level(logging.DEBUG)
    recwarn.clear()  # the warning of building the file is not the run's
    caplog.clear()
    deidentify_folder(tmp_path / "in", tmp_path / "out", deidentifier, jobs=1)
    said = [r.getMessage() for r in caplog.records] + [str(w.message) for w in recwarn]
    assert not [m for m in said if "HOUSE" in m.upper()]


def test_cli_jobs_option(tmp_path: Path, corpus: Path, secret_file: Path,
                         capfd: pytest.CaptureFixture[str]) -> None:
    for jobs in ("1", "2"):
        main(["deid", "run", "--input", str(corpus), "--output", str(tmp_path / f"o{jobs}"),
              "--secret-file", str(secret_file), "--jobs", jobs])
    said = capfd.readouterr()
    assert "HOUSE" not in (said.out + said.err).upper()
    files = {k: v for k, v in _tree(tmp_path / "o1").items() if k.endswith(".dcm")}
    assert files and files == {k: v for k, v in _tree(tmp_path / "o2").items()
                               if k.endswith(".dcm")}


def test_remembered_elements_give_what_a_fresh_engine_gives(tmp_path: Path, key: SiteKey) -> None:
    paths = build_corpus(tmp_path / "c")
    warm = Deidentifier(key)
    scrubber = Scrubber(("HOUSE", "Gregory", "WILSON"))
    for path in paths + paths:  # the second time round, every element is remembered
        split = read_split(path)
        fresh = read_split(path)
        try:
            warm.deidentify(split.dataset, None, scrubber, split.has_pixels)
        except DeidentificationError:
            continue
        Deidentifier(key).deidentify(fresh.dataset, None, Scrubber(scrubber.tokens),
                                     fresh.has_pixels)
        assert split.encode() == fresh.encode(), path.name
    assert any(scrubber.memo.values())

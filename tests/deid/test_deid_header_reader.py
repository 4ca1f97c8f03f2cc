"""The fast header reader makes the data set pydicom makes, or hands the file to pydicom.

:func:`sarcoma_xnat.deid.header.read_header` builds the header of the clean pass
without pydicom's general reader. Whatever it returns must be what
``pydicom.dcmread(..., stop_before_pixels=True)`` returns for the same bytes: the
same element objects (raw or parsed, in the same order), file meta, preamble,
encodings and stop offset — on pydicom's own vendor files, the real-world-like corpus
and the synthetic cohort, and on files edited into the layouts it must refuse.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import pydicom
import pytest
from deidcorpus import build_corpus, load
from pydicom.data import get_testdata_file, get_testdata_files
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from sarcoma_xnat.deid.header import read_header


def _pydicom(data: bytes) -> tuple[Dataset, int] | None:
    stream = io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(stream, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - pydicom refuses it: nothing to compare with
        return None
    return ds, stream.tell()


def _assert_same(got: Dataset, expected: Dataset, name: str) -> None:
    assert type(got) is type(expected), name
    assert got.preamble == expected.preamble, name
    for ours, theirs in ((got.file_meta, expected.file_meta), (got, expected)):
        assert list(ours._dict) == list(theirs._dict), name
        for tag, element in ours._dict.items():
            other = theirs._dict[tag]
            assert type(element) is type(other), (name, tag)
            if isinstance(element, tuple):  # a raw element: every field, bytes and offset
                assert element == other, (name, tag)
            else:
                assert element == other, (name, tag)
                assert element.is_undefined_length == other.is_undefined_length, (name, tag)
        assert ours.original_encoding == theirs.original_encoding, name
        assert ours.original_character_set == theirs.original_character_set, name
        assert ours._character_set == theirs._character_set, name


def _compare(data: bytes, name: str) -> bool:
    """Assert the reader agrees with pydicom on ``data``; return whether it read it itself."""
    expected = _pydicom(data)
    got = read_header(data)
    if got is None or expected is None:
        assert got is None or expected is not None, name  # never reads what pydicom refuses
        return False
    _assert_same(got[0], expected[0], name)
    assert got[1] == expected[1], name
    return True


def _files(tmp_path: Path, cohort: Path) -> list[Path]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom notes that it cannot download more files
        vendor = [Path(p) for p in get_testdata_files("*")]
    vendor = [p for p in vendor if p.is_file()]
    return vendor + build_corpus(tmp_path / "corpus") + sorted(cohort.rglob("*.dcm"))


def test_reader_makes_what_pydicom_makes(tmp_path: Path, session_dir: Path) -> None:
    files = _files(tmp_path, session_dir)
    own = sum(_compare(path.read_bytes(), path.name) for path in files)
    assert own >= 0.7 * len(files)  # the reader, not the fallback, reads most of them


def _explicit_element(tag: int, vr: bytes, value: bytes) -> bytes:
    if vr in (b"OB", b"SQ", b"UN", b"UT"):
        return struct.pack("<HH2sHL", tag >> 16, tag & 0xFFFF, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr, len(value)) + value


def _with_undefined_sequences(ds: Dataset, syntax: str) -> bytes:
    """Return ``ds`` written in ``syntax`` with its sequences and items of undefined length."""
    for element in ds.iterall():
        if element.VR == "SQ":
            element.is_undefined_length = True
            for item in element.value:
                item.is_undefined_length_sequence_item = True
    ds.file_meta.TransferSyntaxUID = syntax
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize("name", ["rtstruct.dcm", "rtdose.dcm", "rtplan.dcm"])
def test_reader_agrees_on_undefined_length_sequences(name: str, syntax: str) -> None:
    data = _with_undefined_sequences(load(name), syntax)
    assert b"\xff\xff\xff\xff" in data
    assert _compare(data, name)


def test_reader_hands_over_what_it_does_not_model() -> None:
    mr = Path(get_testdata_file("MR_small.dcm")).read_bytes()
    meta_end = 132 + 12 + struct.unpack_from("<L", mr, 132 + 8)[0]
    cases = {
        "no preamble": mr[128:],
        "truncated element": mr[:meta_end + 40],
        "big endian": Path(get_testdata_file("MR_small_bigendian.dcm")).read_bytes(),
        "deflated": Path(get_testdata_file("image_dfl.dcm")).read_bytes(),
        "command group": (mr[:meta_end] + _explicit_element(0x00000002, b"UI", b"1.2\0")
                          + mr[meta_end:]),
        "unknown VR": mr[:meta_end] + _explicit_element(0x00080070, b"QQ", b"ACME") + mr[meta_end:],
        "undefined-length text": (mr[:meta_end] + struct.pack("<HH2sHL", 0x0008, 0x1030, b"UT", 0,
                                                              0xFFFFFFFF) + mr[meta_end:]),
    }
    for name, data in cases.items():
        assert read_header(data) is None, name
        _compare(data, name)  # and pydicom, which reads it then, is what the caller gets

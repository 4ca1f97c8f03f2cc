"""Values read from elements still as read, and work kept per study in one worker.

The burned-in check, the pixel-size check and the new file meta read a few CS, UI and
US values without converting their elements (so those stay raw and are written back as
read): what they read must be what pydicom reads. The clean pass hands a study's files
to one worker in a chunk: every file still comes back once, in order.
"""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from sarcoma_xnat.deid.attributes import as_read_value, patient_id_of
from sarcoma_xnat.deid.burned_in import check_burned_in
from sarcoma_xnat.deid.dicomio import check_complete
from sarcoma_xnat.deid.jobs import _chunks, map_files
from sarcoma_xnat.errors import DeidentificationError

_VALUES = [b"MR", b"MR ", b"ORIGINAL\\PRIMARY\\M\\ND ", b"", b"DERIVED\\SECONDARY\\SCREEN SAVE",
           b"1.2.840.10008.5.1.4.1.1.4\0", b"1.2.3\\4.5.6"]


def _read(elements: dict[str, tuple[str, bytes]], syntax: str = ExplicitVRLittleEndian) -> Dataset:
    """Return a data set written with ``elements`` (keyword: VR, raw value) and read back."""
    ds = Dataset()
    for keyword, (vr, value) in elements.items():
        ds.add_new(keyword, vr, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=False, implicit_vr=syntax == ImplicitVRLittleEndian,
               little_endian=True)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()), force=True)


@pytest.mark.parametrize("value", _VALUES)
@pytest.mark.parametrize("keyword,vr", [("Modality", "CS"), ("ImageType", "CS"),
                                        ("SOPClassUID", "UI")])
def test_as_read_value_is_what_pydicom_reads_and_leaves_the_element_raw(
        keyword: str, vr: str, value: bytes) -> None:
    ds = _read({keyword: (vr, value.decode("latin-1"))})
    tag = pydicom.datadict.tag_for_keyword(keyword)
    got = as_read_value(ds, tag, keyword, None, multi=True)
    assert ds.get_item(tag).is_raw  # not converted
    expected = ds.get(keyword)
    assert (list(got) if isinstance(got, list) else got) == (
        list(expected) if not isinstance(expected, str) else expected)
    single = as_read_value(ds, tag, keyword)  # a multi-valued one goes through pydicom
    assert single == expected


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize("value", [b"MRN0042117", b" MRN42 ", b"MRN42\0", b"", b"A\\B",
                                   "Müller".encode("latin-1"), b"X~1", b"\x1b$B"])
def test_patient_id_of_is_what_pydicom_reads(value: bytes, syntax: str) -> None:
    ds = _read({"PatientID": ("LO", value.decode("latin-1"))}, syntax)
    plain = value.isascii() and not any(c in value for c in (b"\\", b"~", b"\x1b"))
    was_raw = ds.get_item(0x00100020).is_raw
    got = patient_id_of(ds)
    assert ds.get_item(0x00100020).is_raw == (plain and was_raw)  # ASCII stays raw
    assert got == str(ds.PatientID or "").strip()


def test_as_read_value_of_a_missing_element_is_the_default() -> None:
    ds = _read({"Modality": ("CS", "MR")})
    assert as_read_value(ds, 0x00280301, "BurnedInAnnotation") == ""
    assert as_read_value(ds, 0x00080008, "ImageType", None, multi=True) is None


def test_a_raw_screen_save_image_type_is_still_refused() -> None:
    ds = _read({"ImageType": ("CS", "DERIVED\\SECONDARY\\SCREEN SAVE "),
                "Modality": ("CS", "MR")})
    with pytest.raises(DeidentificationError, match="SCREEN SAVE"):
        check_burned_in(ds, None, True)


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_pixel_size_check_reads_raw_us_values(syntax: str) -> None:
    ds = _read({"SOPClassUID": ("UI", "1.2.840.10008.5.1.4.1.1.4"), "SOPInstanceUID": ("UI", "1.2.3"),
                "Rows": ("US", 4), "Columns": ("US", 3), "BitsAllocated": ("US", 16)}, syntax)
    check_complete(ds, "f", pixel_bytes=24, has_pixels=True)  # 4 * 3 * 2 bytes: complete
    with pytest.raises(DeidentificationError, match="truncated pixel data: 23 of 24"):
        check_complete(ds, "f", pixel_bytes=23, has_pixels=True)


def test_study_chunks_cover_every_file_once_and_keep_short_studies_whole() -> None:
    groups = ["a"] * 3 + ["b"] * 50 + ["c"] * 7 + ["a"] * 2
    chunks = _chunks(groups, 2)
    assert [i for r in chunks for i in r] == list(range(len(groups)))
    for r in chunks:
        assert len({groups[i] for i in r}) == 1  # a chunk holds one study
    cap = max(8, -(-len(groups) // 12))
    assert all(len(r) <= cap for r in chunks)
    assert range(0, 3) in chunks and range(53, 60) in chunks  # short studies: one chunk each
    sizes = [len(r) for r in chunks if groups[r.start] == "b"]  # a long study: even pieces
    assert sum(sizes) == 50 and max(sizes) - min(sizes) <= 1


def test_map_files_with_groups_gives_every_result_in_order() -> None:
    items = list(range(-40, 40))
    groups = [i // 9 for i in items]
    assert list(map_files(abs, items, 2, groups=groups)) == [abs(i) for i in items]
    assert list(map_files(abs, items, 1, groups=groups)) == [abs(i) for i in items]

"""Encode a de-identified data set quickly: elements still as read are copied as their bytes.

After cleaning, most elements of a header are untouched: pydicom still holds them as
the raw bytes it read (:class:`~pydicom.dataelem.RawDataElement`). pydicom's writer
handles each of them through a general path that costs more than de-identifying it.
:func:`encode` writes them itself (tag, VR, length, the same value bytes), recurses
into sequences the way pydicom's ``write_sequence_item`` does, and hands every other
element to pydicom's ``write_data_element``. The result is the same bytes as
:func:`~sarcoma_xnat.deid.dicomio.dataset_bytes` (a test holds it to that); where the
data set needs what only pydicom's full writer does (a changed character set or
encoding, an ambiguous VR, a deflated transfer syntax) it falls back to that writer.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping

from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian

from sarcoma_xnat.deid.attributes import as_read_value
from sarcoma_xnat.deid.dicomio import LONG_VRS, dataset_bytes

__all__ = ["ElementWriter", "encode", "encoded_element"]

_UNDEFINED = 0xFFFFFFFF
#: VRs pydicom writes with ``write_string`` (ASCII, space-padded; UI null-padded) when the
#: value is a ``str``, and text VRs written with the data set's character set
_STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR"})
_TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC"})
_NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d"}
#: the bytes a data set was read from, and its top-level elements as read (tag -> element)
Source = tuple[bytes, Mapping[int, object]]


class _Fallback(Exception):
    """The data set needs pydicom's full writer."""


class ElementWriter:
    def __init__(self, little: bool, implicit: bool) -> None:
        self.order = "<" if little else ">"
        self.implicit = implicit
        self.encoding = (implicit, little)
        self._tag = struct.Struct(self.order + "HH")
        self._short = struct.Struct(self.order + "HH2sH")
        self._long = struct.Struct(self.order + "HH2sHL")
        self._implicit = struct.Struct(self.order + "HHL")
        self._item = struct.Struct(self.order + "HHL")

    def head(self, tag: int, vr: str, length: int) -> bytes:
        """Return the tag, VR and length fields of one element."""
        if self.implicit:
            return self._implicit.pack(tag >> 16, tag & 0xFFFF, length)
        if vr in LONG_VRS or length == _UNDEFINED:
            return self._long.pack(tag >> 16, tag & 0xFFFF, vr.encode(), 0, length)
        return self._short.pack(tag >> 16, tag & 0xFFFF, vr.encode(), length)

    def dataset(self, ds: Dataset, parent: str | list[str], source: Source | None = None) -> bytes:
        """Return ``ds`` encoded as pydicom's ``write_dataset`` would encode it.

        With ``source`` (the file ``ds`` was read from, top level only), elements still
        the objects read from it are copied from its bytes, in runs: the same bytes.
        """
        if (ds.original_character_set != ds._character_set
                or ds.original_encoding != self.encoding) and any(
                    getattr(e, "is_raw", False) or " or " in (e.VR or "")
                    for e in ds._dict.values()):
            raise _Fallback  # pydicom would re-read every element, resolving ambiguous VRs
        encodings = ds.get("SpecificCharacterSet", parent)
        tags = [tag for tag in sorted(ds._dict, key=int)
                if tag & 0xFFFF or tag >> 16 <= 6]  # no retired group length (PS3.5 7.2)
        if source is None:
            return b"".join(self.element(ds, tag, encodings) for tag in tags)
        return b"".join(self._copied(ds, tags, encodings, source))

    def _copied(self, ds: Dataset, tags: list[int], encodings: str | list[str],
                source: Source) -> Iterator[bytes]:
        """Yield the encoded elements of ``ds``, those still as read as runs of the file's bytes."""
        data, originals = source
        elements, implicit = ds._dict, self.implicit
        start = end = -1
        for tag in tags:
            elem = elements[tag]
            if elem is originals.get(tag) and elem.value is not None:  # type: ignore[union-attr]
                long = not implicit and elem.VR in LONG_VRS  # type: ignore[union-attr]
                at = elem.value_tell - (12 if long else 8)  # type: ignore[union-attr]
                if not long or data[at + 6:at + 8] == b"\0\0":  # reserved bytes as we write them
                    if at != end:
                        if end > start:
                            yield data[start:end]
                        start = at
                    end = elem.value_tell + elem.length  # type: ignore[union-attr]
                    continue
            if end > start:
                yield data[start:end]
            start = end = -1
            yield self.element(ds, tag, encodings)
        if end > start:
            yield data[start:end]

    def element(self, ds: Dataset, tag: int, encodings: str | list[str]) -> bytes:
        """Return one element of ``ds`` (``tag``: a key of it) encoded: tag, VR, length, value."""
        elem = ds._dict[tag]
        if getattr(elem, "is_raw", False):
            value = elem.value
            if elem.length == _UNDEFINED and elem.VR == "SQ" and isinstance(value, bytes):
                return self.head(tag, "SQ", _UNDEFINED) + value + self._item.pack(0xFFFE, 0xE0DD, 0)
            if value is None or elem.length == _UNDEFINED or (not self.implicit and (
                    not elem.VR or len(elem.VR) != 2
                    or elem.VR not in LONG_VRS and len(value) > 0xFFFF)):
                elem = ds[tag]
            else:
                return self.head(tag, elem.VR or "", len(value)) + value
        if elem.VR == "SQ" and not elem.is_buffered:
            return self.sequence(tag, elem, encodings)
        if (value := self.value(elem, ds)) is not None:
            return self.head(tag, elem.VR, len(value)) + value
        fp = DicomBytesIO()
        fp.is_implicit_VR, fp.is_little_endian = self.encoding[0], self.order == "<"
        write_data_element(fp, elem, encodings)
        return fp.getvalue()

    def value(self, elem: object, ds: Dataset) -> bytes | None:
        """Return the value bytes of a plain element (one ASCII string or number), else None."""
        vr, value = getattr(elem, "VR"), getattr(elem, "value")
        if vr in _NUMBER_FORMATS and value.__class__ in (int, float):
            return struct.pack(self.order + _NUMBER_FORMATS[vr], value)
        if value.__class__ is not str and value.__class__.__name__ != "UID" \
                or not value.isascii() or vr not in _STRING_VRS and (
                    vr not in _TEXT_VRS or any("2022" in c for c in ds._character_set)):
            return None
        data = value.encode("ascii")
        return data + (b"\0" if vr == "UI" else b" ") if len(data) % 2 else data

    def sequence(self, tag: int, elem: object, encodings: str | list[str]) -> bytes:
        """Return a sequence element: its items as ``write_sequence_item`` writes them."""
        items = []
        encodings = convert_encodings(encodings or [default_encoding])
        for item in getattr(elem, "value") or ():
            body = self.dataset(item, encodings)
            if getattr(item, "is_undefined_length_sequence_item", False):
                items.append(self._item.pack(0xFFFE, 0xE000, _UNDEFINED) + body
                             + self._item.pack(0xFFFE, 0xE00D, 0))
            else:
                items.append(self._item.pack(0xFFFE, 0xE000, len(body)) + body)
        value = b"".join(items)
        if getattr(elem, "is_undefined_length"):
            return (self.head(tag, "SQ", _UNDEFINED) + value
                    + self._item.pack(0xFFFE, 0xE0DD, 0))
        return self.head(tag, "SQ", len(value)) + value


def encoded_element(ds: Dataset, tag: int) -> RawDataElement | None:
    """Return element ``tag`` of the top-level data set ``ds`` as it will be written.

    The result is a raw element holding the encoded value, which reads back as the
    same value and is written as the same bytes; None where only pydicom's full
    writer can tell those bytes (see :func:`encode`).
    """
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is None or syntax == DeflatedExplicitVRLittleEndian \
            or not syntax.is_transfer_syntax or ds.original_encoding != (
                syntax.is_implicit_VR, syntax.is_little_endian):
        return None
    writer = ElementWriter(syntax.is_little_endian, syntax.is_implicit_VR)
    elem = ds.get_item(tag)
    vr = elem.VR
    if not vr or " or " in vr or ds.original_character_set != ds._character_set:
        return None
    try:
        data = writer.element(ds, tag, ds.get("SpecificCharacterSet", "iso8859"))
    except _Fallback:
        return None
    head = 8 if writer.implicit or vr not in LONG_VRS and vr != "SQ" else 12
    if vr == "SQ" and getattr(elem, "is_undefined_length", False):
        return RawDataElement(elem.tag, vr, _UNDEFINED, data[head:-8], 0, writer.implicit,
                              writer.order == "<")
    length = len(data) - head
    return RawDataElement(elem.tag, vr, length, data[head:], 0, writer.implicit,
                          writer.order == "<")


def encode(ds: Dataset, source: Source | None = None) -> bytes:
    """Return ``ds`` as a DICOM Part 10 file, the same bytes as ``dataset_bytes(ds)``.

    ``ds`` must carry the file meta it is to be written with (the de-identifier sets
    it); its transfer syntax decides the encoding. ``source`` — the bytes ``ds`` was
    read from and its elements as read (tag to element object,
    :func:`~sarcoma_xnat.deid.header.read_header`) — lets the elements still as read
    be copied from those bytes.
    """
    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None)
    if syntax is None or syntax == DeflatedExplicitVRLittleEndian or not syntax.is_transfer_syntax \
            or 0x7FE00010 in ds._dict or ds.get("SOPInstanceUID") != meta.get(
                "MediaStorageSOPInstanceUID") or as_read_value(
                    ds, 0x00080016, "SOPClassUID", None) != meta.get("MediaStorageSOPClassUID"):
        return dataset_bytes(ds)  # pydicom's writer sets what these need
    writer = ElementWriter(syntax.is_little_endian, syntax.is_implicit_VR)
    try:
        body = writer.dataset(ds, "iso8859", source)
    except _Fallback:
        return dataset_bytes(ds)
    return (getattr(ds, "preamble", None) or b"\0" * 128) + b"DICM" + _meta_bytes(meta) + body


_META_REQUIRED = (0x00020002, 0x00020003, 0x00020010, 0x00020012)


def _meta_bytes(meta: Dataset) -> bytes:
    """Return the file meta group as ``write_file_meta_info(enforce_standard=True)`` writes it."""
    elements = meta._dict
    if any(tag not in elements for tag in _META_REQUIRED) or any(
            getattr(elem, "is_raw", False) for elem in elements.values()):
        fp = DicomBytesIO()  # pydicom validates (and raises on) what is missing
        fp.is_implicit_VR, fp.is_little_endian = False, True
        write_file_meta_info(fp, meta, enforce_standard=True)
        return fp.getvalue()
    if 0x00020001 not in elements:
        meta.FileMetaInformationVersion = b"\x00\x01"
    parts = []
    for tag in sorted(elements, key=int):
        if tag == 0x00020000:
            continue
        elem = elements[tag]
        key = (int(tag), elem.VR, elem.value)
        try:
            found = _META_ELEMENTS.get(key)  # class, syntax, implementation: alike in every file
        except TypeError:  # an unhashable (multi-valued) value: encoded every time
            found, key = None, None
        if found is None:
            found = _META_WRITER.element(meta, tag, "iso8859")
            if key is not None and len(_META_ELEMENTS) < 1_000 and tag != 0x00020003:
                _META_ELEMENTS[key] = found  # not the instance UID: one per file
        parts.append(found)
    body = b"".join(parts)
    return _META_WRITER.head(0x00020000, "UL", 4) + struct.pack("<L", len(body)) + body


_META_WRITER = ElementWriter(True, False)  # the file meta group: explicit VR little endian
_META_ELEMENTS: dict[tuple[int, str, object], bytes] = {}  # a meta element -> its bytes

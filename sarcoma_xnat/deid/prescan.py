"""A fast scan of a DICOM header's bytes for its identifying values, without pydicom Datasets.

The first pass of folder de-identification (:mod:`sarcoma_xnat.deid.collect`) needs,
from every file, only its PN values and identity attributes at any depth
(:func:`sarcoma_xnat.deid.values.identifying_values`), its PatientID and its Study
Instance UID. Parsing the whole header into a pydicom Dataset for that costs as
much as cleaning it, and the second pass parses it again. :func:`scan_values`
walks the encoded elements instead, skipping every value by its length, descending
into sequences, and hands only the elements it collects to pydicom's own
conversion (:func:`pydicom.dataelem.convert_raw_data_element`), with the character
set of the data set they are in, so the values are the text pydicom gives.

It reads what pydicom reads with ``stop_before_pixels``: up to the top-level pixel
data. Whatever it does not model exactly as pydicom does — a deflated or big-endian
data set, a file without a preamble, a transfer syntax the data does not follow, an
undefined length outside a sequence, a UN element pydicom would re-read with a
known VR (PS3.5 6.2.2), a truncated element — makes it return None, and the caller
reads that file with pydicom (the values are then the same by construction).
"""

from __future__ import annotations

import struct
from typing import Any

from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.datadict import dictionary_VR, keyword_for_tag, private_dictionary_VR
from pydicom.tag import Tag

from sarcoma_xnat.deid.dicomio import LONG_VR_BYTES, LONG_VRS, VR_NAMES
from sarcoma_xnat.deid.values import IDENTITY_KEYWORDS, texts_of

__all__ = ["scan_values"]

_Found = tuple[set[str], str, str]
_HEAD = 65_536  # bytes read first; the rest only when the header goes on
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
_CHARSET, _PATIENT_ID, _STUDY_UID = 0x00080005, 0x00100020, 0x0020000D
_CODE_TAGS = (0x00080100, 0x00080104)  # CodeValue, CodeMeaning: the text of a code item
_HH, _L, _H = struct.Struct("<HH"), struct.Struct("<L"), struct.Struct("<H")
_PUBLIC: dict[int, tuple[str, bool]] = {}  # tag -> (dictionary VR, identity keyword)
_NOTHING = object()


class _Slow(Exception):
    """This file needs pydicom's reader."""


class _More(Exception):
    """The header goes past the bytes read so far."""


def _public(tag: int) -> tuple[str, bool]:
    found = _PUBLIC.get(tag)
    if found is None:
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            vr = ""
        found = _PUBLIC[tag] = (vr, keyword_for_tag(tag) in IDENTITY_KEYWORDS)
    return found


class _Scan:
    """One file's scan: the bytes, their encoding, what was found."""

    def __init__(self, data: bytes, whole: bool, memo: dict[object, Any]) -> None:
        self.data, self.whole, self.memo = data, whole, memo
        self.values: set[str] = set()
        self.patient = self.study = ""
        self.implicit = False

    def need(self, end: int) -> None:
        if end > len(self.data):
            raise _Slow if self.whole else _More

    def explicit(self, pos: int) -> tuple[bytes, int, int]:
        """Return the VR, value length and value start of the explicit-VR element at ``pos``."""
        data = self.data
        raw_vr = data[pos + 4:pos + 6]
        if raw_vr not in VR_NAMES:
            raise _Slow
        if raw_vr in LONG_VR_BYTES:  # reserved 2 bytes, then a 4-byte length (PS3.5 7.1.2)
            self.need(pos + 12)
            return raw_vr, _L.unpack_from(data, pos + 8)[0], pos + 12
        return raw_vr, _H.unpack_from(data, pos + 6)[0], pos + 8

    def convert(self, tag: int, vr: str, value: bytes, charset: str | list[str]) -> object:
        """Return the value pydicom reads from ``value`` (remembered: series repeat them)."""
        key = ("value", tuple(charset) if isinstance(charset, list) else charset, tag, vr, value)
        found = self.memo.get(key, _NOTHING)
        if found is _NOTHING:
            raw = RawDataElement(Tag(tag), vr, len(value), value, 0, self.implicit, True)
            found = self.memo[key] = convert_raw_data_element(  # type: ignore[assignment]
                raw, encoding=charset).value
        return found

    def collect(self, tag: int, vr: str, value: bytes, charset: str | list[str]) -> None:
        key = (tuple(charset) if isinstance(charset, list) else charset, tag, vr, value)
        found = self.memo.get(key)
        if found is None:
            texts = texts_of(self.convert(tag, vr, value, charset))
            found = self.memo[key] = frozenset(t.strip() for t in texts if t.strip())
        self.values |= found

    def dataset(self, pos: int, end: int | None, charset: str | list[str], top: bool = False,
                codes: bool = False) -> int:
        """Scan the elements from ``pos`` to ``end`` (an item delimiter if None); return the end."""
        data, size, implicit = self.data, len(self.data), self.implicit
        tag_of, length_of, short_of, public = _HH.unpack_from, _L.unpack_from, _H.unpack_from, \
            _PUBLIC.get
        creators: dict[int, object] = {}
        while end is None or pos < end:
            if pos + 8 > size:  # the header goes on past what was read, or the file ends
                if top and pos >= size and self.whole:
                    return pos
                raise _Slow if self.whole else _More
            group, element = tag_of(data, pos)
            tag = group << 16 | element
            if top and tag in _PIXEL_TAGS:
                return pos
            if group == 0xFFFE:
                if tag == _ITEM_END and end is None and not top:
                    return pos + 8
                raise _Slow  # a delimiter where an element belongs
            if implicit:
                (length,) = length_of(data, pos + 4)
                start, vr = pos + 8, self.implicit_vr(tag, creators)
            else:
                vr = VR_NAMES.get(data[pos + 4:pos + 6])  # type: ignore[assignment]
                if vr is None:
                    raise _Slow
                if vr in LONG_VRS:  # reserved 2 bytes, then a 4-byte length (PS3.5 7.1.2)
                    self.need(pos + 12)
                    (length,) = length_of(data, pos + 8)
                    start = pos + 12
                else:
                    (length,) = short_of(data, pos + 6)
                    start = pos + 8
                if vr == "UN":
                    vr = self.unknown_vr(tag, creators, length)
            if length == _UNDEFINED:
                if vr != "SQ":
                    raise _Slow  # pydicom reads it as an implicit VR sequence
                pos = self.items(start, None, charset, not group & 1 and _public(tag)[1])
                continue
            pos = start + length
            if pos > size:
                self.need(pos)
            if vr == "SQ":
                self.items(start, pos, charset, not group & 1 and _public(tag)[1])
                continue
            if group & 1:
                if 0x10 <= element <= 0xFF:
                    creators[tag] = self.convert(tag, "LO", data[start:pos], charset)
                elif vr == "PN":
                    self.collect(tag, vr, data[start:pos], charset)
                continue
            if tag == _CHARSET:
                found = self.convert(tag, "CS", data[start:pos], charset)
                charset = convert_encodings(found) if found else charset
            elif tag == _PATIENT_ID and top:
                self.patient = str(self.convert(tag, vr, data[start:pos], charset) or "").strip()
            elif tag == _STUDY_UID and top:
                self.study = str(self.convert(tag, vr, data[start:pos], charset) or "").strip()
            elif codes and tag in _CODE_TAGS:
                text = str(self.convert(tag, vr, data[start:pos], charset) or "").strip()
                if text:
                    self.values.add(text)
            if vr == "PN" or (public(tag) or _public(tag))[1]:
                self.collect(tag, vr, data[start:pos], charset)
        if pos != end:
            raise _Slow  # an element runs past the end of its item
        return pos

    def items(self, pos: int, end: int | None, charset: str | list[str], codes: bool) -> int:
        """Scan the items of a sequence value; return where it ends."""
        while end is None or pos < end:
            self.need(pos + 8)
            group, element = _HH.unpack_from(self.data, pos)
            (length,) = _L.unpack_from(self.data, pos + 4)
            tag = group << 16 | element
            if tag == _SEQ_END:
                return pos + 8
            if tag != _ITEM:
                raise _Slow
            if length == _UNDEFINED:
                pos = self.dataset(pos + 8, None, charset, codes=codes)
            else:
                self.need(pos + 8 + length)
                self.dataset(pos + 8, pos + 8 + length, charset, codes=codes)
                pos += 8 + length
        if end is not None and pos != end:
            raise _Slow
        return pos

    def implicit_vr(self, tag: int, creators: dict[int, object]) -> str:
        """Return the VR pydicom gives an implicit VR element (pydicom.hooks.raw_element_vr)."""
        if not tag >> 16 & 1:
            return _public(tag)[0].split(" or ")[0] or "UN"
        return self.private_vr(tag, creators)

    @staticmethod
    def private_vr(tag: int, creators: dict[int, object]) -> str:
        """Return a private element's VR as pydicom finds it through its creator, else UN."""
        element = tag & 0xFFFF
        if 0x10 <= element <= 0xFF:
            return "LO"
        creator = creators.get(tag & 0xFFFF0000 | element >> 8) if element & 0xFF00 else None
        if creator is None or creator == "":
            return "UN"
        if not isinstance(creator, str):
            raise _Slow
        try:
            return private_dictionary_VR(tag, creator)
        except KeyError:
            return "UN"

    def unknown_vr(self, tag: int, creators: dict[int, object], length: int) -> str:
        """Return "UN" where pydicom keeps it as UN and never reads it; raise where it re-reads it."""
        if tag >> 16 & 1:
            vr = self.private_vr(tag, creators)
        else:
            vr, identity = _public(tag)
            if identity or length == _UNDEFINED:
                raise _Slow
        if vr and vr != "UN" and ("SQ" in vr or "PN" in vr or length == _UNDEFINED):
            raise _Slow
        return "UN"


def scan_values(path: str, memo: dict[object, Any]) -> _Found | None:
    """Return a file's identifying values, PatientID and Study Instance UID, as pydicom reads them.

    None when this scan does not model the file (the caller reads it with pydicom).
    ``memo`` maps a collected element (character set, tag, VR, bytes) to its values, and
    an element read for its value (PatientID, a private creator) to that value.
    """
    try:
        with open(path, "rb") as fp:
            data = fp.read(_HEAD)
            whole = len(data) < _HEAD
            try:
                return _scan(data, whole, memo)
            except _More:
                data += fp.read()
        return _scan(data, True, memo)
    except (_Slow, _More, OSError, struct.error, ValueError, KeyError, TypeError, LookupError):
        return None


def _scan(data: bytes, whole: bool, memo: dict[object, Any]) -> _Found:
    scan = _Scan(data, whole, memo)
    if data[128:132] != b"DICM":
        raise _Slow
    pos, syntax = 132, None
    while True:  # the file meta group: explicit VR little endian (PS3.10 7.1)
        scan.need(pos + 8)
        group, element = _HH.unpack_from(data, pos)
        if group != 2:
            break
        _, length, start = scan.explicit(pos)
        scan.need(start + length)
        if element == 0x0010:
            syntax = data[start:start + length].rstrip(b"\0 ").decode("ascii")
        pos = start + length
    if syntax is None or syntax in ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"):
        raise _Slow  # deflated or big endian: pydicom's reader
    scan.implicit = syntax == "1.2.840.10008.1.2"
    looks_explicit = data[pos + 4:pos + 6] in VR_NAMES
    if looks_explicit == scan.implicit:
        raise _Slow  # pydicom would follow the data, not the transfer syntax
    scan.dataset(pos, None, default_encoding, top=True)
    return scan.values, scan.patient, scan.study

"""Parse a DICOM file's header from its bytes into the data set pydicom gives, at less cost.

The cleaning pass of folder de-identification (:mod:`sarcoma_xnat.deid.split`) needs
each file's header as pydicom's ``dcmread(..., stop_before_pixels=True)`` returns it:
a :class:`~pydicom.dataset.FileDataset` of raw elements, undefined-length sequences
parsed, the file meta and encodings set. pydicom builds it through a general reader
that costs about as much as cleaning the header. :func:`read_header` builds the same
objects directly from the bytes for the layouts almost every file has: a preamble,
an explicit VR little endian file meta group, and a data set in implicit or explicit
VR little endian (native or encapsulated transfer syntaxes). Undefined-length
sequences are handed to pydicom's own ``read_sequence``, and the data set, file meta
and encodings are made with pydicom's constructors in the order ``read_partial``
makes them, so the result is the same objects pydicom makes (a test compares them on
every file the tests have).

Whatever it does not model exactly — no preamble, a transfer syntax that is missing,
big endian, deflated or private, a command group, data that does not follow the
transfer syntax's VR encoding, an unknown VR, an undefined-length value that is not a
sequence, an element running past the end of the file — makes it return None, and the
caller reads that file with pydicom.
"""

from __future__ import annotations

import io
import struct

from pydicom import config
from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement, empty_value_for_VR
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.filereader import read_sequence
from pydicom.tag import BaseTag
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
                         ImplicitVRLittleEndian, PrivateTransferSyntaxes)
from pydicom.values import convert_string

from sarcoma_xnat.deid.dicomio import LONG_VRS, VR_NAMES

__all__ = ["read_header"]

_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END = 0xFFFEE000, 0xFFFEE00D
_CHARSET = 0x00080005
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})  # pydicom's _at_pixel_data
_EXPLICIT = struct.Struct("<HH2sH")
_IMPLICIT = struct.Struct("<HHL")
_LENGTH = struct.Struct("<L")
_TAG = struct.Struct("<HH")


class _Unmodelled(Exception):
    """This file needs pydicom's reader."""


def read_header(data: bytes) -> tuple[FileDataset, int] | None:
    """Return the header pydicom reads from ``data`` with ``stop_before_pixels``, and its end.

    The end is the offset of the top-level pixel data element (or of the end of the
    file): where pydicom's reader stops. None when this reader does not model the
    file; ``pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)`` then reads it.
    """
    if data[128:132] != b"DICM":
        return None
    try:
        return _read(data)
    except (_Unmodelled, struct.error):
        return None


def _read(data: bytes) -> tuple[FileDataset, int]:
    meta_elements, pos = _elements(data, 132, False, group=2)
    if not meta_elements:
        raise _Unmodelled
    # read_partial's objects, less the intermediate data sets whose only lasting part is
    # their element dict (FileMetaDataset and FileDataset take over the dict, not the rest)
    file_meta = FileMetaDataset(meta_elements)
    file_meta.set_original_encoding(is_implicit_vr=False, is_little_endian=True,
                                    character_encoding=default_encoding)
    file_meta[next(iter(meta_elements))]  # pydicom reads the first element to test the meta
    if 0x00020000 in meta_elements:  # FileMetaInformationGroupLength
        file_meta.FileMetaInformationGroupLength  # noqa: B018 - and the group length
    if pos >= len(data) or data[pos:pos + 2] == b"\0\0":  # empty data set, or a command group
        raise _Unmodelled
    syntax = file_meta.get("TransferSyntaxUID")
    if syntax is None or syntax in (ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian) \
            or syntax in PrivateTransferSyntaxes:
        raise _Unmodelled
    implicit = syntax == ImplicitVRLittleEndian
    raw_vr = data[pos + 4:pos + 6]
    looks_implicit = len(raw_vr) == 2 and not (0x40 < raw_vr[0] < 0x5B and 0x40 < raw_vr[1] < 0x5B)
    if looks_implicit != implicit:
        raise _Unmodelled  # pydicom follows the data (with a warning), or stops at once
    elements, end = _elements(data, pos, implicit)
    ds = FileDataset(io.BytesIO(data), elements, data[:128], file_meta, implicit, True)
    ds.set_original_encoding(implicit, True, ds._character_set)
    return ds, end


def _elements(data: bytes, pos: int, implicit: bool,
              group: int | None = None) -> tuple[dict[BaseTag, object], int]:
    """Read top-level elements from ``pos`` as pydicom's ``data_element_generator`` does.

    With ``group``, stop at the first element of another group (the file meta); else at
    the pixel data or the end of the data. Return the elements and where reading stopped.
    """
    elements: dict[BaseTag, object] = {}
    encoding: str | list[str] = default_encoding
    size = len(data)
    stream: io.BytesIO | None = None
    explicit, implicit_head, long_length = _EXPLICIT.unpack_from, _IMPLICIT.unpack_from, \
        _LENGTH.unpack_from
    vrs, long_vrs, new, raw_type, base_tag = VR_NAMES, LONG_VRS, tuple.__new__, RawDataElement, \
        BaseTag
    while pos + 8 <= size:
        if implicit:
            number, element, length = implicit_head(data, pos)
            vr: str | None = None
            start = pos + 8
        else:
            number, element, raw_vr, length = explicit(data, pos)
            if group is not None and number != group:
                return elements, pos  # the end of the file meta, whatever follows it
            vr = vrs.get(raw_vr)
            if vr is None:
                raise _Unmodelled  # pydicom guesses (implicit switch, 2-byte length)
            start = pos + 8
            if vr in long_vrs:
                if pos + 12 > size:
                    raise _Unmodelled
                (length,) = long_length(data, pos + 8)
                start = pos + 12
        tag = number << 16 | element
        if tag == _ITEM_END:
            raise _Unmodelled  # a delimiter where an element belongs
        if group is None and tag in _PIXEL_TAGS:
            return elements, pos
        key = base_tag(tag)
        if length != _UNDEFINED:
            end = start + length
            if end > size:
                raise _Unmodelled  # truncated: pydicom keeps the short value
            value = data[start:end] if length else empty_value_for_VR(vr, raw=True)
            if tag == _CHARSET:
                encoding = convert_encodings(convert_string(value or b"", True))
            # RawDataElement(key, vr, length, value, start, implicit, True), made directly
            elements[key] = new(raw_type, (key, vr, length, value, start, implicit, True, True,
                                           False))
            pos = end
            continue
        if group is not None:
            raise _Unmodelled
        vr = _undefined_length_vr(data, start, tag, vr)
        if vr != "SQ":
            raise _Unmodelled  # pydicom reads it up to a delimiter
        if stream is None:
            stream = io.BytesIO(data)
        stream.seek(start)
        sequence = read_sequence(stream, implicit, True, length, encoding)
        elements[key] = DataElement(key, vr, sequence, start, is_undefined_length=True)
        pos = stream.tell()
    if pos != size:
        raise _Unmodelled  # a few bytes pydicom would silently leave
    return elements, pos


def _undefined_length_vr(data: bytes, start: int, tag: int, vr: str | None) -> str | None:
    """Return the VR pydicom gives an undefined-length element (PS3.5 6.2.2)."""
    if vr == "UN" and config.settings.infer_sq_for_un_vr:
        return "SQ"
    if vr is None or vr == "UN" and config.replace_un_with_known_vr:
        try:
            return dictionary_VR(tag)
        except KeyError:
            if start + 4 <= len(data) and _TAG.unpack_from(data, start) == (0xFFFE, 0xE000):
                return "SQ"
    return vr

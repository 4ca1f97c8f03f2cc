"""Read a DICOM file's header only and keep its pixel data as the bytes it has on disk.

De-identification changes the header, never the pixels (unless the Clean Pixel Data
option says so, :mod:`sarcoma_xnat.deid.pixels`). So the file is read once into
memory, the header is parsed up to the Pixel Data element (as pydicom's
``stop_before_pixels`` reads it; :mod:`sarcoma_xnat.deid.header` makes the same data
set faster for the usual layouts), and the Pixel Data element — tag, VR, length and value,
native or encapsulated — is kept as raw bytes and appended untouched after the new
header. The output keeps the input's transfer syntax, so those bytes are valid as
they are. A file whose layout does not allow this (deflated data set, elements after
the pixel data, a big-endian encapsulated value) is read whole, as before. Data Set
Trailing Padding (FFFC,FFFC) after the pixel data is left out, as the de-identifier
removes it anywhere at the top level: it has no meaning (PS3.10 7.2) but may hold any
bytes.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import DeflatedExplicitVRLittleEndian

from sarcoma_xnat.deid.dicomio import check_complete
from sarcoma_xnat.deid.encode import Source, encode
from sarcoma_xnat.deid.header import read_header
from sarcoma_xnat.errors import DeidentificationError

__all__ = ["SplitFile", "read_split", "split_bytes", "whole_bytes"]

_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_LONG_VRS = frozenset({b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UN", b"UT", b"UC",
                       b"UR"})
_UNDEFINED = 0xFFFFFFFF
_ITEM, _DELIMITER, _PADDING = 0xFFFEE000, 0xFFFEE0DD, 0xFFFCFFFC
_READ_ERRORS = (EOFError, OSError, ValueError, struct.error, KeyError, TypeError)


@dataclass
class SplitFile:
    """A DICOM file read as a header data set plus its pixel data element's raw bytes.

    Attributes
    ----------
    dataset : Dataset
        The header (everything before the pixel data); the whole file when ``pixels`` is
        empty and ``has_pixels`` is true (read whole).
    pixels : bytes
        The Pixel Data (or Float/Double Float Pixel Data) element as encoded in the file.
    has_pixels : bool
        Whether the file has pixel data (in ``pixels`` or in ``dataset``).
    source : tuple, optional
        The file's bytes and the header's elements as read, when the fast reader read
        it: elements still unchanged are written as those bytes
        (:func:`~sarcoma_xnat.deid.encode.encode`).
    span : tuple of int, optional
        Where ``pixels`` starts and ends in the file (None when read whole).
    """

    dataset: Dataset
    pixels: bytes
    has_pixels: bool
    source: Source | None = None
    span: tuple[int, int] | None = None

    def encode(self) -> bytes:
        """Return the (de-identified) header followed by the untouched pixel data element."""
        return self.encode_header() + self.pixels

    def encode_header(self) -> bytes:
        """Return the (de-identified) file up to the pixel data element (all of it if read whole)."""
        if self.pixels and max(map(int, self.dataset._dict), default=0) >= _PIXEL_TAGS[1]:
            raise DeidentificationError("the header gained an element after the pixel data")
        return encode(self.dataset, self.source)


def read_split(path: str | os.PathLike[str], name: str | None = None) -> SplitFile:
    """Read ``path`` once: parse the header, keep the pixel data element as raw bytes.

    Raises
    ------
    DeidentificationError
        Naming the file: not DICOM, unreadable, truncated (header or pixel data). The
        message never quotes a value from the file.
    """
    label = name or Path(path).name
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DeidentificationError(f"unreadable file ({type(exc).__name__})", file=label) from None
    return split_bytes(data, label)


def split_bytes(data: bytes, label: str) -> SplitFile:
    """Split the bytes of a DICOM file as :func:`read_split` does; ``label`` names it in errors."""
    fast = read_header(data)
    source: Source | None = None
    if fast is not None:
        ds, start = fast
        # the raw elements as read (immutable: one still in the data set is unchanged, and
        # is copied as its bytes); a parsed sequence may be cleaned in place, so it is not
        source = (data, {tag: elem for tag, elem in ds._dict.items()
                         if elem.__class__ is RawDataElement})
    else:
        stream = io.BytesIO(data)
        ds = _parse(stream, label, stop_before_pixels=True)
        start = stream.tell()
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    end = None
    if syntax != DeflatedExplicitVRLittleEndian and start < len(data):
        end = _element_end(data, start, ds, label)
    rest = len(data) if end is None else _padding_end(data, end, ds)
    if syntax == DeflatedExplicitVRLittleEndian or (start < len(data) and rest != len(data)):
        return whole_bytes(data, label)
    pixels = data[start:end] if end is not None else b""
    check_complete(ds, label, pixel_bytes=_value_length(pixels, ds) if pixels else None,
                   has_pixels=bool(pixels))
    return SplitFile(ds, pixels, bool(pixels), source, (start, start + len(pixels)))


def whole_bytes(data: bytes, label: str) -> SplitFile:
    """Read the bytes of a DICOM file whole: the pixel data (if any) is in the data set."""
    whole = _parse(io.BytesIO(data), label, stop_before_pixels=False)
    check_complete(whole, label)
    return SplitFile(whole, b"", any(t in whole for t in _PIXEL_TAGS))


def _parse(stream: io.BytesIO, label: str, stop_before_pixels: bool) -> Dataset:
    try:
        return pydicom.dcmread(stream, stop_before_pixels=stop_before_pixels)
    except InvalidDicomError:
        raise DeidentificationError("not a DICOM file (no DICM prefix or file meta)",
                                    file=label) from None
    except _READ_ERRORS as exc:
        raise DeidentificationError(f"unreadable DICOM file ({type(exc).__name__})",
                                    file=label) from None


def _header(data: bytes, pos: int, ds: Dataset) -> tuple[int, int, int, str]:
    """Return (tag, header length, value length, byte order) of the element at ``pos``."""
    order = "<" if ds.is_little_endian is not False else ">"
    group, element = struct.unpack_from(order + "HH", data, pos)
    if ds.is_implicit_VR:
        (length,) = struct.unpack_from(order + "L", data, pos + 4)
        return group << 16 | element, 8, length, order
    vr = data[pos + 4:pos + 6]
    if vr in _LONG_VRS:
        (length,) = struct.unpack_from(order + "L", data, pos + 8)
        return group << 16 | element, 12, length, order
    (length,) = struct.unpack_from(order + "H", data, pos + 6)
    return group << 16 | element, 8, length, order


def _element_end(data: bytes, pos: int, ds: Dataset, label: str) -> int | None:
    """Return where the pixel data element at ``pos`` ends; None if it is not one to copy."""
    try:
        tag, head, length, order = _header(data, pos, ds)
        if tag not in _PIXEL_TAGS:
            return None
        if length != _UNDEFINED:
            if pos + head + length > len(data):
                raise DeidentificationError(
                    f"truncated pixel data: {len(data) - pos - head} of {length} bytes",
                    file=label)
            return pos + head + length
        if order != "<":
            return None  # big-endian encapsulation is not conformant: read it whole
        at = pos + head
        while True:  # encapsulated: items up to the sequence delimiter (PS3.5 A.4)
            item_tag = struct.unpack_from("<HH", data, at)
            item_len = struct.unpack_from("<L", data, at + 4)[0]
            at += 8
            if item_tag[0] << 16 | item_tag[1] == _DELIMITER:
                return at
            if item_tag[0] << 16 | item_tag[1] != _ITEM or item_len == _UNDEFINED \
                    or at + item_len > len(data):
                raise DeidentificationError("truncated or malformed encapsulated pixel data",
                                            file=label)
            at += item_len
    except struct.error:
        raise DeidentificationError("truncated pixel data element", file=label) from None


def _padding_end(data: bytes, pos: int, ds: Dataset) -> int:
    """Return where a trailing padding element at ``pos`` ends (``pos`` if there is none)."""
    if len(data) - pos < 8:
        return pos
    try:
        tag, head, length, _ = _header(data, pos, ds)
    except struct.error:
        return pos
    return pos + head + length if tag == _PADDING and length != _UNDEFINED else pos


def _value_length(pixels: bytes, ds: Dataset) -> int | None:
    """Return the value length of a native pixel data element (None when encapsulated)."""
    _, head, length, _ = _header(pixels, 0, ds)
    return None if length == _UNDEFINED else length

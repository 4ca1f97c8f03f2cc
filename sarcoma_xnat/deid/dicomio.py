"""Reading and writing DICOM files for de-identification, refusing incomplete ones.

pydicom reads a truncated file without complaint (the last value is just shorter), so
this module checks what it read: declared against read lengths, the identity of the
instance, and the size of native pixel data.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, VR

from sarcoma_xnat.errors import DeidentificationError

__all__ = ["LONG_VRS", "LONG_VR_BYTES", "VR_NAMES", "check_complete", "dataset_bytes",
           "read_dicom"]

_UNDEFINED = 0xFFFFFFFF
#: the two-letter VRs pydicom reads as explicit (its ``ENCODED_VR``), as bytes -> name
VR_NAMES: dict[bytes, str] = {vr.value.encode(): vr.value for vr in VR if len(vr.value) == 2}
#: VRs encoded explicitly with 2 reserved bytes and a 4-byte length (PS3.5 7.1.2)
LONG_VRS: frozenset[str] = frozenset(vr.value for vr in EXPLICIT_VR_LENGTH_32)
LONG_VR_BYTES: frozenset[bytes] = frozenset(vr.encode() for vr in LONG_VRS)
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


def read_dicom(path: str | os.PathLike[str], name: str | None = None) -> Dataset:
    """Read a DICOM Part 10 file, raising if it is not DICOM or is truncated.

    Parameters
    ----------
    path : path-like
        The file.
    name : str, optional
        How to name the file in errors (a path relative to the input folder).

    Raises
    ------
    DeidentificationError
        Naming the file: not DICOM, unreadable, or incomplete. The message never quotes
        a value from the file.
    """
    label = name or Path(path).name
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError:
        raise DeidentificationError("not a DICOM file (no DICM prefix or file meta)",
                                    file=label) from None
    except (EOFError, OSError, ValueError, struct.error, KeyError, TypeError) as exc:
        raise DeidentificationError(f"unreadable DICOM file ({type(exc).__name__})",
                                    file=label) from None
    check_complete(ds, label)
    return ds


def check_complete(ds: Dataset, label: str, pixel_bytes: int | None = None,
                   has_pixels: bool | None = None) -> None:
    """Raise :class:`DeidentificationError` if ``ds`` was read from a truncated file.

    ``has_pixels`` and ``pixel_bytes`` (the native pixel data's value length) describe
    pixel data read apart from ``ds`` (:mod:`sarcoma_xnat.deid.split`); by default the
    pixel data is looked for in ``ds``.
    """
    keys = list(ds.keys())
    if not keys:
        raise DeidentificationError("empty DICOM data set (truncated file?)", file=label)
    last = ds.get_item(keys[-1])
    if getattr(last, "is_raw", False) and last.length != _UNDEFINED and last.value is not None \
            and len(last.value) < last.length:
        raise DeidentificationError(
            f"truncated file: element ({keys[-1] >> 16:04X},{keys[-1] & 0xFFFF:04X}) declares "
            f"{last.length} bytes, {len(last.value)} present", file=label)
    for keyword, tag in (("SOPClassUID", 0x00080016), ("SOPInstanceUID", 0x00080018)):
        if tag not in ds._dict:
            raise DeidentificationError(f"incomplete DICOM file: no {keyword} (truncated file?)",
                                        file=label)
    if has_pixels is None:
        has_pixels = any(t in ds for t in _PIXEL_TAGS)
        if 0x7FE00010 in ds:
            pixel_bytes = len(ds.get_item(0x7FE00010).value or b"")
    if 0x00280010 in ds._dict and 0x00280011 in ds._dict and not has_pixels:  # Rows, Columns
        raise DeidentificationError("image without pixel data (truncated file?)", file=label)
    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None)
    if pixel_bytes is not None and syntax is not None and not syntax.is_compressed:
        expected = _native_pixel_bytes(ds)
        found = pixel_bytes
        if expected is not None and found < expected:
            raise DeidentificationError(f"truncated pixel data: {found} of {expected} bytes",
                                        file=label)


def _native_pixel_bytes(ds: Dataset) -> int | None:
    try:
        bits = (int(_value(ds, 0x00280010, "Rows")) * int(_value(ds, 0x00280011, "Columns"))
                * int(_value(ds, 0x00280002, "SamplesPerPixel", 1))
                * int(_value(ds, 0x00280008, "NumberOfFrames", 1) or 1)
                * int(_value(ds, 0x00280100, "BitsAllocated")))
    except (AttributeError, TypeError, ValueError):
        return None
    return (bits + 7) // 8


_NO_DEFAULT = object()


def _value(ds: Dataset, tag: int, keyword: str, default: object = _NO_DEFAULT) -> object:
    """Return ``ds.<keyword>`` (or ``ds.get(keyword, default)``); a US value as read stays raw.

    A raw US element of one value is unpacked from its bytes (what pydicom would give)
    without converting the element, so it is written back as read.
    """
    elem = ds._dict.get(tag)  # type: ignore[call-overload]
    if elem is None and default is not _NO_DEFAULT:
        return default
    if elem is not None and getattr(elem, "is_raw", False) and elem.VR == "US" \
            and isinstance(elem.value, bytes) and len(elem.value) == 2:
        return struct.unpack("<H" if elem.is_little_endian else ">H", elem.value)[0]
    return getattr(ds, keyword) if default is _NO_DEFAULT else ds.get(keyword, default)


def dataset_bytes(ds: Dataset) -> bytes:
    """Return ``ds`` encoded as a DICOM Part 10 file (preamble, file meta, data set)."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()

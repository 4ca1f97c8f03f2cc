"""What else an XNAT input mount holds: bookkeeping files to ignore, files still being written.

The Container Service mounts an object's archive directory itself
(``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/CommandResolutionServiceImpl.java``,
``resolveCommandMount``), so a step sees what XNAT keeps beside the data:

* ``<label>_catalog.xml`` in every resource folder (``scan_<id>_catalog.xml`` for a scan's
  DICOM), written by ``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/services/archive/impl/legacy/DefaultCatalogService.java``;
  its root element is ``cat:Catalog`` or ``cat:DCMCatalog`` in the namespace
  ``http://nrg.wustl.edu/catalog``;
* a scan's ``SNAPSHOTS`` resource (GIF thumbnails XNAT makes for its web pages);
* the AIM copy of an RTSTRUCT ROI collection: resource ``AIM`` holding ``<label>.xml`` whose root
  is AIM's ``ImageAnnotationCollection`` (the OHIF-XNAT ROI plugin's ``storeAlternateTypes``, see
  ``/work/shared/reference/events-and-roi.md`` §3.5, §4.1).

:func:`is_bookkeeping` says whether a file is one of those; steps leave them out silently
(nothing of them is logged but a count, so no name with PHI reaches a log).
:func:`dicom_complete` says whether a DICOM file is whole: the ROI plugin saves its
assessor before the file is written, so a step started by that save may see a
catalog without the file, or a file still being written.
"""

from __future__ import annotations

import os
import struct
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

from pydicom import dcmread

__all__ = ["BOOKKEEPING_FOLDERS", "CATALOG_NAMESPACE", "dicom_complete", "is_bookkeeping"]

#: XNAT's catalog XML namespace (``cat:Catalog``, ``cat:DCMCatalog``)
CATALOG_NAMESPACE = "http://nrg.wustl.edu/catalog"
#: resource folders that never hold data a step reads: scan snapshots, the ROI plugin's AIM copy
BOOKKEEPING_FOLDERS = ("SNAPSHOTS", "AIM")
_CATALOG_ROOTS = {f"{{{CATALOG_NAMESPACE}}}Catalog", f"{{{CATALOG_NAMESPACE}}}DCMCatalog"}
_AIM_ROOT = "ImageAnnotationCollection"
#: Type 1 sequences of an RT Structure Set (PS3.3 C.8.8.5, C.8.8.6, C.8.8.8)
_RTSTRUCT_SEQUENCES = ("StructureSetROISequence", "ROIContourSequence", "RTROIObservationsSequence")


def _xml_root(path: Path) -> str | None:
    """Return the root element tag of an XML file, or ``None`` if it is not XML."""
    try:
        for _event, elem in ET.iterparse(path, events=("start",)):
            return str(elem.tag)
    except (ET.ParseError, OSError, UnicodeDecodeError):
        return None
    return None


def is_bookkeeping(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> bool:
    """Return whether ``path`` is an XNAT bookkeeping file (catalog, snapshot, AIM copy).

    ``root`` is the mount: only folders below it count (a mount that *is* a
    ``SNAPSHOTS`` resource is read as asked).
    """
    path = Path(path)
    parts = path.relative_to(root).parts[:-1] if root is not None else path.parts[:-1]
    if any(part in BOOKKEEPING_FOLDERS for part in parts):
        return True
    name = path.name.lower()
    if name.endswith("_catalog.xml"):
        return True
    if not name.endswith(".xml"):
        return False
    tag = _xml_root(path)
    return tag is not None and (tag in _CATALOG_ROOTS or tag.rsplit("}", 1)[-1] == _AIM_ROOT)


_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT",
             b"UV"}
_UNDEFINED = 0xFFFFFFFF
_IMPLICIT_LE = "1.2.840.10008.1.2"
#: deflated and big-endian streams are not walked (read by pydicom only)
_UNWALKABLE = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2")
_ITEM, _ITEM_END, _SEQ_END = (0xFFFE, 0xE000), (0xFFFE, 0xE00D), (0xFFFE, 0xE0DD)


class _Truncated(Exception):
    """The element stream ends inside an element."""


def _elements(buf: bytes, pos: int, end: int, explicit: bool, in_item: bool = False) -> int:
    """Walk the elements of ``buf[pos:end]``; return where they end (after an item delimiter)."""
    while pos < end:
        if pos + 8 > end:
            raise _Truncated
        group, elem = struct.unpack_from("<HH", buf, pos)
        if (group, elem) == _ITEM_END:
            if not in_item:
                raise _Truncated
            return pos + 8
        if explicit and group != 0xFFFE:
            vr = buf[pos + 4:pos + 6]
            if vr in _LONG_VRS:
                if pos + 12 > end:
                    raise _Truncated
                length, pos = struct.unpack_from("<I", buf, pos + 8)[0], pos + 12
            else:
                length, pos = struct.unpack_from("<H", buf, pos + 6)[0], pos + 8
        else:
            length, pos = struct.unpack_from("<I", buf, pos + 4)[0], pos + 8
        if length == _UNDEFINED:
            pos = _items(buf, pos, end, explicit)
        elif pos + length > end:
            raise _Truncated
        else:
            pos += length
    if in_item:
        raise _Truncated  # an undefined-length item never closed
    return pos


def _items(buf: bytes, pos: int, end: int, explicit: bool) -> int:
    """Walk the items of an undefined-length sequence (or pixel fragments) to its delimiter."""
    while True:
        if pos + 8 > end:
            raise _Truncated
        tag = struct.unpack_from("<HH", buf, pos)
        length = struct.unpack_from("<I", buf, pos + 4)[0]
        pos += 8
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            raise _Truncated
        if length == _UNDEFINED:
            pos = _elements(buf, pos, end, explicit, in_item=True)
        elif pos + length > end:
            raise _Truncated
        else:
            pos += length


def dicom_complete(path: str | os.PathLike[str]) -> bool:
    """Return whether a DICOM Part 10 file is whole: every element ends inside the file.

    pydicom reads a truncated file without complaint (the last elements just go
    missing), so the element stream is walked here. For a SEG the pixel data must
    also be as long as its frames need, and an RTSTRUCT must hold its ROI
    sequences — which catches a file cut exactly between two elements.
    """
    try:
        buf = Path(path).read_bytes()
    except OSError:
        return False
    if len(buf) < 132 or buf[128:132] != b"DICM":
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns on values cut short
            ds = dcmread(path)
        syntax = str(ds.file_meta.get("TransferSyntaxUID", ""))
        if syntax not in _UNWALKABLE:
            _elements(buf, _meta_end(buf), len(buf), explicit=syntax != _IMPLICIT_LE)
    except Exception:  # noqa: BLE001 - a file that cannot be walked or read is not whole
        return False
    return _semantic_ok(ds)


def _meta_end(buf: bytes) -> int:
    """Return where the file meta group (explicit VR little endian) ends."""
    pos = 132
    while pos + 8 <= len(buf) and struct.unpack_from("<H", buf, pos)[0] == 0x0002:
        vr = buf[pos + 4:pos + 6]
        if vr in _LONG_VRS:
            length, pos = struct.unpack_from("<I", buf, pos + 8)[0], pos + 12
        else:
            length, pos = struct.unpack_from("<H", buf, pos + 6)[0], pos + 8
        pos += length
    if pos > len(buf):
        raise _Truncated
    return pos


def _semantic_ok(ds: object) -> bool:
    """Return whether the data set has a modality, a SEG all its pixel data, an RTSTRUCT its ROIs."""
    modality = str(getattr(ds, "Modality", ""))
    if not modality:
        return False  # cut right after the file meta: no data set at all
    if modality == "SEG":
        data = getattr(ds, "PixelData", None)
        if data is None:
            return False
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        bits = int(getattr(ds, "BitsAllocated", 1) or 1)
        needed = (int(ds.Rows) * int(ds.Columns) * frames * bits + 7) // 8  # type: ignore[attr-defined]
        return len(data) >= needed
    if modality == "RTSTRUCT":
        return all(getattr(ds, name, None) for name in _RTSTRUCT_SEQUENCES)
    return True

"""What the profile adds to a de-identified data set, and the file meta it is written with.

PS3.15 E.1.1 asks that a de-identified instance say so: Patient Identity Removed,
the De-identification Method and its Code Sequence (one code per option applied,
plus Clean Pixel Data for an instance whose pixels were changed, E.3.1), and
Longitudinal Temporal Information Modified; and that the file meta information and
preamble be replaced (item 7), since they may carry identifying values.
"""

from __future__ import annotations

from pydicom import config
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from sarcoma_xnat import __version__
from sarcoma_xnat.deid.attributes import as_read_value
from sarcoma_xnat.deid.encode import encoded_element
from sarcoma_xnat.deid.pixels import CLEAN_PIXEL_DATA_CODE
from sarcoma_xnat.deid.profile import PROFILE_EDITION

__all__ = ["METHOD", "replace_file_meta", "stamp"]

_METHOD_CODES = 0x00120064  # De-identification Method Code Sequence
_IDENTITY_REMOVED, _METHOD, _LONGITUDINAL = 0x00120062, 0x00120063, 0x00280303
#: the De-identification Method this tool records
METHOD = f"sarcoma-xnat {__version__}: PS3.15 {PROFILE_EDITION} Basic Profile"


def stamp(ds: Dataset, codes: list[tuple[str, str]], pseudonym: str, shift: int | None,
          keep_dates: bool, pixels_cleaned: bool, cache: dict[object, RawDataElement]) -> None:
    """Add the attributes that record the de-identification to ``ds`` (PS3.15 E.1.1).

    ``codes`` are the profile's method codes (value, meaning); ``cache`` keeps the
    encoded code sequence per encoding and character set: the same items every time.
    """
    if 0x00100010 not in ds._dict:  # PatientName
        ds.PatientName = pseudonym
    form = (ds.original_encoding, tuple(ds._character_set), pixels_cleaned)
    _put(ds, _IDENTITY_REMOVED, "PatientIdentityRemoved", "YES", form, cache)
    previous = ds.get("DeidentificationMethod")  # a value: str, or MultiValue when VM > 1
    methods = ([] if not previous else [previous] if isinstance(previous, str)
               else list(previous))
    if methods:
        ds.DeidentificationMethod = [str(m) for m in methods if m and m != METHOD] + [METHOD]
    else:
        _put(ds, _METHOD, "DeidentificationMethod", [METHOD], form, cache)
    encoded = cache.get(form)
    if encoded is not None:
        ds._dict[encoded.tag] = encoded  # type: ignore[assignment]
    else:
        items = []
        if pixels_cleaned:  # PS3.15 E.3.1, for this instance only
            codes = codes[:1] + [CLEAN_PIXEL_DATA_CODE] + codes[1:]
        for value, meaning in codes:
            item = Dataset()
            item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = (value, "DCM", meaning)
            items.append(item)
        ds.DeidentificationMethodCodeSequence = Sequence(items)
        encoded = encoded_element(ds, _METHOD_CODES)
        if encoded is not None:
            cache[form] = encoded
    _put(ds, _LONGITUDINAL, "LongitudinalTemporalInformationModified",
         "MODIFIED" if shift is not None else "UNMODIFIED" if keep_dates else "REMOVED",
         form, cache)


def _put(ds: Dataset, tag: int, keyword: str, value: str | list[str], form: object,
         cache: dict[object, RawDataElement]) -> None:
    """Set ``ds.<keyword> = value``, as the raw element it was encoded as before in this form."""
    key = (form, tag, value if isinstance(value, str) else tuple(value))
    encoded = cache.get(key)
    if encoded is not None:
        ds._dict[encoded.tag] = encoded  # type: ignore[assignment]
        return
    setattr(ds, keyword, value)
    encoded = encoded_element(ds, tag)
    if encoded is not None:
        cache[key] = encoded


def replace_file_meta(ds: Dataset) -> None:
    """Replace the file meta information and preamble with our own (PS3.15 E.1.1 item 7)."""
    old = getattr(ds, "file_meta", None)
    meta = FileMetaDataset()
    elements = [(0x00020001, "OB", b"\x00\x01"),  # the version pydicom's writer would add
                (0x00020002, "UI", as_read_value(ds, 0x00080016, "SOPClassUID")),
                (0x00020003, "UI", ds.get("SOPInstanceUID", ""))]
    if old is not None and 0x00020010 in old._dict:  # TransferSyntaxUID
        elements.append((0x00020010, "UI", old.TransferSyntaxUID))
    elements += [(0x00020012, "UI", PYDICOM_IMPLEMENTATION_UID),
                 (0x00020013, "SH", f"SXNAT_{__version__}"[:16])]
    for tag, vr, value in elements:  # as meta.<Keyword> = value makes them, without validation
        meta._dict[BaseTag(tag)] = DataElement(tag, vr, value, validation_mode=config.IGNORE)
    ds.file_meta = meta
    ds.preamble = b"\0" * 128

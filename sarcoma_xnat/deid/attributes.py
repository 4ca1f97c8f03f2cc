"""What the de-identifier knows of attributes: kept descriptors, coded entries, VR classes.

The constants the element walker (:mod:`sarcoma_xnat.deid.walker`) and its actions
(:mod:`sarcoma_xnat.deid.actions`) decide by, the context one walk carries, and the
value helpers they share: UN resolved to its dictionary VR (PS3.5 6.2.2), dates
shifted, bytes decoded in the data set's character set.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset

from sarcoma_xnat.deid.scrub import Scrubber

__all__ = ["BINARY_VRS", "CODE", "CODED_KEYWORDS", "DUMMY", "GONE", "GRAPHICS_GROUPS", "INERT_VRS",
           "KEEP", "KEPT_DESCRIPTORS", "PADDING", "PATIENT_ID", "PATIENT_NAME", "SCRUBBED_VRS",
           "STRING_VRS", "TEXT", "TEXT_VRS", "WALK", "WalkContext", "as_read_value", "decode_text",
           "dictionary_vr_of", "is_empty", "patient_id_of", "resolve_un", "shift_date"]

#: descriptors the study keeps (scrubbed) under Clean Descriptors; other "C" text is removed,
#: because free text (comments, reasons, histories) cannot be cleaned reliably by rule
KEPT_DESCRIPTORS = frozenset({
    "StudyDescription", "SeriesDescription", "ProtocolName", "ROIName", "StructureSetLabel",
    "StructureSetName", "ROIObservationLabel", "DerivationDescription",
    "PerformedProcedureStepDescription", "RequestedProcedureDescription",
    "ClinicalTrialSeriesDescription", "UserContentLabel", "AcquisitionDeviceProcessingDescription",
    "RTPlanLabel", "RTPlanName", "RTPlanDescription", "ContentLabel", "ContentDescription",
    "SegmentLabel", "SegmentDescription", "ImageComments", "SeriesDescriptionCodeSequence",
    "ScheduledProcedureStepDescription", "ReasonForRequestedProcedureCodeSequence",
    "FrameComments", "DoseReferenceDescription", "FractionGroupDescription", "BeamDescription",
    "ImagingServiceRequestComments", "RequestedProcedureComments", "PerformedProcedureStepComments",
    "AcquisitionComments", "ProtocolContextSequence", "StudyComments", "SeriesComments",
    "LabelText", "DerivationCodeSequence",
})

#: coded-entry attributes (PS3.3 Table 8.8-1): vocabulary, never identifying; a code meaning is
#: still checked for the names of this patient, nothing else
CODED_KEYWORDS = frozenset({
    "CodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "CodeMeaning", "LongCodeValue",
    "URNCodeValue", "ContextIdentifier", "ContextUID", "MappingResource", "MappingResourceUID",
    "CodingSchemeUID", "CodingSchemeRegistry", "CodingSchemeName", "CodingSchemeExternalID",
    "MappingResourceName", "ContextGroupVersion", "ContextGroupLocalVersion",
    "ContextGroupExtensionFlag", "ContextGroupExtensionCreatorUID", "EquivalentCodeSequence",
    "ValueType", "RelationshipType", "ContinuityOfContent",
})

TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC"})
SCRUBBED_VRS = TEXT_VRS | {"CS", "AE", "UR"}
BINARY_VRS = frozenset({"OB", "OW", "UN", "OD", "OF", "OL", "OV"})
STRING_VRS = TEXT_VRS | {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "PN", "TM", "UI", "UR"}
DUMMY = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "DS": "0", "IS": "0",
          "AS": "000Y", "UR": "", "AE": "ANONYMIZED"}
#: VRs whose unlisted attributes are kept as they are: their values are never read
INERT_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "AT", "TM", "DS", "IS", "AS", "OB",
                        "OW", "OD", "OF", "OL", "OV", "SV", "UV"})
class _Sentinel:
    """A marker compared by identity; pickled by name, so a worker process gets the same one."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> str:
        return self.name  # a module global: unpickled as this module's own object


KEEP, WALK, TEXT, CODE = (_Sentinel("KEEP"), _Sentinel("WALK"), _Sentinel("TEXT"),
                          _Sentinel("CODE"))  # plans, see Walker._plan
GONE = _Sentinel("GONE")  # in the memo: the element was removed
GRAPHICS_GROUPS = frozenset(range(0x5000, 0x5020, 2)) | frozenset(range(0x6000, 0x6020, 2))
PATIENT_NAME, PATIENT_ID, PADDING = 0x00100010, 0x00100020, 0xFFFCFFFC


@dataclass
class WalkContext:
    """What one walk over a data set carries: the patient's pseudonym and shift, the pool, counts."""

    pseudonym: str
    shift: int | None
    scrubber: Scrubber
    counts: Counter[str]


def resolve_un(ds: Dataset, tag: int) -> None:
    """Re-read a UN element of a known public attribute with its dictionary VR (PS3.5 6.2.2)."""
    from pydicom.dataelem import RawDataElement

    elem = ds[tag]
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return
    if vr == "UN" or " or " in vr or not isinstance(elem.value, bytes):
        return
    data = elem.value  # a UN value is always implicit VR little endian
    ds._dict[tag] = RawDataElement(elem.tag, vr, len(data), data, 0, True, True)
    ds[tag]  # convert now, so that a value that cannot be read fails here


def dictionary_vr_of(tag: int) -> str:
    """Return the dictionary VR of a public tag, "UN" if it is unknown."""
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def is_empty(ds: Dataset, tag: int) -> bool:
    """Return whether the element ``tag`` has no value (without decoding a read value)."""
    elem = ds.get_item(tag)
    if getattr(elem, "is_raw", False):
        return not elem.value or not elem.value.strip(b" \0")
    return not elem.value


def decode_text(data: bytes, ds: Dataset) -> str:
    """Return ``data`` read as text in the dataset's character set (Latin-1 if unknown)."""
    from pydicom.charset import decode_bytes

    encodings = getattr(ds, "_character_set", None) or ["iso8859"]
    try:
        return decode_bytes(data, list(encodings), set())
    except Exception:  # noqa: BLE001 - any byte string reads as Latin-1
        return data.decode("latin-1")


def shift_date(value: str, vr: str, days: int) -> str:
    """Shift a DA or DT value by ``days``; return "" when it is not a full date."""
    text = value.strip()
    if "-" in text[1:] and vr == "DA":  # a date range (query form)
        parts = text.split("-")
        if len(parts) != 2:
            return ""
        shifted = [shift_date(part, vr, days) if part else "" for part in parts]
        return "-".join(shifted) if any(shifted) else ""
    digits = text.replace(".", "") if vr == "DA" else text
    try:
        date = dt.datetime.strptime(digits[:8], "%Y%m%d").date()
    except ValueError:
        return ""
    return (date + dt.timedelta(days=days)).strftime("%Y%m%d") + (digits[8:] if vr == "DT" else "")


def as_read_value(ds: Dataset, tag: int, keyword: str, default: object = "",
                  multi: bool = False) -> object:
    """Return ``ds.get(keyword, default)``; a CS or UI element still as read is not converted.

    Its bytes are decoded as pydicom decodes them (``values.multi_string``: the default
    character set, trailing spaces and nulls removed, a list when multi-valued), so the
    element stays raw and is written back as read. A multi-valued one goes through
    pydicom unless ``multi`` (the caller reads a list as pydicom's MultiValue).
    """
    elem = ds._dict.get(tag)  # type: ignore[call-overload]
    if elem is None:
        return default  # what ds.get gives for an attribute it does not hold
    if getattr(elem, "is_raw", False) and elem.VR in ("CS", "UI") \
            and isinstance(elem.value, bytes) and (multi or b"\\" not in elem.value):
        items = elem.value.decode("latin-1").rstrip(" \x00").split("\\")
        return items[0] if len(items) == 1 else items
    return ds.get(keyword, default)


def patient_id_of(ds: Dataset) -> str:
    """Return ``str(ds.PatientID).strip()`` ("" if absent); plain ASCII still as read stays raw.

    A one-valued ASCII value (no escape, backslash or tilde: every DICOM character set
    reads it alike) is decoded as pydicom's ``convert_text`` decodes it, so the element
    is not converted and the walk's memo still knows it by its bytes.
    """
    elem = ds._dict.get(PATIENT_ID)  # type: ignore[call-overload]
    if elem is None:
        return ""
    value = elem.value if getattr(elem, "is_raw", False) and elem.VR in ("LO", None) else False
    if value is None and not elem.length:  # empty, read in implicit VR
        return ""
    if isinstance(value, bytes) and value.isascii() and not any(
            c in value for c in (b"\x1b", b"\\", b"~")):
        return value.decode("ascii").rstrip("\0 ").strip()
    return str(ds.get("PatientID", "") or "").strip()

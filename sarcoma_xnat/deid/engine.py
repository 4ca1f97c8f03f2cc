"""The de-identification engine: apply the compiled PS3.15 profile to one dataset.

Walks the dataset and every sequence item in it, applying to each attribute the action
the profile gives it (see :mod:`sarcoma_xnat.deid.profile`). Attributes the table does
not list are handled by their VR: UIDs are remapped, person names emptied, dates
shifted, and free text scrubbed of the identifiers the dataset itself carries. Private
elements go unless they are on the safe list. Pixel data is never touched.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID_dictionary

from sarcoma_xnat import __version__
from sarcoma_xnat.deid.burned_in import check_burned_in
from sarcoma_xnat.deid.keys import SiteKey
from sarcoma_xnat.deid.profile import (DEFAULT_OPTIONS, PROFILE_EDITION, CompiledProfile, Option,
                                       compile_profile, load_safe_private)
from sarcoma_xnat.deid.scrub import Scrubber, identifying_tokens
from sarcoma_xnat.errors import DeidentificationError

__all__ = ["DeidResult", "Deidentifier", "KEPT_DESCRIPTORS"]

#: descriptors the study keeps (scrubbed) under Clean Descriptors; other "C" text is removed,
#: because free text (comments, reasons, histories) cannot be cleaned reliably by rule
KEPT_DESCRIPTORS = frozenset({
    "StudyDescription", "SeriesDescription", "ProtocolName", "ROIName", "StructureSetLabel",
    "StructureSetName", "ROIObservationLabel", "DerivationDescription",
    "PerformedProcedureStepDescription", "RequestedProcedureDescription",
    "ClinicalTrialSeriesDescription", "UserContentLabel", "AcquisitionDeviceProcessingDescription",
})

_TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC"})
_STRING_VRS = _TEXT_VRS | {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "PN", "TM", "UI", "UR"}
_DUMMY = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "DS": "0", "IS": "0",
          "AS": "000Y", "UR": "", "AE": "ANONYMIZED"}
_GRAPHICS_GROUPS = frozenset(range(0x5000, 0x5020, 2)) | frozenset(range(0x6000, 0x6020, 2))
_PATIENT_NAME, _PATIENT_ID = 0x00100010, 0x00100020
_METHOD = f"sarcoma-xnat {__version__}: PS3.15 {PROFILE_EDITION} Basic Profile"


@dataclass
class DeidResult:
    """What de-identifying one dataset did: the pseudonym and a count per action."""

    pseudonym: str
    date_shift_days: int | None
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class _Context:
    pseudonym: str
    shift: int | None
    scrubber: Scrubber
    counts: Counter[str]


class Deidentifier:
    """De-identify datasets under one site key and one set of profile options.

    Parameters
    ----------
    key : SiteKey
        Pseudonyms, UIDs and date shifts are derived from it.
    options : iterable of Option or str
        Profile options; by default :data:`~sarcoma_xnat.deid.profile.DEFAULT_OPTIONS`.
    """

    def __init__(self, key: SiteKey, options: Iterable[Option | str] = DEFAULT_OPTIONS) -> None:
        self.key = key
        self.profile: CompiledProfile = compile_profile(tuple(Option(o) for o in options))
        self._actions = self.profile.actions
        self._safe = load_safe_private() if self.profile.private == "C" else frozenset()
        self._shift_dates = Option.RETAIN_LONG_MODIFIED_DATES in self.profile.options
        self._keep_dates = Option.RETAIN_LONG_FULL_DATES in self.profile.options

    def deidentify(self, ds: Dataset, file: str | None = None,
                   scrubber: Scrubber | None = None) -> DeidResult:
        """De-identify ``ds`` in place and return what was done.

        ``scrubber`` may be passed when the caller already built it from ``ds`` (with
        :func:`~sarcoma_xnat.deid.scrub.identifying_tokens`), to save the work.

        Raises
        ------
        DeidentificationError
            When the image may carry burned-in text, or has no PatientID to pseudonymise.
        """
        check_burned_in(ds, file)
        patient_id = str(ds.get("PatientID", "") or "").strip()
        if not patient_id:
            raise DeidentificationError("no PatientID: cannot assign a pseudonym", file=file)
        pseudonym = self.key.pseudonym(patient_id)
        shift = self.key.date_shift_days(pseudonym) if self._shift_dates else None
        if scrubber is None:
            scrubber = Scrubber(identifying_tokens(ds))
        ctx = _Context(pseudonym, shift, scrubber, Counter())
        self._clean(ds, ctx)
        self._stamp(ds, ctx)
        self._replace_file_meta(ds)
        return DeidResult(pseudonym, shift, ctx.counts)

    # -- walking -----------------------------------------------------------------
    def _clean(self, ds: Dataset, ctx: _Context) -> None:
        private: list[int] = []
        for tag in list(ds.keys()):
            group = tag >> 16
            if group & 1:
                private.append(tag)
            elif group in _GRAPHICS_GROUPS and self.profile.graphics == "X":
                del ds[tag]
                ctx.counts["X"] += 1
            elif tag == _PATIENT_ID or tag == _PATIENT_NAME:
                ds[tag].value = ctx.pseudonym
                ctx.counts["D"] += 1
            else:
                action = self._actions.get(tag)
                if action is None:
                    self._unlisted(ds, tag, ctx)
                else:
                    self._apply(ds, tag, action, ctx)
        if private:
            self._private(ds, private, ctx)

    def _vr(self, ds: Dataset, tag: int) -> str:
        vr = ds.get_item(tag).VR  # a raw element keeps its VR; no value conversion
        if vr is None:
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                vr = "UN"
        return vr.split(" or ")[0]

    def _recurse(self, ds: Dataset, tag: int, ctx: _Context) -> None:
        for item in ds[tag].value or ():
            self._clean(item, ctx)

    def _apply(self, ds: Dataset, tag: int, action: str, ctx: _Context) -> None:
        vr = self._vr(ds, tag)
        if action == "K":
            if vr == "SQ":
                self._recurse(ds, tag, ctx)
            return
        ctx.counts[action] += 1
        if action == "X":
            del ds[tag]
        elif action == "Z":
            ds[tag].value = Sequence() if vr == "SQ" else ("" if vr in _STRING_VRS else None)
        elif vr == "SQ":  # D or U on a sequence: keep it, clean what is inside; C: remove
            if action == "C":
                del ds[tag]
            else:
                self._recurse(ds, tag, ctx)
        elif vr == "UI":  # U, or D on a UID
            self._remap(ds, tag)
        elif action == "D":
            ds[tag].value = self._dummy(vr, ds[tag].value, ctx)
        elif action == "C":
            self._clean_value(ds, tag, vr, ctx)
        else:
            del ds[tag]

    def _unlisted(self, ds: Dataset, tag: int, ctx: _Context) -> None:
        """Handle an attribute the table does not list, by its VR."""
        vr = self._vr(ds, tag)
        if vr == "SQ":
            self._recurse(ds, tag, ctx)
        elif vr == "UI":
            self._remap(ds, tag, registered_kept=True)
        elif vr == "PN":
            ds[tag].value = ""
            ctx.counts["Z"] += 1
        elif vr in ("DA", "DT"):
            if not self._keep_dates:
                self._clean_value(ds, tag, vr, ctx)
        elif vr in _TEXT_VRS:
            raw = ds.get_item(tag)
            data = raw.value if getattr(raw, "is_raw", False) else str(ds[tag].value).encode(
                "utf-8", "ignore")
            if data and ctx.scrubber.is_dirty(data):
                ds[tag].value = ctx.scrubber.clean(str(ds[tag].value))
                ctx.counts["C"] += 1

    # -- values --------------------------------------------------------------------
    def _remap(self, ds: Dataset, tag: int, registered_kept: bool = False) -> None:
        elem = ds[tag]
        values = elem.value if elem.VM > 1 else [elem.value]
        out = []
        for value in values:
            uid = str(value or "").strip("\0 ")
            if not uid or (registered_kept and uid in UID_dictionary):
                out.append(uid)
            else:
                out.append(self.key.uid(uid))
        elem.value = out if elem.VM > 1 else out[0]

    def _dummy(self, vr: str, value: object, ctx: _Context) -> object:
        if vr in ("DA", "DT") and ctx.shift is not None:
            shifted = _shift(str(value or ""), vr, ctx.shift)
            if shifted:
                return shifted
        if vr in _DUMMY:
            return _DUMMY[vr]
        if vr in _STRING_VRS:
            return "ANONYMIZED"
        if vr in ("OB", "OW", "UN", "OD", "OF", "OL", "OV"):
            return b"\0\0"
        return 0

    def _clean_value(self, ds: Dataset, tag: int, vr: str, ctx: _Context) -> None:
        elem = ds[tag]
        if vr in ("DA", "DT"):
            if ctx.shift is None:
                if not self._keep_dates:
                    elem.value = ""
                return
            values = elem.value if elem.VM > 1 else [elem.value]
            shifted = [_shift(str(v or ""), vr, ctx.shift) for v in values]
            elem.value = shifted if elem.VM > 1 else shifted[0]
        elif vr == "TM":
            return  # time of day carries no identity once the date is shifted
        elif elem.keyword in KEPT_DESCRIPTORS and vr in _TEXT_VRS | {"CS"}:
            if elem.VM > 1:
                elem.value = [ctx.scrubber.clean(str(v)) for v in elem.value]
            else:
                elem.value = ctx.scrubber.clean(str(elem.value or ""))
        else:
            del ds[tag]

    # -- private -------------------------------------------------------------------
    def _private(self, ds: Dataset, tags: list[int], ctx: _Context) -> None:
        creators = {}
        for tag in tags:
            if 0x10 <= (tag & 0xFFFF) <= 0xFF:
                creators[tag] = str(ds[tag].value or "").strip().upper()
        used = set()
        for tag in tags:
            element = tag & 0xFFFF
            if tag in creators:
                continue
            creator_tag = (tag & 0xFFFF0000) | (element >> 8)
            creator = creators.get(creator_tag)
            if element >= 0x1000 and creator and (creator, tag >> 16, element & 0xFF) in self._safe:
                used.add(creator_tag)
                continue
            del ds[tag]
            ctx.counts["X"] += 1
        for tag in creators:
            if tag not in used:
                del ds[tag]

    # -- what the profile requires to be added -------------------------------------------
    def _stamp(self, ds: Dataset, ctx: _Context) -> None:
        if "PatientName" not in ds:
            ds.PatientName = ctx.pseudonym
        ds.PatientIdentityRemoved = "YES"
        previous = ds.get("DeidentificationMethod")  # a value: str, or MultiValue when VM > 1
        methods = ([] if not previous else [previous] if isinstance(previous, str)
                   else list(previous))
        ds.DeidentificationMethod = [str(m) for m in methods if m and m != _METHOD] + [_METHOD]
        items = []
        for value, meaning in self.profile.codes:
            item = Dataset()
            item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
            items.append(item)
        ds.DeidentificationMethodCodeSequence = Sequence(items)
        ds.LongitudinalTemporalInformationModified = (
            "MODIFIED" if ctx.shift is not None else "UNMODIFIED" if self._keep_dates else "REMOVED")

    @staticmethod
    def _replace_file_meta(ds: Dataset) -> None:
        """Replace the file meta information and preamble with our own (PS3.15 E.1.1 item 7)."""
        old = getattr(ds, "file_meta", None)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.get("SOPClassUID", "")
        meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID", "")
        if old is not None and "TransferSyntaxUID" in old:
            meta.TransferSyntaxUID = old.TransferSyntaxUID
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = f"SXNAT_{__version__}"[:16]
        ds.file_meta = meta
        ds.preamble = b"\0" * 128


def _shift(value: str, vr: str, days: int) -> str:
    """Shift a DA or DT value by ``days``; return "" when it is not a full date."""
    text = value.strip()
    if "-" in text[1:] and vr == "DA":  # a date range (query form)
        return "-".join(_shift(part, vr, days) if part else "" for part in text.split("-"))
    digits = text.replace(".", "") if vr == "DA" else text
    try:
        date = dt.datetime.strptime(digits[:8], "%Y%m%d").date()
    except ValueError:
        return ""
    return (date + dt.timedelta(days=days)).strftime("%Y%m%d") + (digits[8:] if vr == "DT" else "")

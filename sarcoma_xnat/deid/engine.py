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

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID_dictionary

from sarcoma_xnat import __version__
from sarcoma_xnat.deid.burned_in import check_burned_in
from sarcoma_xnat.deid.encode import encoded_element
from sarcoma_xnat.deid.keys import SiteKey
from sarcoma_xnat.deid.pixels import CLEAN_PIXEL_DATA_CODE, PixelCleaner, PixelRecord
from sarcoma_xnat.deid.profile import (DEFAULT_OPTIONS, PROFILE_EDITION, CompiledProfile, Option,
                                       compile_profile, load_safe_private)
from sarcoma_xnat.deid.scrub import Scrubber, identifying_tokens
from sarcoma_xnat.deid.site import SiteConfig
from sarcoma_xnat.errors import DeidentificationError

__all__ = ["CODED_KEYWORDS", "DeidResult", "Deidentifier", "KEPT_DESCRIPTORS"]

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

_TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC"})
_SCRUBBED_VRS = _TEXT_VRS | {"CS", "AE", "UR"}
_BINARY_VRS = frozenset({"OB", "OW", "UN", "OD", "OF", "OL", "OV"})
_STRING_VRS = _TEXT_VRS | {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "PN", "TM", "UI", "UR"}
_DUMMY = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "DS": "0", "IS": "0",
          "AS": "000Y", "UR": "", "AE": "ANONYMIZED"}
#: VRs whose unlisted attributes are kept as they are: their values are never read
_INERT_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "AT", "TM", "DS", "IS", "AS", "OB",
                        "OW", "OD", "OF", "OL", "OV", "SV", "UV"})
_KEEP, _WALK, _TEXT, _CODE = object(), object(), object(), object()  # plans, see _plan
_GONE = object()  # in the memo: the element was removed
_MEMO_SIZE, _MEMO_VALUE = 20_000, 16_384  # elements remembered per patient; largest value
_GRAPHICS_GROUPS = frozenset(range(0x5000, 0x5020, 2)) | frozenset(range(0x6000, 0x6020, 2))
_PATIENT_NAME, _PATIENT_ID, _PADDING = 0x00100010, 0x00100020, 0xFFFCFFFC
_METHOD_CODES = 0x00120064  # De-identification Method Code Sequence
_METHOD = f"sarcoma-xnat {__version__}: PS3.15 {PROFILE_EDITION} Basic Profile"


@dataclass
class DeidResult:
    """What de-identifying one dataset did: the pseudonym and a count per action."""

    pseudonym: str
    date_shift_days: int | None
    counts: Counter[str] = field(default_factory=Counter)
    pixels: PixelRecord | None = None


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
    site : SiteConfig, optional
        The site's reviewed extensions: more safe private elements, more kept
        descriptors, Clean Pixel Data rules (:mod:`sarcoma_xnat.deid.site`).
    """

    def __init__(self, key: SiteKey, options: Iterable[Option | str] = DEFAULT_OPTIONS,
                 site: SiteConfig | None = None) -> None:
        self.key = key
        self.site = site or SiteConfig()
        self.profile: CompiledProfile = compile_profile(tuple(Option(o) for o in options))
        self._actions = self.profile.actions
        self._safe = (load_safe_private() | self.site.safe_private
                      if self.profile.private == "C" else frozenset())
        self._kept = KEPT_DESCRIPTORS | self.site.kept_descriptors
        self.pixels = PixelCleaner(self.site.pixel_rules)
        self._shift_dates = Option.RETAIN_LONG_MODIFIED_DATES in self.profile.options
        self._keep_dates = Option.RETAIN_LONG_FULL_DATES in self.profile.options
        self._basic = compile_profile(()).actions  # what C falls back to when it cannot clean
        self._safe_public: frozenset[int] = frozenset()
        self._plans: dict[tuple[int, str | None], object] = {}  # (tag, VR as read) -> plan
        self._stamps: dict[object, object] = {}  # encoding, charset -> encoded method codes

    def deidentify(self, ds: Dataset, file: str | None = None,
                   scrubber: Scrubber | None = None, has_pixels: bool | None = None) -> DeidResult:
        """De-identify ``ds`` in place and return what was done.

        ``scrubber`` may be passed when the caller already built it from ``ds`` (with
        :func:`~sarcoma_xnat.deid.scrub.identifying_tokens`), to save the work;
        ``has_pixels`` when ``ds`` is a header read without its pixel data. Elements
        whose action needs no look at their value are never decoded (they are written
        back as the bytes they were read as).

        An image a Clean Pixel Data rule of the site matches has its rectangles blanked
        first (``ds`` must then hold the pixel data).

        Raises
        ------
        DeidentificationError
            When the image may carry burned-in text, or has no PatientID to pseudonymise.
        """
        record = None
        rule = self.pixels.rule_for(ds)
        if rule is not None:
            if "PixelData" not in ds:
                raise DeidentificationError("a Clean Pixel Data rule matches: the whole file "
                                            "must be read", file=file)
            record = self.pixels.clean(ds, rule, file)
        check_burned_in(ds, file, has_pixels)
        patient_id = str(ds.get("PatientID", "") or "").strip()
        if not patient_id:
            raise DeidentificationError("no PatientID: cannot assign a pseudonym", file=file)
        pseudonym = self.key.pseudonym(patient_id)
        shift = self.key.date_shift_days(pseudonym) if self._shift_dates else None
        if scrubber is None:
            scrubber = Scrubber(identifying_tokens(ds))
        ctx = _Context(pseudonym, shift, scrubber, Counter())
        if _PADDING in ds:  # Data Set Trailing Padding: no meaning (PS3.10 7.2), any bytes
            del ds[_PADDING]
        memo = scrubber.memo.setdefault(  # what an element became, for this patient and file form
            (pseudonym, shift, tuple(ds._character_set), ds.original_encoding), {})
        self._clean(ds, ctx, memo if len(memo) < _MEMO_SIZE else None)
        self._stamp(ds, ctx, record is not None)
        self._replace_file_meta(ds)
        return DeidResult(pseudonym, shift, ctx.counts, record)

    # -- walking -----------------------------------------------------------------
    def _clean(self, ds: Dataset, ctx: _Context, memo: dict[object, object] | None = None) -> None:
        """Clean every element of ``ds`` (and its items) in place.

        ``memo`` (top level only) maps an element as read — tag, VR, length, bytes — to
        what cleaning made of it and the actions counted: the files of a series repeat
        most of their header, and the same bytes under the same patient, pool and
        encoding always come out the same (:func:`~sarcoma_xnat.deid.encode.encoded_element`).
        """
        private: list[int] = []
        plans = self._plans
        for tag, elem in list(ds._dict.items()):
            group = tag >> 16
            if group & 1:
                private.append(tag)
                continue
            plan = plans.get((tag, elem.VR))
            if plan is None:
                plan = plans[(tag, elem.VR)] = self._plan(tag, elem.VR)
            if plan is _KEEP:
                continue
            if plan is not _WALK:  # unlisted text: scrub; as-read ASCII found clean is kept
                data = elem.value if getattr(elem, "is_raw", False) else None
                if not (isinstance(data, bytes) and data.isascii() and b"\x1b" not in data
                        and not ctx.scrubber.is_dirty(data.decode("ascii"), plan is _TEXT)):
                    self._scrub(ds, tag, ctx, patterns=plan is _TEXT)
                continue
            data = elem.value if memo is not None and getattr(elem, "is_raw", False) else None
            if isinstance(data, bytes) and len(data) <= _MEMO_VALUE:
                key = (tag, elem.VR, elem.length, data)
                hit = memo.get(key)  # type: ignore[union-attr]
                if hit is None:
                    before = Counter(ctx.counts)
                    self._walk(ds, tag, ctx)
                    out = encoded_element(ds, tag) if tag in ds else _GONE
                    if out is not None:
                        memo[key] = (out, ctx.counts - before)  # type: ignore[index]
                    continue
                out, counts = hit  # type: ignore[misc]
                if out is _GONE:
                    del ds[tag]
                else:
                    ds._dict[tag] = out
                ctx.counts.update(counts)
                continue
            self._walk(ds, tag, ctx)
        if private:
            self._private(ds, private, ctx)

    def _walk(self, ds: Dataset, tag: int, ctx: _Context) -> None:
        """Handle one public element on the general path: resolve UN, then its action."""
        group = tag >> 16
        action = self._actions.get(tag)
        try:
            if self._needs_value(ds, tag, action) and ds[tag].VR == "UN":
                _resolve_un(ds, tag)  # resolve: UN -> dictionary VR, UN sequences parsed
        except Exception:  # noqa: BLE001 - a value that cannot be read cannot be checked
            del ds[tag]
            ctx.counts["X"] += 1
            return
        if group in _GRAPHICS_GROUPS and self.profile.graphics == "X":
            del ds[tag]
            ctx.counts["X"] += 1
        elif tag == _PATIENT_ID or tag == _PATIENT_NAME:
            ds[tag].value = ctx.pseudonym
            ctx.counts["D"] += 1
        else:
            if action is None:
                self._unlisted(ds, tag, ctx)
            else:
                self._apply(ds, tag, action, ctx)

    def _plan(self, tag: int, raw_vr: str | None) -> object:
        """Return how an element of ``tag`` read with ``raw_vr`` is handled, when that is fixed.

        :data:`_KEEP`: kept as it is (its value is never read); :data:`_TEXT` or
        :data:`_CODE`: scrubbed (with or without patterns); else :data:`_WALK`, the
        general path through :meth:`_apply` and :meth:`_unlisted`.
        """
        if raw_vr == "UN" or tag in (_PATIENT_ID, _PATIENT_NAME) \
                or (tag >> 16) in _GRAPHICS_GROUPS and self.profile.graphics == "X":
            return _WALK
        action = self._actions.get(tag)
        vr = (raw_vr or _dictionary_vr(tag)).split(" or ")[0]
        if action == "K":
            return _WALK if vr == "SQ" else _KEEP
        if action is not None or vr == "SQ":
            return _WALK
        if keyword_for_tag(tag) in CODED_KEYWORDS:
            return _WALK if keyword_for_tag(tag) == "CodeMeaning" else _KEEP
        if vr in _SCRUBBED_VRS:
            return _TEXT if vr in _TEXT_VRS else _CODE
        return _KEEP if vr not in ("UI", "PN", "DA", "DT", "UN") else _WALK

    def _needs_value(self, ds: Dataset, tag: int, action: str | None) -> bool:
        """Return whether handling ``tag`` reads its value (text is read by :meth:`_scrub`)."""
        raw_vr = ds.get_item(tag).VR
        if raw_vr == "UN" or action not in (None, "K", "X"):
            return raw_vr == "UN" or action != "C" or self._vr(ds, tag) not in _SCRUBBED_VRS
        if action == "X" or (tag >> 16) in _GRAPHICS_GROUPS and self.profile.graphics == "X":
            return False
        vr = self._vr(ds, tag)
        return vr == "SQ" or action is None and vr not in _INERT_VRS | _SCRUBBED_VRS

    def _vr(self, ds: Dataset, tag: int) -> str:
        vr = ds.get_item(tag).VR  # a read value: pydicom replaced UN by the dictionary VR
        if vr is None or vr == "UN":
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
        elif vr == "SQ":  # D, U or C on a sequence: keep it, clean what is inside
            self._recurse(ds, tag, ctx)
        elif vr == "UI":  # U, or D on a UID
            self._remap(ds, tag)
        elif action == "D":
            elem = ds[tag]
            if elem.VM > 1 and vr in ("DA", "DT"):
                elem.value = [self._dummy(vr, v, ctx) for v in elem.value]
            else:
                elem.value = self._dummy(vr, elem.value, ctx)
        elif action == "C":
            self._clean_value(ds, tag, vr, ctx)
        else:
            del ds[tag]

    def _unlisted(self, ds: Dataset, tag: int, ctx: _Context) -> None:
        """Handle an attribute the table does not list, by its VR."""
        vr = self._vr(ds, tag)
        keyword = keyword_for_tag(tag)
        if vr == "SQ":
            self._recurse(ds, tag, ctx)
        elif keyword in CODED_KEYWORDS:
            if keyword == "CodeMeaning":  # vocabulary: only this patient's own names go
                if self._scrub(ds, tag, ctx, patterns=False) or _empty(ds, tag):
                    ds[tag].value = "ANONYMIZED"  # Type 1 in the Basic Code Sequence Macro
        elif vr == "UI":
            self._remap(ds, tag, registered_kept=True)
        elif vr == "PN":
            ds[tag].value = ""
            ctx.counts["Z"] += 1
        elif vr in ("DA", "DT"):
            if not self._keep_dates:
                self._clean_value(ds, tag, vr, ctx)
        elif vr == "UN" and not keyword and tag not in self._safe_public:
            del ds[tag]  # an unknown public attribute: its meaning, hence its safety, is unknown
            ctx.counts["X"] += 1
        elif vr in _SCRUBBED_VRS:
            self._scrub(ds, tag, ctx, patterns=vr in _TEXT_VRS)
        elif vr == "UN":
            self._check_bytes(ds, tag, ctx)

    def _scrub(self, ds: Dataset, tag: int, ctx: _Context, patterns: bool = True) -> bool:
        """Clean every value of a text element in place, keeping its multiplicity.

        Return whether it changed. A value still as read is first checked as its bytes
        when they are plain ASCII (no escape: any character set reads them alike): the
        check finds a token in the joined values whenever one value holds it, so a
        clean answer there is the same as value by value, and it saves decoding.
        """
        raw = ds.get_item(tag)
        data = raw.value if getattr(raw, "is_raw", False) else None
        if isinstance(data, bytes) and data.isascii() and b"\x1b" not in data \
                and not ctx.scrubber.is_dirty(data.decode("ascii"), patterns):
            return False
        try:
            elem = ds[tag]
        except Exception:  # noqa: BLE001 - a value that cannot be read cannot be checked
            del ds[tag]
            ctx.counts["X"] += 1
            return True
        if elem.value is None or elem.value == "":
            return False
        values = list(elem.value) if elem.VM > 1 else [elem.value]
        texts = [str(v) for v in values]
        if not any(ctx.scrubber.is_dirty(t, patterns) for t in texts):
            return False
        cleaned = [ctx.scrubber.clean(t, patterns) for t in texts]
        elem.value = cleaned if elem.VM > 1 else cleaned[0]
        ctx.counts["C"] += 1
        return True

    def _check_bytes(self, ds: Dataset, tag: int, ctx: _Context) -> None:
        """Remove a binary/UN element whose bytes, read as text, hold an identifier."""
        data = ds[tag].value
        if not isinstance(data, bytes) or not data:
            return
        text = _decode(data, ds)
        if ctx.scrubber.is_dirty(text, patterns=False):
            del ds[tag]
            ctx.counts["X"] += 1

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
        if vr in ("DA", "DT"):
            elem = ds[tag]
            if ctx.shift is None:
                if not self._keep_dates:
                    elem.value = ""
                return
            values = list(elem.value) if elem.VM > 1 else [elem.value]
            shifted = [_shift(str(v or ""), vr, ctx.shift) for v in values]
            elem.value = shifted if elem.VM > 1 else shifted[0]
        elif vr == "TM":
            return  # time of day carries no identity once the date is shifted
        elif keyword_for_tag(tag) in self._kept and vr in _TEXT_VRS | {"CS"}:
            self._scrub(ds, tag, ctx)
            if tag in ds and _empty(ds, tag) and self._basic.get(tag) == "D":  # Type 1: a value
                ds[tag].value = self._dummy(vr, "", ctx)
        else:  # cannot be cleaned by rule: the Basic Profile's own action (Z, D or X)
            basic = self._basic.get(tag, "X")
            self._apply(ds, tag, basic if basic != "C" else "X", ctx)

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
                if self._private_clean(ds, tag, ctx):  # kept slots pass the same text checks
                    used.add(creator_tag)
                continue
            del ds[tag]
            ctx.counts["X"] += 1
        for tag in creators:
            if tag not in used:
                del ds[tag]

    def _private_clean(self, ds: Dataset, tag: int, ctx: _Context) -> bool:
        """Check a safe-listed private element like any text; return whether it is kept."""
        try:
            vr = ds[tag].VR
        except Exception:  # noqa: BLE001 - unreadable: cannot be checked, so it goes
            vr = None
        if vr in _SCRUBBED_VRS:
            self._scrub(ds, tag, ctx)
        elif vr in _BINARY_VRS:
            self._check_bytes(ds, tag, ctx)
        elif vr in ("PN", "SQ", "UI", "DA", "DT", None):  # never safe in a private slot
            del ds[tag]
            ctx.counts["X"] += 1
        return tag in ds

    # -- what the profile requires to be added -------------------------------------------
    def _stamp(self, ds: Dataset, ctx: _Context, pixels_cleaned: bool = False) -> None:
        if "PatientName" not in ds:
            ds.PatientName = ctx.pseudonym
        ds.PatientIdentityRemoved = "YES"
        previous = ds.get("DeidentificationMethod")  # a value: str, or MultiValue when VM > 1
        methods = ([] if not previous else [previous] if isinstance(previous, str)
                   else list(previous))
        ds.DeidentificationMethod = [str(m) for m in methods if m and m != _METHOD] + [_METHOD]
        form = (ds.original_encoding, tuple(ds._character_set), pixels_cleaned)
        encoded = self._stamps.get(form)  # the same items every time: encoded once per form
        if encoded is not None:
            ds._dict[encoded.tag] = encoded  # type: ignore[attr-defined]
        else:
            items = []
            codes = self.profile.codes
            if pixels_cleaned:  # PS3.15 E.3.1, for this instance only
                codes = codes[:1] + [CLEAN_PIXEL_DATA_CODE] + codes[1:]
            for value, meaning in codes:
                item = Dataset()
                item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = (value, "DCM",
                                                                                 meaning)
                items.append(item)
            ds.DeidentificationMethodCodeSequence = Sequence(items)
            encoded = encoded_element(ds, _METHOD_CODES)
            if encoded is not None:
                self._stamps[form] = encoded
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


def _resolve_un(ds: Dataset, tag: int) -> None:
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


def _dictionary_vr(tag: int) -> str:
    """Return the dictionary VR of a public tag, "UN" if it is unknown."""
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def _empty(ds: Dataset, tag: int) -> bool:
    """Return whether the element ``tag`` has no value (without decoding a read value)."""
    elem = ds.get_item(tag)
    if getattr(elem, "is_raw", False):
        return not elem.value or not elem.value.strip(b" \0")
    return not elem.value


def _decode(data: bytes, ds: Dataset) -> str:
    """Return ``data`` read as text in the dataset's character set (Latin-1 if unknown)."""
    from pydicom.charset import decode_bytes

    encodings = getattr(ds, "_character_set", None) or ["iso8859"]
    try:
        return decode_bytes(data, list(encodings), set())
    except Exception:  # noqa: BLE001 - any byte string reads as Latin-1
        return data.decode("latin-1")


def _shift(value: str, vr: str, days: int) -> str:
    """Shift a DA or DT value by ``days``; return "" when it is not a full date."""
    text = value.strip()
    if "-" in text[1:] and vr == "DA":  # a date range (query form)
        parts = text.split("-")
        if len(parts) != 2:
            return ""
        shifted = [_shift(part, vr, days) if part else "" for part in parts]
        return "-".join(shifted) if any(shifted) else ""
    digits = text.replace(".", "") if vr == "DA" else text
    try:
        date = dt.datetime.strptime(digits[:8], "%Y%m%d").date()
    except ValueError:
        return ""
    return (date + dt.timedelta(days=days)).strftime("%Y%m%d") + (digits[8:] if vr == "DT" else "")

"""The actions of the PS3.15 profile on one element: remove, empty, replace, remap, clean.

:class:`Actions` is the half of the de-identifier (:class:`~sarcoma_xnat.deid.engine.Deidentifier`)
that changes a value: the profile's action for a listed attribute (:meth:`Actions._apply`),
the rule by VR for an unlisted one (:meth:`Actions._unlisted`), free-text scrubbing that
keeps multiplicity, date shifting, UID remapping and the checks a safe-listed private
slot passes. The walk that calls them is :class:`~sarcoma_xnat.deid.walker.Walker`.
"""

from __future__ import annotations

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID_dictionary

from sarcoma_xnat.deid.attributes import (BINARY_VRS, CODED_KEYWORDS, DUMMY, SCRUBBED_VRS,
                                          STRING_VRS, TEXT_VRS, WalkContext, decode_text,
                                          is_empty, shift_date)
from sarcoma_xnat.deid.keys import SiteKey
from sarcoma_xnat.deid.profile import CompiledProfile

__all__ = ["Actions"]


class Actions:
    """Apply the profile's actions to single elements (mixed into the de-identifier)."""

    key: SiteKey
    profile: CompiledProfile
    _actions: dict[int, str]
    _basic: dict[int, str]
    _kept: frozenset[str]
    _keep_dates: bool
    _safe_public: frozenset[int]

    def _clean(self, ds: Dataset, ctx: WalkContext, memo: dict[object, object] | None = None) -> None:
        raise NotImplementedError  # the walker's

    def _vr(self, ds: Dataset, tag: int) -> str:
        vr = ds.get_item(tag).VR  # a read value: pydicom replaced UN by the dictionary VR
        if vr is None or vr == "UN":
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                vr = "UN"
        return vr.split(" or ")[0]

    def _recurse(self, ds: Dataset, tag: int, ctx: WalkContext) -> None:
        for item in ds[tag].value or ():
            self._clean(item, ctx)

    def _apply(self, ds: Dataset, tag: int, action: str, ctx: WalkContext) -> None:
        vr = self._vr(ds, tag)
        if action == "K":
            if vr == "SQ":
                self._recurse(ds, tag, ctx)
            return
        ctx.counts[action] += 1
        if action == "X":
            del ds[tag]
        elif action == "Z":
            ds[tag].value = Sequence() if vr == "SQ" else ("" if vr in STRING_VRS else None)
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

    def _unlisted(self, ds: Dataset, tag: int, ctx: WalkContext) -> None:
        """Handle an attribute the table does not list, by its VR."""
        vr = self._vr(ds, tag)
        keyword = keyword_for_tag(tag)
        if vr == "SQ":
            self._recurse(ds, tag, ctx)
        elif keyword in CODED_KEYWORDS:
            if keyword == "CodeMeaning":  # vocabulary: only this patient's own names go
                if self._scrub(ds, tag, ctx, patterns=False) or is_empty(ds, tag):
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
        elif vr in SCRUBBED_VRS:
            self._scrub(ds, tag, ctx, patterns=vr in TEXT_VRS)
        elif vr == "UN":
            self._check_bytes(ds, tag, ctx)

    def _scrub(self, ds: Dataset, tag: int, ctx: WalkContext, patterns: bool = True) -> bool:
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

    def _check_bytes(self, ds: Dataset, tag: int, ctx: WalkContext) -> None:
        """Remove a binary/UN element whose bytes, read as text, hold an identifier."""
        data = ds[tag].value
        if not isinstance(data, bytes) or not data:
            return
        text = decode_text(data, ds)
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

    def _dummy(self, vr: str, value: object, ctx: WalkContext) -> object:
        if vr in ("DA", "DT") and ctx.shift is not None:
            shifted = shift_date(str(value or ""), vr, ctx.shift)
            if shifted:
                return shifted
        if vr in DUMMY:
            return DUMMY[vr]
        if vr in STRING_VRS:
            return "ANONYMIZED"
        if vr in ("OB", "OW", "UN", "OD", "OF", "OL", "OV"):
            return b"\0\0"
        return 0

    def _clean_value(self, ds: Dataset, tag: int, vr: str, ctx: WalkContext) -> None:
        if vr in ("DA", "DT"):
            elem = ds[tag]
            if ctx.shift is None:
                if not self._keep_dates:
                    elem.value = ""
                return
            values = list(elem.value) if elem.VM > 1 else [elem.value]
            shifted = [shift_date(str(v or ""), vr, ctx.shift) for v in values]
            elem.value = shifted if elem.VM > 1 else shifted[0]
        elif vr == "TM":
            return  # time of day carries no identity once the date is shifted
        elif keyword_for_tag(tag) in self._kept and vr in TEXT_VRS | {"CS"}:
            self._scrub(ds, tag, ctx)
            if tag in ds and is_empty(ds, tag) and self._basic.get(tag) == "D":  # Type 1: a value
                ds[tag].value = self._dummy(vr, "", ctx)
        else:  # cannot be cleaned by rule: the Basic Profile's own action (Z, D or X)
            basic = self._basic.get(tag, "X")
            self._apply(ds, tag, basic if basic != "C" else "X", ctx)


    def _private_clean(self, ds: Dataset, tag: int, ctx: WalkContext) -> bool:
        """Check a safe-listed private element like any text; return whether it is kept."""
        try:
            vr = ds[tag].VR
        except Exception:  # noqa: BLE001 - unreadable: cannot be checked, so it goes
            vr = None
        if vr in SCRUBBED_VRS:
            self._scrub(ds, tag, ctx)
        elif vr in BINARY_VRS:
            self._check_bytes(ds, tag, ctx)
        elif vr in ("PN", "SQ", "UI", "DA", "DT", None):  # never safe in a private slot
            del ds[tag]
            ctx.counts["X"] += 1
        return tag in ds


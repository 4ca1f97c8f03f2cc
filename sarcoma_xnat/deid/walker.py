"""The walk over a data set: every element, at any depth, to the action the profile gives it.

:class:`Walker` visits each element of a data set and its sequence items. What an
element needs is decided once per tag and VR as read (a *plan*: keep as read, scrub
as text, or the general path through :class:`~sarcoma_xnat.deid.actions.Actions`),
so most elements are never decoded; a top-level element whose bytes were seen before
under the same patient and encoding is replaced by what it became then (the memo).
Private elements go unless the safe list keeps them.
"""

from __future__ import annotations

from collections import Counter

from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from sarcoma_xnat.deid.actions import Actions
from sarcoma_xnat.deid.attributes import (CODE, CODED_KEYWORDS, GONE, GRAPHICS_GROUPS, INERT_VRS,
                                          KEEP, PATIENT_ID, PATIENT_NAME, SCRUBBED_VRS, TEXT,
                                          TEXT_VRS, WALK, WalkContext, dictionary_vr_of,
                                          resolve_un)
from sarcoma_xnat.deid.encode import encoded_element
from sarcoma_xnat.deid.sequences import clean_sequence

__all__ = ["MEMO_SIZE", "Walker"]

MEMO_SIZE, MEMO_VALUE = 20_000, 16_384  # elements remembered per patient; largest value


class Walker(Actions):
    """Walk a data set and its items, applying the profile element by element."""

    _plans: dict[tuple[int, str | None], object]
    _safe: frozenset[tuple[str, int, int]]
    #: clean sequences from their bytes where that needs no decoding (:mod:`~.sequences`);
    #: off, every sequence is parsed and walked (the tests compare both)
    byte_sequences = True

    def _clean(self, ds: Dataset, ctx: WalkContext, memo: dict[object, object] | None = None) -> None:
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
            number = int(tag)  # keys compared as plain ints: pydicom's Tag compares in Python
            vr = elem.VR
            plan = plans.get((number, vr))
            if plan is None:
                plan = plans[(number, vr)] = self._plan(tag, vr)
            if plan is KEEP:
                continue
            raw = getattr(elem, "is_raw", False)
            if plan is not WALK:  # unlisted text: scrub; as-read ASCII found clean is kept
                data = elem.value if raw else None
                if not (isinstance(data, bytes) and data.isascii() and b"\x1b" not in data
                        and not ctx.scrubber.is_dirty(data.decode("ascii"), plan is TEXT)):
                    self._scrub(ds, tag, ctx, patterns=plan is TEXT)
                continue
            data = elem.value if memo is not None and raw else None
            if isinstance(data, bytes) and len(data) <= MEMO_VALUE:
                key = (number, vr, elem.length, data)
                hit = memo.get(key)  # type: ignore[union-attr]
                if hit is None:
                    before = Counter(ctx.counts)
                    self._walk(ds, tag, ctx)
                    out = encoded_element(ds, tag) if tag in ds else GONE
                    if out is not None:  # the actions counted, as (action, count) pairs
                        counted = tuple((ctx.counts - before).items())
                        memo[key] = (out, counted)  # type: ignore[index]
                    continue
                out, counts = hit  # type: ignore[misc]
                if out is GONE:
                    del ds[tag]
                else:
                    ds._dict[tag] = out
                if counts:
                    total = ctx.counts
                    for action, count in counts:
                        total[action] += count
                continue
            self._walk(ds, tag, ctx)
        if private:
            self._private(ds, private, ctx)

    def _walk(self, ds: Dataset, tag: int, ctx: WalkContext) -> None:
        """Handle one public element on the general path: resolve UN, then its action."""
        group = tag >> 16
        action = self._actions.get(tag)
        try:  # a sequence as read is parsed (or cleaned from its bytes) by _recurse
            if ds.get_item(tag).VR != "SQ" and self._needs_value(ds, tag, action) \
                    and ds[tag].VR == "UN":
                resolve_un(ds, tag)  # resolve: UN -> dictionary VR, UN sequences parsed
        except Exception:  # noqa: BLE001 - a value that cannot be read cannot be checked
            del ds[tag]
            ctx.counts["X"] += 1
            return
        if group in GRAPHICS_GROUPS and self.profile.graphics == "X":
            del ds[tag]
            ctx.counts["X"] += 1
        elif tag == PATIENT_ID or tag == PATIENT_NAME:
            ds[tag].value = ctx.pseudonym
            ctx.counts["D"] += 1
        else:
            if action is None:
                self._unlisted(ds, tag, ctx)
            else:
                self._apply(ds, tag, action, ctx)

    def _plan(self, tag: int, raw_vr: str | None) -> object:
        """Return how an element of ``tag`` read with ``raw_vr`` is handled, when that is fixed.

        :data:`KEEP`: kept as it is (its value is never read); :data:`TEXT` or
        :data:`CODE`: scrubbed (with or without patterns); else :data:`WALK`, the
        general path through :meth:`_apply` and :meth:`_unlisted`.
        """
        if raw_vr == "UN" or tag in (PATIENT_ID, PATIENT_NAME) \
                or (tag >> 16) in GRAPHICS_GROUPS and self.profile.graphics == "X":
            return WALK
        action = self._actions.get(tag)
        vr = (raw_vr or dictionary_vr_of(tag)).split(" or ")[0]
        if action == "K":
            return WALK if vr == "SQ" else KEEP
        if action is not None or vr == "SQ":
            return WALK
        if keyword_for_tag(tag) in CODED_KEYWORDS:
            return WALK if keyword_for_tag(tag) == "CodeMeaning" else KEEP
        if vr in SCRUBBED_VRS:
            return TEXT if vr in TEXT_VRS else CODE
        return KEEP if vr not in ("UI", "PN", "DA", "DT", "UN") else WALK

    def _needs_value(self, ds: Dataset, tag: int, action: str | None) -> bool:
        """Return whether handling ``tag`` reads its value (text is read by :meth:`_scrub`)."""
        raw_vr = ds.get_item(tag).VR
        if raw_vr == "UN" or action not in (None, "K", "X"):
            return raw_vr == "UN" or action != "C" or self._vr(ds, tag) not in SCRUBBED_VRS
        if action == "X" or (tag >> 16) in GRAPHICS_GROUPS and self.profile.graphics == "X":
            return False
        vr = self._vr(ds, tag)
        return vr == "SQ" or action is None and vr not in INERT_VRS | SCRUBBED_VRS

    def _recurse(self, ds: Dataset, tag: int, ctx: WalkContext) -> None:
        """Clean every item of sequence ``tag``: from its bytes where that needs no decoding."""
        elem = ds.get_item(tag)
        implicit, little = ds.original_encoding
        if self.byte_sequences and little and getattr(elem, "is_raw", False) \
                and isinstance(elem.value, bytes) and elem.length != 0xFFFFFFFF:
            done = clean_sequence(self, elem.value, bool(implicit), ctx)
            if done is not None:
                value, counts = done
                ds._dict[tag] = RawDataElement(elem.tag, "SQ", len(value), value, 0,
                                               bool(implicit), True)
                ctx.counts.update(counts)
                return
        try:
            items = ds[tag].value or ()
        except Exception:  # noqa: BLE001 - a sequence that cannot be read cannot be checked
            del ds[tag]
            ctx.counts["X"] += 1
            return
        for item in items:
            self._clean(item, ctx)

    # -- private -------------------------------------------------------------------
    def _private(self, ds: Dataset, tags: list[int], ctx: WalkContext) -> None:
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


"""Clean a sequence from its encoded bytes, for the sequences whose cleaning needs no decoding.

The items of a SEG's per-frame functional groups or an RT structure set's contours are
hundreds of small data sets. Parsed into pydicom Datasets, walked and encoded again,
they cost more than the rest of the file. Most of what they hold is kept as it is
(positions, indices, contour points, code values), references are remapped (UIDs),
and text is only checked. :func:`clean_sequence` does exactly that on the bytes of a
sequence value: it copies kept elements, rewrites remapped UIDs as pydicom's writer
writes them, removes what the profile removes and empties what it empties, counting
each action as the walk counts it, and rebuilds item and sequence lengths the way the
encoder writes them (defined lengths recomputed, undefined ones kept with their
delimiters).

Anything whose handling needs more — a private element, a date, text or a code meaning
that holds an identifier, a VR as read UN, a character set of its own, elements out of
tag order, group lengths, reserved bytes not zero, an encoding it does not expect —
makes it return None, and the walker cleans that sequence through pydicom as before. A
test holds both paths to the same bytes and counts.
"""

from __future__ import annotations

import struct
from collections import Counter
from typing import TYPE_CHECKING

from pydicom.uid import UID_dictionary

from sarcoma_xnat.deid.attributes import (CODE, GRAPHICS_GROUPS, KEEP, PATIENT_ID, PATIENT_NAME,
                                          TEXT, WalkContext, dictionary_vr_of)
from sarcoma_xnat.deid.dicomio import LONG_VR_BYTES, VR_NAMES
from sarcoma_xnat.deid.encode import ElementWriter

if TYPE_CHECKING:
    from sarcoma_xnat.deid.walker import Walker

__all__ = ["clean_sequence"]

_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_TAG_LENGTH = struct.Struct("<HHL")
_CODE_MEANING = 0x00080104
_WRITERS = {implicit: ElementWriter(True, implicit) for implicit in (False, True)}  # little endian


class _Slow(Exception):
    """This sequence needs the walk through pydicom."""


class _Cleaner:
    """One sequence value's cleaning: the walker's decisions, made on bytes."""

    def __init__(self, walker: Walker, data: bytes, implicit: bool, ctx: WalkContext) -> None:
        self.walker, self.data, self.implicit, self.ctx = walker, data, implicit, ctx
        self.counts: Counter[str] = Counter()
        self.head = _WRITERS[implicit].head  # tag, VR, length as the encoder writes them

    def items(self, pos: int, end: int | None) -> tuple[bytes, int]:
        """Return the cleaned items from ``pos`` (to ``end``, or a sequence delimiter)."""
        data, out = self.data, []
        while end is None or pos < end:
            tag_group, tag_element, length = _TAG_LENGTH.unpack_from(data, pos)
            tag = tag_group << 16 | tag_element
            if tag == _SEQ_END and end is None and length == 0:
                return b"".join(out), pos + 8
            if tag != _ITEM:
                raise _Slow
            if length == _UNDEFINED:
                body, pos = self.elements(pos + 8, None)
                out.append(_TAG_LENGTH.pack(0xFFFE, 0xE000, _UNDEFINED) + body
                           + _TAG_LENGTH.pack(0xFFFE, 0xE00D, 0))
            else:
                body, _ = self.elements(pos + 8, pos + 8 + length)
                out.append(_TAG_LENGTH.pack(0xFFFE, 0xE000, len(body)) + body)
                pos += 8 + length
        if pos != end:
            raise _Slow
        return b"".join(out), pos

    def elements(self, pos: int, end: int | None) -> tuple[bytes, int]:
        """Return one item's cleaned elements from ``pos`` (to ``end``, or an item delimiter)."""
        data, out, last = self.data, [], -1
        while end is None or pos < end:
            if pos + 8 > len(data):
                raise _Slow
            group, element = struct.unpack_from("<HH", data, pos)
            tag = group << 16 | element
            if tag == _ITEM_END and end is None:
                if _TAG_LENGTH.unpack_from(data, pos)[2] != 0:
                    raise _Slow
                return b"".join(out), pos + 8
            if tag <= last or group & 1 or not element or group in GRAPHICS_GROUPS \
                    or group == 0xFFFE or tag in (PATIENT_ID, PATIENT_NAME, 0x00080005):
                raise _Slow  # order, private, group length, delimiter, identity, charset
            last = tag
            if self.implicit:
                length = _TAG_LENGTH.unpack_from(data, pos)[2]
                start, raw_vr = pos + 8, None
                vr = dictionary_vr_of(tag).split(" or ")[0]
            else:
                raw = data[pos + 4:pos + 6]
                if raw in LONG_VR_BYTES:
                    if data[pos + 6:pos + 8] != b"\0\0":
                        raise _Slow  # reserved bytes the writer would zero
                    length, start = struct.unpack_from("<L", data, pos + 8)[0], pos + 12
                else:
                    length, start = struct.unpack_from("<H", data, pos + 6)[0], pos + 8
                vr = raw_vr = VR_NAMES.get(raw)  # type: ignore[assignment]
                if vr is None:
                    raise _Slow  # not a VR: pydicom reads the item as implicit VR
            if vr == "UN" or (length == _UNDEFINED and vr != "SQ"):
                raise _Slow
            if vr == "SQ":
                pos = self.sequence(tag, start, length, out)
                continue
            stop = start + length
            if stop > len(data) or (end is not None and stop > end):
                raise _Slow
            self.element(tag, vr, raw_vr, data[pos:stop], data[start:stop], out)
            pos = stop
        if pos != end:
            raise _Slow
        return b"".join(out), pos

    def sequence(self, tag: int, start: int, length: int, out: list[bytes]) -> int:
        """Clean a nested sequence (unlisted, or one the profile keeps or cleans inside)."""
        action = self.walker._actions.get(tag)
        if action not in (None, "K", "D", "U", "C"):
            if action != "X" or length == _UNDEFINED:
                raise _Slow  # Z: an emptied sequence; anything else: the general path
            self.counts["X"] += 1  # removed unread, as the walk removes it
            return start + length
        if action not in (None, "K"):
            self.counts[action] += 1
        if length == _UNDEFINED:
            body, pos = self.items(start, None)
            out.append(self.head(tag, "SQ", _UNDEFINED) + body
                       + _TAG_LENGTH.pack(0xFFFE, 0xE0DD, 0))
            return pos
        body, _ = self.items(start, start + length)
        out.append(self.head(tag, "SQ", len(body)) + body)
        return start + length

    def element(self, tag: int, vr: str, raw_vr: str | None, encoded: bytes, value: bytes,
                out: list[bytes]) -> None:
        """Clean one element that is not a sequence, or raise :class:`_Slow`."""
        walker = self.walker
        plan = walker._plans.get((tag, raw_vr))
        if plan is None:
            plan = walker._plans[(tag, raw_vr)] = walker._plan(tag, raw_vr)
        if plan is KEEP:
            out.append(encoded)
            return
        action = walker._actions.get(tag)
        meaning = tag == _CODE_MEANING and action is None
        if plan is TEXT or plan is CODE or meaning:
            if not value.isascii() or b"\x1b" in value \
                    or self.ctx.scrubber.is_dirty(value.decode("ascii"), plan is TEXT) \
                    or meaning and not value.strip(b" \0"):
                raise _Slow  # text to clean, or an empty code meaning to fill
            out.append(encoded)
            return
        if action == "X":
            self.counts["X"] += 1
        elif action == "Z" or action is None and vr == "PN":
            self.counts["Z"] += 1
            out.append(self.head(tag, vr, 0))
        elif vr == "UI" and action != "K":
            if action is not None:
                self.counts[action] += 1
            out.append(self.uids(tag, value, registered_kept=action is None))
        else:
            raise _Slow

    def uids(self, tag: int, value: bytes, registered_kept: bool) -> bytes:
        """Return a UI element with its UIDs remapped, as the walk's ``_remap`` writes it."""
        if not value.isascii():
            raise _Slow
        out = []
        for uid in value.decode("ascii").rstrip("\0 ").split("\\"):
            uid = uid.strip().strip("\0 ")
            out.append(uid if not uid or registered_kept and uid in UID_dictionary
                       else self.walker.key.uid(uid))
        text = "\\".join(out).encode("ascii")
        if len(text) % 2:
            text += b"\0"
        return self.head(tag, "UI", len(text)) + text


def clean_sequence(walker: Walker, value: bytes, implicit: bool,
                   ctx: WalkContext) -> tuple[bytes, Counter[str]] | None:
    """Return a sequence value (items, defined length) cleaned as the walk would clean it.

    Also the actions counted; None when the sequence needs the walk through pydicom.
    """
    cleaner = _Cleaner(walker, value, implicit, ctx)
    try:
        body, _ = cleaner.items(0, len(value))
    except (_Slow, struct.error):
        return None
    return body, cleaner.counts

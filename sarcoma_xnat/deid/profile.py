"""The PS3.15 Annex E confidentiality profile, read from package data.

The table ``data/ps3.15-e1-1.csv`` holds every row of Table E.1-1 (edition pinned in
``data/README.md``) with its Basic Profile action and one column per option. This
module turns it, for a chosen set of options, into one action per tag. The profile
is data, not code: to follow a newer edition, regenerate the CSV.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from importlib import resources

from sarcoma_xnat.errors import ConfigurationError

__all__ = [
    "CompiledProfile",
    "DEFAULT_OPTIONS",
    "Option",
    "PROFILE_EDITION",
    "ProfileRow",
    "compile_profile",
    "load_rows",
    "load_safe_private",
]

#: the edition of PS3.15 the packaged table was produced from (see data/README.md)
PROFILE_EDITION = "2024b"

_PROFILE_FILE = "ps3.15-e1-1.csv"
_SAFE_PRIVATE_FILE = "safe-private.csv"


class Option(str, Enum):
    """A PS3.15 Annex E profile option; the value is its column in the table."""

    RETAIN_SAFE_PRIVATE = "retain_safe_private"
    RETAIN_UIDS = "retain_uids"
    RETAIN_DEVICE_IDENTITY = "retain_device_identity"
    RETAIN_INSTITUTION_IDENTITY = "retain_institution_identity"
    RETAIN_PATIENT_CHARACTERISTICS = "retain_patient_characteristics"
    RETAIN_LONG_FULL_DATES = "retain_long_full_dates"
    RETAIN_LONG_MODIFIED_DATES = "retain_long_modified_dates"
    CLEAN_DESCRIPTORS = "clean_descriptors"
    CLEAN_STRUCTURED_CONTENT = "clean_structured_content"
    CLEAN_GRAPHICS = "clean_graphics"

    @property
    def code(self) -> tuple[str, str]:
        """Return the CID 7050 code value and meaning of this option."""
        return _OPTION_CODES[self]


BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")

_OPTION_CODES = {
    Option.RETAIN_SAFE_PRIVATE: ("113111", "Retain Safe Private Option"),
    Option.RETAIN_UIDS: ("113110", "Retain UIDs Option"),
    Option.RETAIN_DEVICE_IDENTITY: ("113109", "Retain Device Identity Option"),
    Option.RETAIN_INSTITUTION_IDENTITY: ("113112", "Retain Institution Identity Option"),
    Option.RETAIN_PATIENT_CHARACTERISTICS: ("113108", "Retain Patient Characteristics Option"),
    Option.RETAIN_LONG_FULL_DATES: ("113106",
                                    "Retain Longitudinal Temporal Information Full Dates Option"),
    Option.RETAIN_LONG_MODIFIED_DATES: (
        "113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    Option.CLEAN_DESCRIPTORS: ("113105", "Clean Descriptors Option"),
    Option.CLEAN_STRUCTURED_CONTENT: ("113104", "Clean Structured Content Option"),
    Option.CLEAN_GRAPHICS: ("113103", "Clean Graphics Option"),
}

#: what the study needs: sex/age/size/weight, shifted dates, cleaned descriptions, safe private
DEFAULT_OPTIONS: tuple[Option, ...] = (
    Option.CLEAN_DESCRIPTORS,
    Option.RETAIN_LONG_MODIFIED_DATES,
    Option.RETAIN_PATIENT_CHARACTERISTICS,
    Option.RETAIN_SAFE_PRIVATE,
)

#: options this engine implements (the others would need pixel or SR-content cleaning)
_SUPPORTED = frozenset(DEFAULT_OPTIONS) | {Option.RETAIN_LONG_FULL_DATES, Option.RETAIN_UIDS,
                                          Option.RETAIN_DEVICE_IDENTITY,
                                          Option.RETAIN_INSTITUTION_IDENTITY}

_ACTIONS = {"D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}

#: conformance choices for the combined codes, by keyword (Type 1 -> D, Type 2 -> Z); the
#: others take Z where the code allows it, else D: emptying is as safe as removing and keeps
#: the output a valid instance of its IOD whatever the attribute's type there (PS3.15 E.1.1:
#: X/Z is "Z if Type 2, X if Type 3", and an empty Type 3 attribute is allowed by PS3.5 7.4)
_CONFORMANCE = {
    "PatientID": "D",             # Type 2, but XNAT routes on it: it becomes the pseudonym
    "ContentCreatorName": "Z",    # Type 2 in the SEG Content Identification macro
    "DeviceSerialNumber": "D",    # Type 1 in Enhanced General Equipment (SEG)
    "ContentDate": "D",           # Type 1 in SEG / SR content modules
    "ContentTime": "D",
    "SeriesDate": "D",            # kept (shifted) so that series keep their dates
    "SeriesTime": "D",
    "AcquisitionDate": "D",
    "AcquisitionTime": "D",
}


@dataclass(frozen=True)
class ProfileRow:
    """One row of Table E.1-1: tag pattern, keyword, name, basic action and option actions."""

    tag: str
    keyword: str
    name: str
    basic: str
    options: dict[str, str]


@functools.lru_cache(maxsize=1)
def load_rows() -> tuple[ProfileRow, ...]:
    """Return every row of the packaged Table E.1-1."""
    text = resources.files("sarcoma_xnat.deid").joinpath("data", _PROFILE_FILE).read_text("utf-8")
    rows = []
    for rec in csv.DictReader(text.splitlines()):
        options = {o.value: rec[o.value] for o in Option if rec.get(o.value)}
        if rec["basic"] not in _ACTIONS:
            raise ConfigurationError(f"profile row {rec['tag']} has unknown action {rec['basic']!r}")
        rows.append(ProfileRow(rec["tag"], rec["keyword"], rec["name"], rec["basic"], options))
    return tuple(rows)


@functools.lru_cache(maxsize=1)
def load_safe_private() -> frozenset[tuple[str, int, int]]:
    """Return the safe private elements as ``(creator, group, element offset)`` triples."""
    text = resources.files("sarcoma_xnat.deid").joinpath("data", _SAFE_PRIVATE_FILE).read_text(
        "utf-8")
    out = set()
    for rec in csv.DictReader(line for line in text.splitlines() if not line.startswith("#")):
        out.add((rec["creator"].strip().upper(), int(rec["group"], 16), int(rec["element"], 16)))
    return frozenset(out)


@dataclass(frozen=True)
class CompiledProfile:
    """Table E.1-1 resolved for one set of options: one concrete action per tag.

    Attributes
    ----------
    actions : dict
        Tag (int) -> one of ``X Z D K C U``; ``U`` on a sequence means "keep and remap
        the UIDs inside".
    private : str
        Action for private elements: ``X`` or ``C`` (keep only the safe list).
    graphics : str
        Action for overlay (60xx) and curve (50xx) groups: ``X`` or ``C``.
    options : tuple of Option
        The options in force, in table order.
    """

    actions: dict[int, str]
    private: str
    graphics: str
    options: tuple[Option, ...]

    @property
    def codes(self) -> list[tuple[str, str]]:
        """Return the CID 7050 codes for the profile and its options."""
        return [BASIC_PROFILE_CODE] + [o.code for o in self.options]


def _resolve(row: ProfileRow, options: Iterable[Option]) -> str:
    """Return the action of one row under ``options`` (an option overrides the profile)."""
    chosen = [row.options[o.value] for o in options if o.value in row.options]
    if "K" in chosen:
        return "K"  # a retain option wins over a clean option
    if chosen:
        return chosen[0]
    action = row.basic
    if action == "X/Z/U*":
        return "U"  # keep the reference sequence, remap the UIDs in it
    if "/" in action:
        wanted = _CONFORMANCE.get(row.keyword)
        parts = action.split("/")
        if wanted in parts:
            return wanted
        return "Z" if "Z" in parts else "D" if "D" in parts else parts[0]
    return action


@functools.lru_cache(maxsize=16)
def compile_profile(options: tuple[Option, ...] = DEFAULT_OPTIONS) -> CompiledProfile:
    """Resolve Table E.1-1 for ``options`` into one action per tag."""
    options = tuple(Option(o) for o in options)
    unsupported = [o.value for o in options if o not in _SUPPORTED]
    if unsupported:
        raise ConfigurationError(f"profile options not implemented: {unsupported}; supported: "
                                 f"{sorted(o.value for o in _SUPPORTED)}")
    if Option.RETAIN_LONG_FULL_DATES in options and Option.RETAIN_LONG_MODIFIED_DATES in options:
        raise ConfigurationError("choose one of retain_long_full_dates and "
                                 "retain_long_modified_dates, not both")
    ordered = tuple(o for o in Option if o in options)
    actions: dict[int, str] = {}
    private = graphics = "X"
    for row in load_rows():
        action = _resolve(row, ordered)
        if row.tag == "PRIVATE":
            private = action
        elif "X" in row.tag[:4] or "X" in row.tag[4:]:
            graphics = action if action == "C" else graphics
        else:
            actions[int(row.tag, 16)] = action
    return CompiledProfile(actions, private, graphics, ordered)

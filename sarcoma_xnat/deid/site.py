"""The site configuration: reviewed extensions of the package's de-identification lists.

The safe private list (``data/safe-private.csv``) and the descriptors kept under Clean
Descriptors (:data:`~sarcoma_xnat.deid.engine.KEPT_DESCRIPTORS`) are package
constants; a site with its own DICOM conventions extends them (never shrinks or
replaces them) in a reviewed file given with ``--site-config FILE``, JSON or TOML::

    kept_descriptors = ["AcquisitionComments"]   # must be a C attribute of Clean Descriptors

    [review]                       # required: who reviewed this file, and when
    by = "J. Smith, radiology PACS team"
    date = "2026-11-30"

    [[safe_private]]               # kept under Retain Safe Private, still text-checked
    creator = "ACME MR 1.0"
    group = "0x0029"               # odd
    element = "0x10"               # offset in the creator's block (0x10..0xFF)
    reason = "b-value"

    [[clean_pixels]]               # the Clean Pixel Data option (see pixels.py)
    manufacturer = "ACME"          # contained in Manufacturer, any case
    model = "Sono 5"               # optional; contained in Manufacturer's Model Name
    rows = 600
    columns = 800
    rectangles = [[0, 0, 800, 60]] # left, top, width, height, in pixels

Anything else, or a value of the wrong kind, is refused with the file's name and the
entry. The audit log records the file's name and sha256 (:meth:`SiteConfig.audit`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword

from sarcoma_xnat.deid.profile import load_rows
from sarcoma_xnat.deid.values import IDENTITY_KEYWORDS
from sarcoma_xnat.errors import ConfigurationError

__all__ = ["PixelRule", "SiteConfig", "load_site_config"]

_KEYS = {"review", "safe_private", "kept_descriptors", "clean_pixels"}
_TEXT_VRS = {"LO", "SH", "LT", "ST", "UT", "UC", "CS"}


@dataclass(frozen=True)
class PixelRule:
    """Where burned-in text lies in the images of one device and image size."""

    manufacturer: str
    model: str | None
    rows: int
    columns: int
    rectangles: tuple[tuple[int, int, int, int], ...]
    index: int = 0

    def matches(self, manufacturer: str, model: str, rows: int, columns: int) -> bool:
        """Return whether an image of this device and size is one this rule cleans."""
        return (self.manufacturer.upper() in manufacturer.upper() and rows == self.rows
                and columns == self.columns
                and (self.model is None or self.model.upper() in model.upper()))


@dataclass(frozen=True)
class SiteConfig:
    """A reviewed site configuration (empty when none is given)."""

    path: str | None = None
    sha256: str | None = None
    review: dict[str, str] = field(default_factory=dict)
    safe_private: frozenset[tuple[str, int, int]] = frozenset()
    kept_descriptors: frozenset[str] = frozenset()
    pixel_rules: tuple[PixelRule, ...] = ()

    def audit(self) -> dict[str, Any]:
        """Return what the audit log records of this configuration (no PHI in it)."""
        if self.path is None:
            return {"site_config": None}
        return {"site_config": {"file": Path(self.path).name, "sha256": self.sha256,
                                "review": self.review, "safe_private": len(self.safe_private),
                                "kept_descriptors": sorted(self.kept_descriptors),
                                "clean_pixels_rules": len(self.pixel_rules)}}


def load_site_config(path: str | os.PathLike[str] | None) -> SiteConfig:
    """Read and check a site configuration file (``.json`` or ``.toml``); None: no file."""
    if path is None:
        return SiteConfig()
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"--site-config {source}: cannot be read "
                                 f"({exc.strerror})") from None
    try:
        raw = json.loads(data) if source.suffix.lower() == ".json" else tomllib.loads(
            data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"--site-config {source}: not valid "
                                 f"{'JSON' if source.suffix.lower() == '.json' else 'TOML'}: "
                                 f"{exc}") from None
    where = f"--site-config {source}"
    if not isinstance(raw, dict) or set(raw) - _KEYS:
        raise ConfigurationError(f"{where}: unknown keys {sorted(set(raw) - _KEYS)}; "
                                 f"allowed: {sorted(_KEYS)}")
    review = raw.get("review")
    if not isinstance(review, dict) or not all(isinstance(review.get(k), str) and review[k].strip()
                                               for k in ("by", "date")):
        raise ConfigurationError(f"{where}: needs a [review] with 'by' and 'date' (the file "
                                 "is used only once someone has reviewed it)")
    return SiteConfig(str(source), hashlib.sha256(data).hexdigest(),
                      {"by": review["by"].strip(), "date": review["date"].strip()},
                      _safe_private(raw.get("safe_private", []), where),
                      _kept(raw.get("kept_descriptors", []), where),
                      _rules(raw.get("clean_pixels", []), where))


def _hex(value: Any, what: str, where: str) -> int:
    try:
        return int(value, 16) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{where}: {what} {value!r} is not a hex number") from None


def _safe_private(entries: Any, where: str) -> frozenset[tuple[str, int, int]]:
    out = set()
    for n, entry in enumerate(_list(entries, "safe_private", where), start=1):
        if not isinstance(entry, dict) or set(entry) - {"creator", "group", "element", "reason"}:
            raise ConfigurationError(f"{where}: safe_private #{n} needs creator, group, element "
                                     "(and an optional reason), nothing else")
        creator = str(entry.get("creator", "")).strip().upper()
        group = _hex(entry.get("group"), "group", where)
        element = _hex(entry.get("element"), "element", where)
        if not creator or not group & 1 or not 0x0009 <= group <= 0xFFFF \
                or not 0x00 <= element <= 0xFF:
            raise ConfigurationError(f"{where}: safe_private #{n} needs a private creator, an "
                                     "odd group above 0008 and an element offset 00..FF")
        out.add((creator, group, element))
    return frozenset(out)


def _kept(entries: Any, where: str) -> frozenset[str]:
    cleaned = {row.keyword for row in load_rows() if row.options.get("clean_descriptors") == "C"}
    out = set()
    for keyword in _list(entries, "kept_descriptors", where):
        tag = tag_for_keyword(str(keyword))
        if tag is None or keyword in IDENTITY_KEYWORDS or dictionary_VR(tag) not in _TEXT_VRS \
                or keyword not in cleaned:
            raise ConfigurationError(f"{where}: kept_descriptors: {keyword!r} is not a text "
                                     "attribute that Clean Descriptors cleans (PS3.15 Table "
                                     "E.1-1, C in its column)")
        out.add(str(keyword))
    return frozenset(out)


def _rules(entries: Any, where: str) -> tuple[PixelRule, ...]:
    rules = []
    allowed = {"manufacturer", "model", "rows", "columns", "rectangles"}
    for n, entry in enumerate(_list(entries, "clean_pixels", where), start=1):
        if not isinstance(entry, dict) or set(entry) - allowed:
            raise ConfigurationError(f"{where}: clean_pixels #{n} takes {sorted(allowed)}")
        try:
            rows, columns = int(entry["rows"]), int(entry["columns"])
            boxes = tuple(tuple(int(v) for v in box) for box in entry["rectangles"])
            manufacturer = str(entry["manufacturer"]).strip()
        except (KeyError, TypeError, ValueError):
            raise ConfigurationError(f"{where}: clean_pixels #{n} needs manufacturer, rows, "
                                     "columns and rectangles [[left, top, width, height], ...]"
                                     ) from None
        if not manufacturer or not boxes or any(
                len(b) != 4 or b[0] < 0 or b[1] < 0 or b[2] < 1 or b[3] < 1
                or b[0] + b[2] > columns or b[1] + b[3] > rows for b in boxes):
            raise ConfigurationError(f"{where}: clean_pixels #{n}: each rectangle is [left, top, "
                                     f"width, height] inside the {columns}x{rows} image")
        model = entry.get("model")
        rules.append(PixelRule(manufacturer, str(model).strip() if model else None, rows,
                               columns, boxes, n))  # type: ignore[arg-type]
    return tuple(rules)


def _list(value: Any, name: str, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigurationError(f"{where}: {name} must be a list")
    return value

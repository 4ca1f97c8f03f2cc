"""Series selection: pick the T1 and T2 series of a session by rules, in a fixed channel order.

A rule is a case-insensitive regular expression matched against the scan's XNAT
scan type and its DICOM SeriesDescription (joined by a space, underscores and
other punctuation read as spaces, so ``T1_AX_POST`` matches ``\\bT1\\b``), plus an
optional exclusion expression. An explicit scan ID overrides the rule. Exactly
one scan must match each channel; otherwise the error lists the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sarcoma_xnat.errors import ConfigurationError, SeriesSelectionError

__all__ = ["CHANNELS", "DEFAULT_RULES", "ScanCandidate", "SeriesRule", "select_series"]

#: channel order of the image network's input
CHANNELS = ("t1", "t2")


@dataclass(frozen=True)
class ScanCandidate:
    """What selection knows about one scan: its ID, XNAT scan type and SeriesDescription."""

    scan_id: str
    scan_type: str = ""
    description: str = ""
    series_uid: str = ""

    def text(self) -> str:
        """Return the scan type and description, punctuation replaced by spaces."""
        return re.sub(r"[^0-9A-Za-z+]+", " ", f"{self.scan_type} {self.description}").strip()

    def __str__(self) -> str:
        if not (self.scan_type or self.description or self.series_uid):
            return (f"scan {self.scan_id} (no readable DICOM header: are its files DICOM? "
                    "choose scans by id with --t1-scan/--t2-scan)")
        return f"scan {self.scan_id} ({self.scan_type or '-'} / {self.description or '-'})"


@dataclass(frozen=True)
class SeriesRule:
    """A selection rule for one channel."""

    include: str
    exclude: str | None = None
    scan_id: str | None = None

    def matches(self, scan: ScanCandidate) -> bool:
        """Return whether ``scan`` satisfies this rule."""
        if self.scan_id is not None:
            return scan.scan_id == self.scan_id
        text = scan.text()
        if not re.search(self.include, text, re.IGNORECASE):
            return False
        return not (self.exclude and re.search(self.exclude, text, re.IGNORECASE))

    def describe(self) -> dict[str, Any]:
        """Return the rule as a JSON-ready dict."""
        return {"include": self.include, "exclude": self.exclude, "scan_id": self.scan_id}


_NOT_IMAGING = r"\b(LOC|LOCALI[SZ]ER|SCOUT|SURVEY|CAL|CALIBRATION|MIP|SUB|SUBTRACTION|MPR|DWI|ADC)\b"

DEFAULT_RULES: dict[str, SeriesRule] = {
    "t1": SeriesRule(include=r"\bT1(W|WI)?\b", exclude=_NOT_IMAGING + r"|\bPRE\b"),
    "t2": SeriesRule(include=r"\bT2(W|WI)?\b", exclude=_NOT_IMAGING),
}


def _validate(rules: Mapping[str, SeriesRule]) -> None:
    for channel, rule in rules.items():
        for pattern in (rule.include, rule.exclude):
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigurationError(f"invalid {channel} selection pattern {pattern!r}: {exc}") \
                    from exc


def select_series(
    scans: Sequence[ScanCandidate],
    rules: Mapping[str, SeriesRule] | None = None,
    channels: Sequence[str] = CHANNELS,
    context: Mapping[str, Any] | None = None,
) -> dict[str, ScanCandidate]:
    """Return the scan chosen for each channel, in ``channels`` order.

    Raises
    ------
    SeriesSelectionError
        A channel matches no scan or several scans, or two channels pick the same scan.
    """
    rules = {**DEFAULT_RULES, **dict(rules or {})}
    _validate(rules)
    ctx = dict(context or {})
    listing = "; ".join(str(s) for s in scans) or "no scans"
    chosen: dict[str, ScanCandidate] = {}
    for channel in channels:
        if channel not in rules:
            raise ConfigurationError(f"no selection rule for channel {channel!r}")
        rule = rules[channel]
        hits = [s for s in scans if rule.matches(s)]
        how = f"scan id {rule.scan_id}" if rule.scan_id else f"pattern {rule.include!r}"
        if not hits:
            raise SeriesSelectionError(f"no {channel.upper()} series matches {how}; "
                                       f"candidates: {listing}", **ctx)
        if len(hits) > 1:
            raise SeriesSelectionError(
                f"{channel.upper()} series is ambiguous: {len(hits)} scans match {how} "
                f"({'; '.join(str(s) for s in hits)}); choose one by scan id or a narrower pattern",
                **ctx)
        chosen[channel] = hits[0]
    ids = [c.scan_id for c in chosen.values()]
    if len(set(ids)) != len(ids):
        raise SeriesSelectionError(f"one scan was chosen for several channels: "
                                   f"{', '.join(f'{k}={v.scan_id}' for k, v in chosen.items())}", **ctx)
    return chosen

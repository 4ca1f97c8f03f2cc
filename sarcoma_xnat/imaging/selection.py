"""Series selection: pick the T1 and T2 series of a session by rules, in a fixed channel order.

A rule is a case-insensitive regular expression matched against the scan's XNAT
scan type and its DICOM SeriesDescription (joined by a space, underscores and
other punctuation read as spaces, so ``T1_AX_POST`` matches ``\\bT1\\b``), plus an
optional exclusion expression. An explicit scan ID overrides the rule.

When several scans match a channel, the rule's preferences rank them, each
deciding only among the scans the ones before it left tied (:data:`PREFERENCES`):
post-contrast over pre-contrast (T1 only), fat-saturated over not (FS, SPAIR, SPIR,
STIR, TIRM, Dixon water), axial over other planes, then thinner slices. Scans still
tied after every preference are ambiguous: the error lists them. A project can
replace the rules with a ``series_rules.json`` file (:func:`rules_from_json`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sarcoma_xnat.errors import ConfigurationError, SeriesSelectionError

__all__ = ["CHANNELS", "DEFAULT_RULES", "PREFERENCES", "ScanCandidate", "SeriesRule", "rules_from_json",
           "select_series"]

#: channel order of the image network's input
CHANNELS = ("t1", "t2")


@dataclass(frozen=True)
class ScanCandidate:
    """What selection knows about one scan: its ID, XNAT scan type and SeriesDescription."""

    scan_id: str
    scan_type: str = ""
    description: str = ""
    series_uid: str = ""
    slice_thickness: float | None = None

    def text(self) -> str:
        """Return the scan type and description, punctuation but ``+`` and ``*`` replaced by spaces."""
        return re.sub(r"[^0-9A-Za-z+*]+", " ", f"{self.scan_type} {self.description}").strip()

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
    prefer: tuple[str, ...] = ()

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
        return {"include": self.include, "exclude": self.exclude, "scan_id": self.scan_id,
                "prefer": list(self.prefer)}

    def rank(self, scan: ScanCandidate) -> tuple[float, ...]:
        """Return the scan's preference key (larger is better), one entry per preference."""
        text = scan.text()
        key: list[float] = []
        for name in self.prefer:
            if name == "thinner":
                key.append(-scan.slice_thickness if scan.slice_thickness else float("-inf"))
                continue
            good, bad = _PREFERENCE_PATTERNS[name]
            if re.search(good, text, re.IGNORECASE):
                key.append(2.0)
            elif bad and re.search(bad, text, re.IGNORECASE):
                key.append(0.0)
            else:
                key.append(1.0)
        return tuple(key)


# series that are never the study's T1 or T2: localizers, calibrations, reformats,
# subtractions, diffusion, dynamic (several volumes) and the non-water Dixon images
_NOT_IMAGING = (r"\b(LOC|LOCALI[SZ]ER|3 ?PLANE|SCOUT|SURVEY|POSDISP|CAL|CALIBRATION|REF|"
                r"MIP|SUB|SUBTRACTION|MPR|DWI|ADC|TRACE|DIFF|DYN|DYNAMIC|DCE|TWIST|"
                r"PERF|ND|FAT|F|OPP|OP|IN|IP|INPHASE|OUTPHASE)\b|\bIN PHASE\b|\bOUT PHASE\b")

#: what each preference looks for: (preferred pattern, dispreferred pattern)
_PREFERENCE_PATTERNS = {
    "post_contrast": (r"\b(POST|GAD|GADO|GD|CE|CONTRAST|KM)\b|\+ ?C\b|\bC\+|\+GD",
                      r"\b(PRE|NATIVE?|NON ?CON|NONCONTRAST|PLAIN)\b"),
    "fat_saturated": (r"\b(FS|FATSAT|FAT ?SAT|FSAT|SPIR|SPAIR|SPECIAL|STIR|TIRM|CHESS|W|WATER|"
                      r"FATSUP|FAT ?SUPP?|E?THRIVE|LAVA)\b", None),
    "axial": (r"\b(AX|AXI|AXIAL|TRA|TRANS|TRANSVERSE)\b", r"\b(COR|CORONAL|SAG|SAGITTAL)\b"),
}
#: the preference names a rule can list, in the default order
PREFERENCES = ("post_contrast", "fat_saturated", "axial", "thinner")

DEFAULT_RULES: dict[str, SeriesRule] = {
    "t1": SeriesRule(include=r"\bT1(W|WI|FS|TSE|SE|FSE)?\b|\b(VIBE|LAVA|E?THRIVE|FS?PGR|FLASH|MPRAGE)\b",
                     exclude=_NOT_IMAGING, prefer=PREFERENCES),
    "t2": SeriesRule(include=r"\bT2(W|WI|FS|TSE|FSE)?\b|\b(STIR|TIRM)\b",
                     exclude=_NOT_IMAGING + r"|T2 ?\*|\bT2 ?STAR\b|\b(MEDIC|MERGE|FFE|SWI|FLAIR)\b",
                     prefer=PREFERENCES[1:]),
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
        if len(hits) > 1 and rule.prefer:
            best = max(rule.rank(s) for s in hits)
            hits = [s for s in hits if rule.rank(s) == best]
            how += f" equally well by the preferences {', '.join(rule.prefer)}"
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


def rules_from_json(data: Mapping[str, Any], base: Mapping[str, SeriesRule] | None = None,
                    ) -> dict[str, SeriesRule]:
    """Return the rules a project's ``series_rules.json`` describes, over ``base`` (the defaults).

    The file maps a channel to ``{"include": regex, "exclude": regex or null,
    "prefer": [names from PREFERENCES]}``; keys left out keep the base rule's value.
    """
    out = dict(base or DEFAULT_RULES)
    if not isinstance(data, Mapping):
        raise ConfigurationError("series rules must be a JSON object mapping channels to rules")
    for channel, spec in data.items():
        if channel not in CHANNELS or not isinstance(spec, Mapping):
            raise ConfigurationError(f"series rules: expected channels {', '.join(CHANNELS)} mapping "
                                     f"to objects, got {channel!r}")
        unknown = sorted(set(spec) - {"include", "exclude", "prefer"})
        if unknown:
            raise ConfigurationError(f"series rules for {channel}: unknown keys {', '.join(unknown)}")
        prefer = tuple(spec.get("prefer", out[channel].prefer))
        bad = [p for p in prefer if p not in PREFERENCES]
        if bad:
            raise ConfigurationError(f"series rules for {channel}: unknown preferences "
                                     f"{', '.join(bad)}; expected some of {', '.join(PREFERENCES)}")
        old = out[channel]
        out[channel] = SeriesRule(str(spec.get("include", old.include)),
                                  spec.get("exclude", old.exclude), old.scan_id, prefer)
    _validate(out)
    return out

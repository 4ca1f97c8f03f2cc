"""Which session of a subject enters the curated cohort, and which sessions are left out by QC.

**Baseline rule.** A subject contributes exactly one session, its *baseline*: the session
whose custom field :data:`BASELINE_FIELD` (``baseline``) is ``true`` (also ``yes``/``1``,
any case), else the session with the earliest XNAT session date
(``xnat:experimentData/date``, ``YYYY-MM-DD``); sessions without a readable date come
after dated ones, and ties are broken by session label. Two sessions both marked
``baseline=true`` is an error for that subject (it is left out and listed), never a
guess. Every other session of the subject is listed as a follow-up, not used.

**QC exclusions** (only where images are used):

* a scan the session's ``PREPROCESSED`` result was made from has XNAT scan quality
  ``unusable`` (:data:`UNUSABLE_QUALITIES`). XNAT keeps the quality on
  ``xnat:imageScanData/quality``, settable with the ``quality`` shortcut of a scan PUT
  (``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/helpers/xmlpath/XMLPathShortcuts.java``)
  and listed by default in a session's scan listing
  (``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/restlet/resources/ScanList.java``
  ``getDefaultFields``); the labels are site-configurable and default to
  ``usable``/``questionable``/``unusable``
  (``NrgXnat/xnat-web:src/main/webapp/scripts/imageScanData/scan_tools.js``
  ``setScanQualityOptions``). ``questionable`` scans are kept. The scans used are read
  from the result's ``provenance.json`` when its input fingerprint is the manifest's
  (that record belongs to this very result); otherwise every scan of the session is
  checked;
* a reviewer rejected the session at QC (``sarcoma-xnat review reject``; state
  ``rejected`` of :mod:`sarcoma_xnat.segmentation.review`).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive.base import Archive, ArchiveObject
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import InputDataError

__all__ = ["BASELINE_FIELD", "BASELINE_RULE", "EXCLUSIONS_FILE", "UNUSABLE_QUALITIES", "choose_baseline",
           "cohort_rules", "scan_quality_problem", "used_scans", "write_exclusions"]

#: session custom field that marks a subject's baseline session (overrides the date rule)
BASELINE_FIELD = "baseline"
#: the rule, as recorded in the model card
BASELINE_RULE = (f"one session per subject: the session with custom field {BASELINE_FIELD}=true, "
                 "else the earliest session date (undated sessions last, ties by label)")
#: XNAT scan quality values that exclude a session
UNUSABLE_QUALITIES = frozenset({"unusable"})
_TRUE = frozenset({"true", "yes", "1"})
#: the training output's list of left-out sessions (pseudonymised labels, with reasons)
EXCLUSIONS_FILE = "excluded.json"


def _date(session: ArchiveObject) -> _dt.date | None:
    raw = str(session.attrs.get("date") or "").strip()
    try:
        return _dt.date.fromisoformat(raw[:10])
    except ValueError:
        return None


def choose_baseline(sessions: Sequence[ArchiveObject]) -> ArchiveObject:
    """Return the baseline session of one subject's ``sessions`` (see the module docstring).

    Raises :class:`InputDataError` when more than one session is marked baseline.
    """
    if not sessions:
        raise InputDataError("subject has no session")
    marked = [s for s in sessions if str(s.fields.get(BASELINE_FIELD, "")).strip().lower() in _TRUE]
    if len(marked) > 1:
        raise InputDataError(f"{len(marked)} sessions are marked {BASELINE_FIELD}=true "
                             f"({', '.join(s.label for s in marked)}): mark one")
    if marked:
        return marked[0]
    return min(sessions, key=lambda s: (_date(s) is None, _date(s) or _dt.date.max, s.label))


def used_scans(folder: Path) -> set[str] | None:
    """Return the scan IDs a fetched ``PREPROCESSED`` folder was made from, or None if unknown."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        inputs = json.loads((folder / "provenance.json").read_text())["inputs"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(inputs, dict) or inputs.get("fingerprint") != manifest.get("fingerprint"):
        return None  # a leftover record of another run (XNAT merges re-runs into one resource)
    scans = {str(inputs[ch]["scan"]) for ch in ("t1", "t2")
             if isinstance(inputs.get(ch), dict) and inputs[ch].get("scan") is not None}
    return scans or None


def scan_quality_problem(archive: Archive, session: ObjectRef, scans: set[str] | None) -> str | None:
    """Return why ``session`` is excluded for scan quality (scans ``scans``, None: all), else None."""
    bad = [s.label for s in archive.children(session, "scan")
           if (scans is None or s.label in scans)
           and str(s.attrs.get("quality") or "").strip().lower() in UNUSABLE_QUALITIES]
    if not bad:
        return None
    which = "used " if scans is not None else ""
    return f"{which}scan(s) {', '.join(bad)} marked quality 'unusable' in XNAT"


def _kind(reason: str) -> str:
    return "scan quality unusable" if "quality 'unusable'" in reason else (
        "rejected at QC review" if "QC sign-off" in reason else "other")


def cohort_rules(cohort: Any) -> dict[str, Any]:
    """Return the cohort rules and counts of a loaded ``Cohort`` for meta and card (no labels)."""
    counts: dict[str, int] = {}
    for _, reason in cohort.excluded:
        counts[_kind(reason)] = counts.get(_kind(reason), 0) + 1
    return {"baseline_rule": BASELINE_RULE, "baseline_field": BASELINE_FIELD,
            "follow_up_sessions_not_used": len(cohort.follow_ups),
            "excluded_by_qc": counts, "skipped": len(cohort.skipped),
            "qc_rule": f"sessions whose used scans have XNAT quality {sorted(UNUSABLE_QUALITIES)} "
                       "or that a reviewer rejected at QC sign-off are left out"}


def write_exclusions(folder: Path, cohort: Any) -> Path:
    """Write :data:`EXCLUSIONS_FILE` into a training output: QC exclusions and follow-up sessions.

    Sessions are named by their (pseudonymised) ``subject/session`` labels; the file stays
    in the training output, never in ``model.pt`` or the model card.
    """
    rows = ([{"session": n, "reason": r, "kind": _kind(r)} for n, r in cohort.excluded]
            + [{"session": n, "reason": r, "kind": "follow-up session"} for n, r in cohort.follow_ups])
    path = Path(folder) / EXCLUSIONS_FILE
    path.write_text(json.dumps(rows, indent=2) + "\n")
    return path

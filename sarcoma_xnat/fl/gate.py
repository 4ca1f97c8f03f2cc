"""The server's validation gate: Dafne-style "validate, then merge" for federated updates.

Each client update is checked before it can touch the global model:

1. every weight must be finite, and the update must have the global model's keys and shapes;
2. the candidate ``(1 - w) · global + w · update`` (``w`` = merge weight, default 0.5)
   is scored on the server's own validation data. With a plain score function the
   update is rejected if the score drops by more than ``max_drop`` below the current
   global model's (a fixed tolerance). With a :class:`~sarcoma_xnat.fl.paired.PairedValidation`
   (what the server uses) the tolerance is sized to the validation set: the update is
   rejected only if a paired bootstrap of the validation subjects shows it worse with
   one-sided confidence (95 %) *and* its drop exceeds ``max_drop`` (a floor); the change
   and its interval are recorded in the decision.

The accepted updates are averaged (weighted by local steps), merged the same way, and
the merged model is scored once more; it replaces the global model only if it, too,
stays within ``max_drop``. Every decision is returned so it can be logged.

A site that sends a difference instead of weights (with differential privacy, see
:mod:`.privacy`) makes it with :func:`weight_diff`; the server adds it back with
:func:`apply_diff` before the gate sees it, so the checks above are the same.

Under FedBN a site keeps its batch-norm statistics and sends an update without them; the
server fills exactly those keys from the current global model (:func:`fill_local_keys`)
before the gate sees the update. Any other missing key makes the update malformed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sarcoma_xnat.errors import ModelError, SarcomaXnatError

__all__ = ["GateDecision", "GateRound", "ValidationGate", "apply_diff", "fedavg", "fill_local_keys",
           "merge", "update_problem", "weight_diff"]

Weights = Mapping[str, Any]


@dataclass
class GateDecision:
    """What the gate decided about one site's update."""

    site: str
    accepted: bool
    reason: str
    score: float | None = None
    #: the candidate's change of the validation score (candidate - global model)
    change: float | None = None
    #: paired-bootstrap ``[1 - confidence, confidence]`` quantiles of the change (paired test)
    interval: list[float] | None = None


@dataclass
class GateRound:
    """One round: the decisions, the scores before and after, and how far the model moved."""

    round: int
    baseline: float
    decisions: list[GateDecision]
    merged_score: float | None
    merged: bool
    delta_norm: float
    #: why the averaged update was or was not merged
    merged_reason: str = ""
    #: the gate's test in words (fixed tolerance or paired bootstrap)
    test: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return asdict(self)


def _np(weights: Weights) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in weights.items()}


def weight_diff(new: Weights, reference: Weights) -> dict[str, np.ndarray]:
    """Return ``new - reference`` per key, in each entry's own dtype (integers stay integers).

    Float entries are subtracted in float64 and cast back; integer entries (batch-norm
    counters) subtract exactly, so :func:`apply_diff` restores them exactly.
    """
    out = {}
    for key, value in _np(new).items():
        ref = np.asarray(reference[key])
        if value.dtype.kind == "f":
            out[key] = (value.astype(np.float64) - ref.astype(np.float64)).astype(value.dtype)
        else:
            out[key] = (value - ref).astype(value.dtype)
    return out


def apply_diff(reference: Weights, diff: Weights) -> dict[str, np.ndarray]:
    """Return ``reference + diff`` per key of ``diff``, in the reference's dtype.

    Entries whose key or shape the reference lacks, and non-integer differences of integer
    entries, are passed through unchanged, so that :func:`update_problem` names them
    instead of this failing or hiding a NaN in an integer.
    """
    ref_np, out = _np(reference), {}
    for key, value in _np(diff).items():
        ref = ref_np.get(key)
        if ref is None or ref.shape != value.shape or (ref.dtype.kind != "f" and value.dtype.kind == "f"):
            out[key] = value
        elif ref.dtype.kind == "f":
            out[key] = (ref.astype(np.float64) + value.astype(np.float64)).astype(ref.dtype)
        else:
            out[key] = (ref + value).astype(ref.dtype)
    return out


def fill_local_keys(reference: Weights, update: Weights, pattern: str | None) -> Weights:
    """Return ``update`` with the keys it lacks that match ``pattern`` taken from ``reference``.

    For keys a site keeps to itself (FedBN: batch-norm statistics, ``BN_PATTERN``), so the
    global model keeps its own values for them. Missing keys that do not match
    ``pattern`` stay missing, for :func:`update_problem` to name. ``update`` itself is
    returned when nothing is filled (always when ``pattern`` is None or the update is
    empty, which stays an empty update).
    """
    if not pattern or not update:
        return update
    regex = re.compile(pattern)
    missing = [k for k in reference if k not in update and regex.search(k)]
    if not missing:
        return update
    return {**update, **{k: np.asarray(reference[k]) for k in missing}}


def update_problem(reference: Weights, update: Weights) -> str | None:
    """Return why ``update`` is malformed (keys, shapes, non-finite values), or None."""
    if not update:
        return "empty update"
    unknown = set(update) - set(reference)
    if unknown:
        return f"unknown keys {sorted(unknown)[:3]}"
    for key, value in update.items():
        arr = np.asarray(value)
        if arr.shape != np.asarray(reference[key]).shape:
            return f"shape of {key} is {arr.shape}, expected {np.asarray(reference[key]).shape}"
        if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            return f"non-finite values in {key}"
    missing = [k for k in reference if k not in update]
    if missing:
        return f"missing keys {missing[:3]}" + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return None


def merge(current: Weights, update: Weights, weight: float) -> dict[str, np.ndarray]:
    """Return ``(1 - weight) · current + weight · update`` (keys missing in ``update`` kept)."""
    out = {}
    for key, value in _np(current).items():
        if key not in update:
            out[key] = value
            continue
        mixed = (1.0 - weight) * value.astype(np.float64) + weight * np.asarray(update[key], np.float64)
        integer = value.dtype.kind in "iu"
        out[key] = (np.rint(mixed) if integer else mixed).astype(value.dtype)
    return out


def fedavg(updates: list[Weights], weights: list[float]) -> dict[str, np.ndarray]:
    """Return the weighted average of ``updates`` (same keys in all)."""
    total = float(sum(weights))
    keys = updates[0].keys()
    return {k: sum(w / total * np.asarray(u[k], np.float64) for u, w in zip(updates, weights))
            for k in keys}


class ValidationGate:
    """Accept or reject updates by their effect on a server-side validation score.

    Parameters
    ----------
    score : callable or PairedValidation
        Maps a weight dict to a validation score (higher is better, e.g. C-index), judged
        with the fixed tolerance ``max_drop``; or a
        :class:`~sarcoma_xnat.fl.paired.PairedValidation`, judged with its paired
        bootstrap (``max_drop`` is then the floor of a rejected drop).
    merge_weight : float
        Weight of the incoming update when merging (Dafne: 0.5).
    max_drop : float
        Largest tolerated drop of the score below the current global model's (fixed
        tolerance), or the smallest drop that may be rejected (paired test).
    """

    def __init__(self, score: Callable[[Weights], float], merge_weight: float = 0.5,
                 max_drop: float = 0.02) -> None:
        if not 0.0 < merge_weight <= 1.0:
            raise ValueError(f"merge_weight must be in (0, 1], got {merge_weight}")
        self.score = score
        self.merge_weight = merge_weight
        self.max_drop = max_drop
        self.paired = score if hasattr(score, "compare") and hasattr(score, "scores") else None

    def describe(self) -> str:
        """Return the gate's test in words."""
        if self.paired is None:
            return f"fixed tolerance: rejected if the score drops by more than {self.max_drop}"
        return f"{self.paired.describe()} and by more than {self.max_drop}"

    def _score(self, weights: Weights) -> Any:
        """Score ``weights`` (per-subject risks for a paired test); NaN if it cannot be scored."""
        try:
            if self.paired is not None:
                return self.paired.scores(weights)
            return float(self.score(weights))
        except (SarcomaXnatError, ValueError, RuntimeError, FloatingPointError):
            return float("nan")

    def _judge(self, base: Any, baseline: float, weights: Weights) -> tuple[bool, str, dict[str, Any]]:
        """Return (accepted, reason, decision fields) for the candidate ``weights``."""
        s = self._score(weights)
        if np.ndim(s) == 0 and not np.isfinite(s):
            return False, "the candidate cannot be scored on the validation data", {}
        if self.paired is None:
            fields = {"score": s, "change": s - baseline}
            if s < baseline - self.max_drop:
                return False, (f"validation score {s:.4f} < {baseline:.4f} - {self.max_drop}"), fields
            return True, "validation score within tolerance", fields
        cmp = self.paired.compare(base, s)
        lo, hi = cmp.interval
        fields = {"score": cmp.candidate, "change": cmp.change, "interval": [lo, hi]}
        text = (f"validation C-index change {cmp.change:+.4f} "
                f"({cmp.confidence:.0%} one-sided upper bound {hi:+.4f}, n={cmp.n})")
        if cmp.worse and cmp.change < -self.max_drop:
            return False, f"{text}: worse with {cmp.confidence:.0%} confidence, by more than " \
                          f"{self.max_drop}", fields
        if cmp.change < -self.max_drop:
            return True, f"{text}: not worse with {cmp.confidence:.0%} confidence", fields
        return True, f"{text}: within {self.max_drop}", fields

    def step(self, round_: int, current: Weights,
             updates: list[tuple[str, Weights, float]]) -> tuple[dict[str, np.ndarray], GateRound]:
        """Gate ``(site, weights, n_steps)`` updates; return the new global weights and the record."""
        current = _np(current)
        base = self._score(current)
        if np.ndim(base) == 0 and not np.isfinite(base):
            raise ModelError("the current global model cannot be scored on the validation data")
        baseline = float(base) if self.paired is None else self.paired.c_index(base)
        decisions, kept = [], []
        for site, update, steps in sorted(updates, key=lambda u: u[0]):
            problem = update_problem(current, update)
            if problem:
                decisions.append(GateDecision(site, False, problem))
                continue
            ok, reason, fields = self._judge(base, baseline, merge(current, update, self.merge_weight))
            decisions.append(GateDecision(site, ok, reason, **fields))
            if ok:
                kept.append((update, max(float(steps), 1.0)))
        new, merged_score, merged, merged_reason = current, None, False, "no update accepted"
        if kept:
            avg = fedavg([u for u, _ in kept], [w for _, w in kept])
            candidate = merge(current, avg, self.merge_weight)
            merged, merged_reason, fields = self._judge(base, baseline, candidate)
            merged_score = fields.get("score")
            if merged:
                new = candidate
        delta = float(np.sqrt(sum(float(((new[k].astype(np.float64) - current[k]) ** 2).sum())
                                  for k in current if current[k].dtype.kind == "f")))
        return new, GateRound(round_, baseline, decisions, merged_score, merged, delta,
                              merged_reason, self.describe())

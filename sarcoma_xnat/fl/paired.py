"""Paired bootstrap of the server's validation C-index: is a candidate model worse than the global one?

With a dozen validation sessions the C-index of two equally good models differs by several
hundredths from the subjects' draw alone, so a fixed tolerance (``max_drop``) rejects
honest updates often. :class:`PairedValidation` instead resamples the validation
*subjects* (``n_boot`` multinomial resamples, the same for the global model and the
candidate, so the comparison is paired) and computes the candidate's change of Harrell's
C-index on each. An update is worse only when the one-sided upper confidence bound of the
change (its ``confidence`` quantile) is below zero *and* the change itself is below
``-max_drop`` (a floor: smaller drops are never rejected). The resamples come from a fixed
seed, so a decision can be reproduced.

Harrell's C on a resample is computed exactly, without re-sorting: with the comparable
pairs ``M[i, j]`` and concordance ``A[i, j]`` of the full set
(:func:`sarcoma_xnat.models.metrics.harrell_c`'s definition; two copies of one subject are
never comparable), a resample with counts ``w`` has C = ``wᵀAw / wᵀMw``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sarcoma_xnat.errors import InputDataError

__all__ = ["PairedComparison", "PairedValidation", "comparable_pairs", "concordance_pairs"]


def comparable_pairs(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Return ``M[i, j]`` = 1 where ``i`` had an event and ``j`` was observed longer (Harrell)."""
    t = np.asarray(time, float).ravel()
    e = np.asarray(event).astype(bool).ravel()
    later = t[None, :] > t[:, None]
    same_censored = (t[None, :] == t[:, None]) & ~e[None, :]
    return (e[:, None] & (later | same_censored)).astype(np.float64)


def concordance_pairs(risk: np.ndarray, comparable: np.ndarray, tied_tol: float = 1e-8) -> np.ndarray:
    """Return ``A[i, j]``: 1 for a concordant comparable pair, 0.5 for a tie in risk, else 0."""
    r = np.asarray(risk, float).ravel()
    diff = r[:, None] - r[None, :]
    return np.where(np.abs(diff) <= tied_tol, 0.5, (diff > 0).astype(float)) * comparable


@dataclass
class PairedComparison:
    """A candidate's change of the validation C-index, with its paired-bootstrap interval.

    ``interval`` is the ``[1 - confidence, confidence]`` quantile range of the change over
    the resamples; its upper end is the one-sided upper confidence bound.
    """

    baseline: float
    candidate: float
    change: float
    interval: tuple[float, float]
    confidence: float
    n: int
    n_boot: int

    @property
    def worse(self) -> bool:
        """True when the candidate is worse with one-sided ``confidence`` (upper bound < 0)."""
        return bool(self.interval[1] < 0.0)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        out = asdict(self)
        out["interval"] = [float(v) for v in self.interval]
        return out


class PairedValidation:
    """The server's validation data as a paired test of two models' per-subject risks.

    Parameters
    ----------
    risk : callable
        Maps a weight dict to one risk score per validation subject (higher: earlier event).
    time, event : array
        The validation subjects' follow-up and event indicator.
    n_boot : int
        Bootstrap resamples of the subjects (the same for every comparison).
    confidence : float
        One-sided confidence with which a candidate must be worse to be rejected.
    seed : int
        Seed of the resamples.
    """

    def __init__(self, risk: Callable[[Mapping[str, Any]], np.ndarray], time: np.ndarray,
                 event: np.ndarray, n_boot: int = 1000, confidence: float = 0.95,
                 seed: int = 0) -> None:
        if not 0.5 <= confidence < 1.0:
            raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
        if n_boot < 100:
            raise ValueError(f"n_boot must be at least 100, got {n_boot}")
        self.risk = risk
        self.time = np.asarray(time, float).ravel()
        self.event = np.asarray(event).astype(bool).ravel()
        self.n_boot, self.confidence, self.seed = int(n_boot), float(confidence), int(seed)
        self.comparable = comparable_pairs(self.time, self.event)
        if self.comparable.sum() == 0:
            raise InputDataError("the validation data has no comparable pairs (no events?)")
        n = self.time.size
        counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=self.n_boot)
        self._counts = counts.astype(np.float64)
        self._den = self._quad(self.comparable)
        self._ok = self._den > 0  # resamples without a comparable pair have no C-index

    @property
    def n(self) -> int:
        """Number of validation subjects."""
        return int(self.time.size)

    def describe(self) -> str:
        """Return the test in words (for the gate's records)."""
        return (f"paired bootstrap: {self.n_boot} resamples of {self.n} validation subjects, "
                f"rejected only if worse with one-sided {self.confidence:.0%} confidence")

    def _quad(self, pairs: np.ndarray) -> np.ndarray:
        return ((self._counts @ pairs) * self._counts).sum(axis=1)

    def c_index(self, risk: np.ndarray) -> float:
        """Return Harrell's C-index of ``risk`` on the full validation set."""
        return float(concordance_pairs(risk, self.comparable).sum() / self.comparable.sum())

    def __call__(self, weights: Mapping[str, Any]) -> float:
        """Return the validation C-index of ``weights`` (a :class:`ValidationGate` score)."""
        return self.c_index(self.scores(weights))

    def scores(self, weights: Mapping[str, Any]) -> np.ndarray:
        """Return the per-subject risks of ``weights``; raise ``ValueError`` if not finite."""
        r = np.asarray(self.risk(weights), float).ravel()
        if r.shape != self.time.shape:
            raise ValueError(f"{r.size} risk scores for {self.n} validation subjects")
        if not np.isfinite(r).all():
            raise ValueError("risk scores contain NaN or infinity")
        return r

    def compare(self, baseline_risk: np.ndarray, candidate_risk: np.ndarray) -> PairedComparison:
        """Return the candidate's change of C-index and its paired-bootstrap interval."""
        a = concordance_pairs(baseline_risk, self.comparable)
        b = concordance_pairs(candidate_risk, self.comparable)
        total = self.comparable.sum()
        base, cand = float(a.sum() / total), float(b.sum() / total)
        ok = self._ok
        change = (self._quad(b)[ok] - self._quad(a)[ok]) / self._den[ok]
        lo, hi = np.quantile(change, [1.0 - self.confidence, self.confidence])
        return PairedComparison(base, cand, cand - base, (float(lo), float(hi)), self.confidence,
                                self.n, int(ok.sum()))

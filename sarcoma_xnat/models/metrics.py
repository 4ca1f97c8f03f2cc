"""Survival metrics: Harrell's and Uno's concordance index, bootstrap intervals (numpy only).

Conventions follow scikit-survival: ``risk`` is a risk score (higher means an earlier
event); pairs with tied risk count one half; an event is comparable with every
subject whose observed time is later, and with censored subjects at the same time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sarcoma_xnat.errors import InputDataError

__all__ = ["ConcordanceResult", "bootstrap_ci", "censoring_survival", "harrell_c", "uno_c",
           "uno_c_given"]


@dataclass(frozen=True)
class ConcordanceResult:
    """A C-index with its bootstrap confidence interval."""

    value: float
    lower: float
    upper: float
    n_boot: int

    def as_dict(self) -> dict[str, float]:
        """Return the result as a JSON-friendly dict."""
        return {"value": self.value, "ci_lower": self.lower, "ci_upper": self.upper,
                "n_boot": self.n_boot}


def _check(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> tuple[np.ndarray, ...]:
    t = np.asarray(time, dtype=float).ravel()
    e = np.asarray(event).astype(bool).ravel()
    r = np.asarray(risk, dtype=float).ravel()
    if not (t.shape == e.shape == r.shape):
        raise InputDataError(f"time, event and risk differ in length: {t.size}, {e.size}, {r.size}")
    if not np.all(np.isfinite(r)):
        raise InputDataError("risk scores contain NaN or infinity")
    return t, e, r


def _weighted_c(t: np.ndarray, e: np.ndarray, r: np.ndarray, w: np.ndarray,
                tied_tol: float = 1e-8) -> float:
    """Concordance with per-event weights ``w`` (1 for Harrell, IPCW² for Uno)."""
    # comparable[i, j]: i had an event and j was observed longer (or censored at the same time)
    later = t[None, :] > t[:, None]
    same_censored = (t[None, :] == t[:, None]) & ~e[None, :]
    comparable = e[:, None] & (later | same_censored)
    diff = r[:, None] - r[None, :]
    ties = np.abs(diff) <= tied_tol
    score = np.where(ties, 0.5, (diff > 0).astype(float))
    num = float((w[:, None] * score * comparable).sum())
    den = float((w[:, None] * comparable).sum())
    if den == 0.0:
        raise InputDataError("no comparable pairs: the C-index is undefined (no events?)")
    return num / den


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Return Harrell's C-index of risk scores against censored times."""
    t, e, r = _check(time, event, risk)
    return _weighted_c(t, e, r, np.ones_like(t))


def censoring_survival(train_time: np.ndarray, train_event: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Return the Kaplan–Meier estimate G(t) of the censoring distribution as a function."""
    t = np.asarray(train_time, dtype=float).ravel()
    e = np.asarray(train_event).astype(bool).ravel()
    times = np.unique(t)
    if e.all():
        return lambda x: np.ones(np.asarray(x, dtype=float).shape)
    at_risk = np.array([(t >= u).sum() - ((t == u) & e).sum() for u in times], dtype=float)
    censored = np.array([((t == u) & ~e).sum() for u in times], dtype=float)
    factor = np.where(censored > 0, 1.0 - censored / np.where(at_risk > 0, at_risk, 1.0), 1.0)
    surv = np.r_[1.0, np.cumprod(factor)]
    grid = np.r_[-np.inf, times]

    def g(x: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(grid, np.asarray(x, dtype=float), side="right") - 1
        return surv[np.clip(idx, 0, surv.size - 1)]

    return g


def uno_c(train_time: np.ndarray, train_event: np.ndarray, time: np.ndarray, event: np.ndarray,
          risk: np.ndarray, tau: float | None = None) -> float:
    """Return Uno's IPCW C-index; the censoring distribution is estimated on the training data.

    Only events before ``tau`` count (default: no truncation). Raises
    :class:`InputDataError` when the censoring survival reaches zero at an event.
    """
    return uno_c_given(censoring_survival(train_time, train_event), time, event, risk, tau)


def uno_c_given(censoring: Callable[[np.ndarray], np.ndarray], time: np.ndarray,
                event: np.ndarray, risk: np.ndarray, tau: float | None = None) -> float:
    """Return Uno's IPCW C-index with a given censoring survival function G(t).

    ``censoring`` is e.g. :func:`censoring_survival` of the training data, or the coarse
    step function a model file keeps (:func:`~sarcoma_xnat.models.aggregate.censoring_from_dict`).
    """
    t, e, r = _check(time, event, risk)
    g = censoring(t)
    keep = e & (t < tau) if tau is not None else e
    if np.any(g[keep] <= 0.0):
        raise InputDataError("censoring survival is zero at an event time; set tau lower")
    w = np.zeros_like(t)
    w[keep] = 1.0 / g[keep] ** 2
    if tau is not None:
        e = e & (t < tau)
    return _weighted_c(t, e, r, w)


def bootstrap_ci(statistic: Callable[[np.ndarray], float], n: int, n_boot: int = 200,
                 level: float = 0.95, seed: int = 0,
                 groups: np.ndarray | None = None) -> tuple[float, float, float]:
    """Return the point estimate and a percentile bootstrap interval of ``statistic(indices)``.

    ``statistic`` receives an index array; resamples without comparable pairs are skipped.
    With ``groups`` (one label per row, e.g. the subject), whole groups are resampled:
    a subject's rows enter a resample together or not at all.
    """
    rng = np.random.default_rng(seed)
    point = statistic(np.arange(n))
    members: list[np.ndarray] = []
    if groups is not None:
        if len(groups) != n:
            raise InputDataError(f"groups has {len(groups)} labels for {n} rows")
        _, inverse = np.unique(np.asarray(groups), return_inverse=True)
        members = [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]
    values = []
    for _ in range(n_boot):
        if members:
            picks = rng.integers(0, len(members), len(members))
            idx = np.concatenate([members[g] for g in picks])
        else:
            idx = rng.integers(0, n, n)
        try:
            values.append(statistic(idx))
        except InputDataError:
            continue
    if not values:
        return point, float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return point, float(lo), float(hi)

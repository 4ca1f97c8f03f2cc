"""Aggregate survival summaries that may ship inside a model file (numpy only).

A model file goes to every site that runs ``prognosis``. It must not let anyone read back
a training subject's follow-up time or event. What prognosis and evaluation need from the
training data is therefore kept only as step functions on a coarse grid:

* the Breslow cumulative baseline hazard H0(t), for the predicted survival curves;
* the Kaplan–Meier estimate G(t) of the censoring distribution, for Uno's C-index.

The grid points are multiples of :data:`GRID_MONTHS`; neighbouring cells are merged until
each step holds at least :data:`MIN_COUNT` of the counted subjects (events for H0,
censorings for G), so a step never describes fewer than that many people. The values at
the grid points are the exact estimates there; between grid points the function stays at
the value of the grid point below (a coarser, lagging step function).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sarcoma_xnat.errors import InputDataError
from sarcoma_xnat.models.survival import BreslowBaseline

__all__ = ["GRID_MONTHS", "MIN_COUNT", "censoring_from_dict", "coarse_baseline", "coarse_censoring",
           "coarse_grid", "follow_up_months"]

#: width of a grid cell in months
GRID_MONTHS = 3.0
#: fewest counted subjects (events or censorings) a step may describe
MIN_COUNT = 5


def coarse_grid(times: np.ndarray, step: float = GRID_MONTHS,
                min_count: int = MIN_COUNT) -> np.ndarray:
    """Return the step points: multiples of ``step``, each closing a cell of >= ``min_count`` times.

    Cell ``k`` is ``(g[k-1], g[k]]``. Cells with fewer than ``min_count`` of ``times``
    are merged with the next one; a short last cell is merged into the one before it.
    With fewer than ``min_count`` times in all, one cell holds them all.
    """
    t = np.asarray(times, dtype=float).ravel()
    if t.size == 0:
        return np.zeros(0)
    if step <= 0 or min_count < 1:
        raise ValueError(f"step must be > 0 and min_count >= 1, got {step} and {min_count}")
    ends = np.arange(1, int(np.ceil(t.max() / step)) + 1) * step
    if ends.size == 0:  # every time is 0
        ends = np.array([step])
    counts = np.bincount(np.searchsorted(ends, t, side="left"), minlength=ends.size)
    grid: list[float] = []
    pending = 0
    for end, count in zip(ends, counts):
        pending += int(count)
        if pending >= min_count:
            grid.append(float(end))
            pending = 0
    if pending:
        if grid:
            grid[-1] = float(ends[-1])
        else:
            grid.append(float(ends[-1]))
    return np.asarray(grid)


def coarse_baseline(time: np.ndarray, event: np.ndarray, risk: np.ndarray,
                    step: float = GRID_MONTHS, min_count: int = MIN_COUNT) -> BreslowBaseline:
    """Return the Breslow H0 as a step function on the coarse grid of the event times."""
    exact = BreslowBaseline.fit(time, event, risk)
    e = np.asarray(event).astype(bool)
    grid = coarse_grid(np.asarray(time, dtype=float)[e], step, min_count)
    idx = np.searchsorted(exact.times, grid, side="right") - 1
    return BreslowBaseline(grid, np.where(idx >= 0, exact.cum_hazard[np.clip(idx, 0, None)], 0.0))


def coarse_censoring(time: np.ndarray, event: np.ndarray, step: float = GRID_MONTHS,
                     min_count: int = MIN_COUNT) -> dict[str, Any]:
    """Return the censoring Kaplan–Meier G(t) on the coarse grid of the censoring times (a dict)."""
    from sarcoma_xnat.models.metrics import censoring_survival

    t = np.asarray(time, dtype=float)
    censored = ~np.asarray(event).astype(bool)
    grid = coarse_grid(t[censored], step, min_count)
    values = censoring_survival(t, event)(grid) if grid.size else np.zeros(0)
    return {"times": grid.tolist(), "survival": np.asarray(values, float).tolist(),
            "follow_up_months": follow_up_months(t, step)}


def follow_up_months(time: np.ndarray, step: float = GRID_MONTHS) -> float:
    """Return the longest follow-up rounded down to the grid (what ``tau`` of Uno's C may use)."""
    t = np.asarray(time, dtype=float)
    if t.size == 0:
        raise InputDataError("no follow-up times")
    return float(np.floor(t.max() / step) * step)


def censoring_from_dict(data: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    """Return G(t) from :func:`coarse_censoring`'s dict (1 before the first grid point)."""
    grid = np.r_[-np.inf, np.asarray(data["times"], float)]
    surv = np.r_[1.0, np.asarray(data["survival"], float)]

    def g(x: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(grid, np.asarray(x, dtype=float), side="right") - 1
        return surv[np.clip(idx, 0, surv.size - 1)]

    return g

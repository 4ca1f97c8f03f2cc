"""Coarse step functions for model files: enough subjects per step, close to the exact estimates."""

from __future__ import annotations

import numpy as np

from sarcoma_xnat.models.aggregate import (censoring_from_dict, coarse_baseline, coarse_censoring,
                                           coarse_grid)
from sarcoma_xnat.models.metrics import uno_c, uno_c_given


def test_grid_cells_hold_at_least_min_count() -> None:
    times = np.array([0.5, 1.0, 2.9, 4.0, 4.1, 7.0, 8.0, 8.5, 9.0, 10.0, 30.0])
    grid = coarse_grid(times, step=3.0, min_count=3)
    # by hand: (.., 3] has 3; (3, 6] has 2 -> merged with (6, 9]: 2 + 4 = 6; the rest (10, 30)
    # has 2 < 3 and is merged into the last cell, which then ends at 30
    assert grid.tolist() == [3.0, 30.0]
    assert coarse_grid(np.array([1.0, 2.0]), 3.0, 5).tolist() == [3.0]


def _cells(times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Count ``times`` in each cell (g[k-1], g[k]] of ``grid``."""
    lower = np.r_[-np.inf, grid[:-1]]
    return np.array([((times > lo) & (times <= hi)).sum() for lo, hi in zip(lower, grid)])


def _cohort(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t_event = rng.exponential(40 * np.exp(-x))
    t_cens = rng.uniform(5, 90, n)
    time = np.round(np.minimum(t_event, t_cens), 1)
    return time, (t_event <= t_cens).astype(int), x


def test_uno_c_from_the_coarse_censoring_is_close_to_the_exact_one() -> None:
    time, event, risk = _cohort()
    train, test = np.arange(200), np.arange(200, 300)
    cens = coarse_censoring(time[train], event[train])
    assert all(g % 3.0 == 0 for g in cens["times"])
    assert cens["follow_up_months"] <= time[train].max() and cens["follow_up_months"] % 3.0 == 0
    tau = min(cens["follow_up_months"], time[test].max()) - 1e-6
    exact = uno_c(time[train], event[train], time[test], event[test], risk[test], tau=tau)
    coarse = uno_c_given(censoring_from_dict(cens), time[test], event[test], risk[test], tau=tau)
    assert abs(exact - coarse) < 0.01
    assert exact != coarse  # it is a different (coarser) estimate


def test_coarse_baseline_equals_breslow_at_the_grid_points() -> None:
    time, event, risk = _cohort(seed=1)
    base = coarse_baseline(time, event, risk, step=3.0, min_count=5)
    for g, h in zip(base.times, base.cum_hazard):  # Breslow by hand at each grid point
        uniq = np.unique(time[(event == 1) & (time <= g)])
        expected = sum(((time == u) & (event == 1)).sum() / np.exp(risk[time >= u]).sum()
                       for u in uniq)
        assert h == np.float64(expected) or abs(h - expected) < 1e-12
    cells = _cells(time[event == 1], base.times)
    assert cells.min() >= 5

"""Harrell's and Uno's C-index against scikit-survival and lifelines on real and tied data."""

from __future__ import annotations

import numpy as np
import pytest

from sarcoma_xnat.errors import InputDataError
from sarcoma_xnat.models.metrics import bootstrap_ci, censoring_survival, harrell_c, uno_c

sksurv_metrics = pytest.importorskip("sksurv.metrics")
lifelines_utils = pytest.importorskip("lifelines.utils")


def _gbsg2() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sksurv.datasets import load_gbsg2

    x, y = load_gbsg2()
    # a crude but fixed risk score with many ties: positive nodes, rounded
    risk = np.round(np.log1p(x["pnodes"].to_numpy(float)) - x["progrec"].to_numpy(float) / 500, 1)
    return y["time"].astype(float), y["cens"].astype(bool), risk


def _tied(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 15, 120).astype(float)      # heavy ties in time
    event = rng.random(120) < 0.6
    risk = rng.integers(0, 6, 120).astype(float)       # heavy ties in risk
    return time, event, risk


@pytest.mark.parametrize("data", [_gbsg2, _tied])
def test_harrell_matches_sksurv_and_lifelines(data) -> None:
    time, event, risk = data()
    ours = harrell_c(time, event, risk)
    ref = sksurv_metrics.concordance_index_censored(event, time, risk)[0]
    assert ours == pytest.approx(ref, abs=1e-12)
    # lifelines expects a survival score: higher = longer survival
    assert ours == pytest.approx(lifelines_utils.concordance_index(time, -risk, event), abs=1e-9)


@pytest.mark.parametrize("tau", [None, 1500.0])
def test_uno_matches_sksurv_on_gbsg2(tau) -> None:
    time, event, risk = _gbsg2()
    train = np.arange(time.size) % 3 != 0
    test = ~train
    y = np.array(list(zip(event, time)), dtype=[("e", bool), ("t", float)])
    # sksurv requires test times inside the training follow-up
    test &= time < time[train].max()
    ref = sksurv_metrics.concordance_index_ipcw(y[train], y[test], risk[test], tau=tau)[0]
    ours = uno_c(time[train], event[train], time[test], event[test], risk[test], tau=tau)
    assert ours == pytest.approx(ref, abs=1e-10)


def test_censoring_km_matches_sksurv() -> None:
    from sksurv.nonparametric import CensoringDistributionEstimator

    time, event, _ = _tied()
    y = np.array(list(zip(event, time)), dtype=[("e", bool), ("t", float)])
    ref = CensoringDistributionEstimator().fit(y).predict_proba(np.unique(time))
    assert censoring_survival(time, event)(np.unique(time)) == pytest.approx(ref, abs=1e-12)


def test_perfect_and_reversed_risk() -> None:
    time = np.arange(1.0, 11.0)
    event = np.ones(10, bool)
    assert harrell_c(time, event, -time) == 1.0
    assert harrell_c(time, event, time) == 0.0


def test_no_events_is_an_error() -> None:
    with pytest.raises(InputDataError, match="no comparable pairs"):
        harrell_c(np.arange(5.0), np.zeros(5), np.arange(5.0))
    with pytest.raises(InputDataError, match="NaN"):
        harrell_c(np.arange(5.0), np.ones(5), np.array([1, 2, np.nan, 4, 5]))


def test_bootstrap_interval_contains_estimate() -> None:
    time, event, risk = _gbsg2()
    point, lo, hi = bootstrap_ci(lambda i: harrell_c(time[i], event[i], risk[i]), time.size,
                                 n_boot=100, seed=1)
    assert lo < point < hi
    assert 0.01 < hi - lo < 0.15

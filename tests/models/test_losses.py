"""The Cox partial likelihood against lifelines (Efron) and scikit-survival (Breslow)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
lifelines = pytest.importorskip("lifelines")
pytest.importorskip("sksurv")

from sarcoma_xnat.models.losses import cox_partial_log_likelihood, cox_ph_loss  # noqa: E402


def _data(seed: int = 0, n: int = 150) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    eta = x @ np.array([0.8, -0.5, 0.3])
    t = rng.exponential(np.exp(-eta))
    time = np.ceil(t * 8.0)                 # coarse grid: many tied event times
    event = rng.random(n) < 0.7
    return x, time, event


def test_efron_log_likelihood_equals_lifelines() -> None:
    import pandas as pd

    x, time, event = _data()
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(T=time, E=event.astype(int))
    cph = lifelines.CoxPHFitter().fit(df, "T", "E")
    beta = cph.params_[["a", "b", "c"]].to_numpy()
    eta = torch.tensor(x @ beta, dtype=torch.float64)
    ll = cox_partial_log_likelihood(eta, torch.tensor(time), torch.tensor(event), ties="efron")
    assert float(ll) == pytest.approx(cph.log_likelihood_, rel=1e-8)
    # and the fitted coefficients are a stationary point of our loss
    b = torch.tensor(beta, requires_grad=True)
    cox_ph_loss(torch.tensor(x) @ b, torch.tensor(time), torch.tensor(event), "efron").backward()
    assert np.abs(b.grad.numpy()).max() < 1e-4  # lifelines stops at its own tolerance


def test_breslow_is_stationary_at_sksurv_fit() -> None:
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    x, time, event = _data(seed=1)
    y = np.array(list(zip(event, time)), dtype=[("e", bool), ("t", float)])
    beta = CoxPHSurvivalAnalysis(alpha=0.0, ties="breslow", tol=1e-12).fit(x, y).coef_
    b = torch.tensor(beta, requires_grad=True)
    cox_ph_loss(torch.tensor(x) @ b, torch.tensor(time), torch.tensor(event), "breslow").backward()
    assert np.abs(b.grad.numpy()).max() < 1e-5
    # efron and breslow differ when there are ties
    eta = torch.tensor(x @ beta)
    assert float(cox_ph_loss(eta, torch.tensor(time), torch.tensor(event), "efron")) != pytest.approx(
        float(cox_ph_loss(eta, torch.tensor(time), torch.tensor(event), "breslow")))


def test_without_ties_efron_equals_breslow_and_shift_invariance() -> None:
    rng = np.random.default_rng(5)
    time, event = torch.tensor(rng.permutation(40) + 1.0), torch.tensor(rng.random(40) < 0.5)
    eta = torch.tensor(rng.normal(size=40))
    a = cox_ph_loss(eta, time, event, "efron")
    assert float(a) == pytest.approx(float(cox_ph_loss(eta, time, event, "breslow")))
    assert float(a) == pytest.approx(float(cox_ph_loss(eta + 100.0, time, event, "efron")))


def test_no_events_gives_zero_with_gradient() -> None:
    eta = torch.zeros(5, requires_grad=True)
    loss = cox_ph_loss(eta, torch.arange(5.0), torch.zeros(5))
    loss.backward()
    assert float(loss.detach()) == 0.0 and eta.grad is not None

"""A clinical-only network with a linear branch (``clinical_hidden=0``) fits the Cox model.

Reference: scikit-survival's ``CoxPHSurvivalAnalysis`` (Breslow ties) on GBSG2, the
real data set bundled with scikit-survival.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sksurv")


def _gbsg2() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sksurv.datasets import load_gbsg2
    from sksurv.preprocessing import OneHotEncoder

    x, y = load_gbsg2()
    x = x.copy()
    for col in ("pnodes", "progrec", "estrec"):
        x[col] = np.log1p(x[col].astype(float))
    xe = OneHotEncoder().fit_transform(x).to_numpy(float)
    xe = (xe - xe.mean(0)) / xe.std(0)
    return xe.astype(np.float32), y["time"].astype(float), y["cens"].astype(int)


def test_linear_branch_has_no_hidden_nonlinearity() -> None:
    from sarcoma_xnat.models.networks import build_network

    net = build_network(mode="clinical", n_clinical=5, clinical_hidden=0)
    kinds = {type(m).__name__ for m in net.clinical.modules()}
    assert "ReLU" not in kinds and net.config()["clinical_hidden"] == 0
    assert "ReLU" in {type(m).__name__ for m in build_network(mode="clinical", n_clinical=5).clinical.modules()}


def test_linear_clinical_network_matches_cox_on_gbsg2() -> None:
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    from sarcoma_xnat.models.metrics import harrell_c
    from sarcoma_xnat.models.networks import build_network
    from sarcoma_xnat.models.survival import SurvivalArrays
    from sarcoma_xnat.models.training import TrainConfig, fit, predict

    x, t, e = _gbsg2()
    y = np.array(list(zip(e.astype(bool), t)), dtype=[("e", bool), ("t", float)])
    cox = CoxPHSurvivalAnalysis(alpha=0.0, ties="breslow").fit(x, y)
    torch.manual_seed(0)
    net = build_network(mode="clinical", n_clinical=x.shape[1], clinical_hidden=0, dropout=0.0)
    data = SurvivalArrays(x, None, t, e, t, e)
    fit(net, data, TrainConfig(epochs=100, batch_size=len(t), lr=0.1, weight_decay=0.0,
                               ties="breslow", dm_weight=0.0))
    risk = predict(net, data)[:, 0]
    reference = cox.predict(x)
    # same linear predictor up to an additive constant (Cox has no intercept)
    assert np.corrcoef(risk, reference)[0, 1] > 0.999
    np.testing.assert_allclose(np.std(risk), np.std(reference), rtol=0.02)
    assert abs(harrell_c(t, e, risk) - harrell_c(t, e, reference)) < 0.005

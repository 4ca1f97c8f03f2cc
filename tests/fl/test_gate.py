"""The validation gate: malformed, poisoned and harmful updates are rejected; good ones merged."""

from __future__ import annotations

import numpy as np
import pytest

from sarcoma_xnat.fl.gate import ValidationGate, fedavg, merge, update_problem


def _score_towards(target: dict[str, np.ndarray]):
    """A score that is higher the closer the weights are to ``target``."""
    return lambda w: -float(sum(np.abs(np.asarray(w[k], float) - target[k]).sum() for k in target))


def test_merge_and_fedavg_arithmetic() -> None:
    a = {"w": np.array([0.0, 2.0]), "n": np.array(4)}
    b = {"w": np.array([2.0, 4.0]), "n": np.array(8)}
    m = merge(a, b, 0.5)
    assert m["w"].tolist() == [1.0, 3.0] and m["n"] == 6 and m["n"].dtype == a["n"].dtype
    assert fedavg([a, b], [1.0, 3.0])["w"].tolist() == [1.5, 3.5]


def test_update_problems_are_named() -> None:
    ref = {"w": np.zeros(3)}
    assert update_problem(ref, {"w": np.array([0, np.nan, 0])}) == "non-finite values in w"
    assert "shape" in update_problem(ref, {"w": np.zeros(4)})
    assert "unknown keys" in update_problem(ref, {"v": np.zeros(3)})
    assert update_problem(ref, {"w": np.ones(3)}) is None


def test_gate_accepts_helpful_rejects_nan_and_sign_flip() -> None:
    target = {"w": np.array([1.0, -2.0, 3.0])}
    current = {"w": np.array([0.5, -1.0, 1.5])}
    good = {"w": np.array([0.9, -1.9, 2.8])}
    gate = ValidationGate(_score_towards(target), merge_weight=0.5, max_drop=0.1)
    new, record = gate.step(1, current, [
        ("site-1", good, 10),
        ("site-2", {"w": np.array([np.nan, 0.0, 0.0])}, 10),
        ("site-3", {"w": -good["w"]}, 10),
    ])
    decisions = {d.site: d for d in record.decisions}
    assert decisions["site-1"].accepted
    assert not decisions["site-2"].accepted and "non-finite" in decisions["site-2"].reason
    assert not decisions["site-3"].accepted and "validation score" in decisions["site-3"].reason
    assert record.merged and record.delta_norm > 0
    assert new["w"] == pytest.approx(0.5 * current["w"] + 0.5 * good["w"])


def test_gate_keeps_global_when_everything_is_rejected() -> None:
    current = {"w": np.array([1.0])}
    gate = ValidationGate(_score_towards({"w": np.array([1.0])}), max_drop=0.0)
    new, record = gate.step(0, current, [("site-1", {"w": np.array([5.0])}, 1)])
    assert not record.merged and record.delta_norm == 0.0 and new["w"][0] == 1.0


def test_gate_rejects_sign_flipped_survival_model() -> None:
    torch = pytest.importorskip("torch")
    from sarcoma_xnat.models.metrics import harrell_c
    from sarcoma_xnat.models.networks import build_network
    from sarcoma_xnat.models.survival import SurvivalArrays
    from sarcoma_xnat.models.training import TrainConfig, fit, get_weights, predict, set_weights

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 19)).astype(np.float32)
    eta = 1.5 * x[:, 0] - 1.0 * x[:, 1]
    t = rng.exponential(np.exp(-eta))
    data = SurvivalArrays(x, None, t, np.ones(120, np.int64), t, np.ones(120, np.int64))
    torch.manual_seed(0)
    model = build_network(mode="clinical")
    fit(model, data, TrainConfig(epochs=15, lr=1e-2, seed=0))
    trained = get_weights(model)

    def score(w):
        set_weights(model, w)
        return harrell_c(t, np.ones(120), predict(model, data)[:, 0])

    assert score(trained) > 0.7
    flipped = {k: -v if v.dtype.kind == "f" else v for k, v in trained.items()}
    _, record = ValidationGate(score, max_drop=0.02).step(1, trained, [("site-bad", flipped, 5)])
    assert not record.decisions[0].accepted

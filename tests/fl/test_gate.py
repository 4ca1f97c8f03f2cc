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


def test_missing_keys_are_named_and_only_local_keys_are_filled() -> None:
    from sarcoma_xnat.fl.gate import fill_local_keys
    from sarcoma_xnat.models.training import BN_PATTERN

    ref = {"fc.weight": np.ones(3), "bn.running_mean": np.zeros(3), "bn.running_var": np.ones(3),
           "bn.num_batches_tracked": np.array(7), "bn.weight": np.ones(3)}
    trained = {"fc.weight": np.full(3, 2.0), "bn.weight": np.full(3, 0.5)}  # a FedBN update
    assert "missing keys ['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']" \
        == update_problem(ref, trained)
    filled = fill_local_keys(ref, trained, BN_PATTERN)
    assert update_problem(ref, filled) is None and set(filled) == set(ref)
    for key in ("bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):
        np.testing.assert_array_equal(filled[key], ref[key])
    assert filled["fc.weight"] is trained["fc.weight"]
    assert fill_local_keys(ref, trained, None) is trained
    # a trainable parameter, even of a batch-norm layer, is never filled
    partial = fill_local_keys(ref, {"fc.weight": np.ones(3)}, BN_PATTERN)
    assert update_problem(ref, partial) == "missing keys ['bn.weight']"
    assert update_problem(ref, fill_local_keys(ref, {}, BN_PATTERN)) == "empty update"
    many = {f"w{i}": np.zeros(1) for i in range(5)}
    assert update_problem(many, {"w0": np.zeros(1)}) == "missing keys ['w1', 'w2', 'w3'] and 1 more"


def test_server_fills_fedbn_statistics_from_the_global_model_only_under_fedbn() -> None:
    """FedBN sites send no BN statistics: filled from the global model, which keeps its own."""
    pytest.importorskip("nvflare")
    from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

    from sarcoma_xnat.fl.controller import full_weights
    from sarcoma_xnat.fl.gate import weight_diff
    from sarcoma_xnat.models.training import BN_PATTERN

    current = {"w": np.array([0.5, -1.0, 1.5], np.float32),
               "bn.running_mean": np.array([0.25, -0.5], np.float32),
               "bn.running_var": np.array([1.5, 0.75], np.float32),
               "bn.num_batches_tracked": np.array(3, np.int64)}
    trained = {"w": np.array([0.9, -1.9, 2.8], np.float32)}  # what a FedBN site sends
    sent = {"full": FLModel(params=trained, params_type=ParamsType.FULL),
            "diff": FLModel(params=weight_diff(trained, current), params_type=ParamsType.DIFF)}
    target = {"w": np.array([1.0, -2.0, 3.0])}
    gate = ValidationGate(_score_towards(target), merge_weight=0.5, max_drop=0.1)
    for kind, result in sent.items():
        update = full_weights(current, result, BN_PATTERN)
        assert set(update) == set(current), kind
        np.testing.assert_allclose(update["w"], trained["w"], rtol=0, atol=1e-6)
        new, record = gate.step(0, current, [("site-1", update, 10), ("site-2", update, 30)])
        assert record.decisions[0].accepted and record.merged, kind
        for key in ("bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):
            assert new[key].dtype == current[key].dtype
            np.testing.assert_array_equal(new[key], current[key])  # nothing from the sites
        assert not np.allclose(new["w"], current["w"])

        # without FedBN the same update is incomplete and rejected with the reason
        plain = full_weights(current, result)
        assert "bn.running_mean" not in plain
        new, record = gate.step(0, current, [("site-1", plain, 10)])
        assert not record.decisions[0].accepted and not record.merged
        assert record.decisions[0].reason.startswith("missing keys ['bn.running_mean'")
        # under FedBN a missing trainable key is still rejected
        partial = full_weights(current, FLModel(params={"bn.running_mean": current["bn.running_mean"]},
                                                params_type=ParamsType.FULL), BN_PATTERN)
        _, record = gate.step(0, current, [("site-1", partial, 10)])
        assert not record.decisions[0].accepted
        assert record.decisions[0].reason == "missing keys ['w']"

"""The DP task-result filter; the client's difference and the server's rebuild of full weights."""

from __future__ import annotations

import numpy as np
import pytest

from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.fl.gate import ValidationGate, apply_diff, update_problem, weight_diff

pytest.importorskip("nvflare")


def _norm(weights: dict[str, np.ndarray]) -> float:
    return float(np.sqrt(sum(float((np.asarray(v, np.float64) ** 2).sum()) for v in weights.values()
                             if np.asarray(v).dtype.kind == "f")))


def _filtered(dp, data: dict, kind: str = "WEIGHT_DIFF"):
    """Run ``data`` as a DXO of ``kind`` through the filter ``dp`` as NVFlare would; return the DXO."""
    from nvflare.apis.dxo import DXO, from_shareable
    from nvflare.apis.fl_context import FLContext

    shareable = DXO(kind, data=data, meta={"NUM_STEPS_CURRENT_ROUND": 3}).to_shareable()
    return from_shareable(dp.process(shareable, FLContext()))


def test_clip_and_noise_clips_the_joint_norm_and_leaves_integers() -> None:
    from sarcoma_xnat.fl.privacy import clip_and_noise

    diff = {"a": np.full(100, 1.0, np.float32), "b": np.full((5, 5), -2.0, np.float64),
            "n": np.array(7, np.int64)}
    out, norm = clip_and_noise(diff, clip=1.0, noise_multiplier=0.0, rng=np.random.default_rng(0))
    assert norm == pytest.approx(np.sqrt(100 + 25 * 4))
    assert _norm(out) == pytest.approx(1.0, rel=1e-6)
    assert out["a"].dtype == np.float32 and out["b"].dtype == np.float64
    np.testing.assert_allclose(out["b"] / out["b"][0, 0], 1.0)  # direction kept
    assert out["n"] == 7 and out["n"].dtype == np.int64
    small = {"a": np.full(4, 0.1, np.float32)}  # norm 0.2 < clip: unchanged without noise
    same, _ = clip_and_noise(small, clip=1.0, noise_multiplier=0.0, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(same["a"], small["a"])
    nan, norm = clip_and_noise({"a": np.array([1.0, np.nan]), "n": np.array(2)}, 1.0, 0.0,
                               np.random.default_rng(0))
    assert not np.isfinite(norm) and np.isnan(nan["a"]).all() and nan["n"] == 2
    with pytest.raises(ConfigurationError):
        clip_and_noise(small, clip=0.0, noise_multiplier=1.0, rng=np.random.default_rng(0))


def test_filter_clips_a_large_update_to_exactly_clip() -> None:
    from nvflare.apis.dxo import DataKind

    from sarcoma_xnat.fl.privacy import GaussianDPFilter

    rng = np.random.default_rng(1)
    diff = {"conv.weight": rng.normal(0, 3.0, (8, 4, 3)).astype(np.float32),
            "bn.running_mean": rng.normal(0, 3.0, 8).astype(np.float32),
            "bn.num_batches_tracked": np.array(12, np.int64)}
    assert _norm(diff) > 10
    out = _filtered(GaussianDPFilter(clip=2.5, noise_multiplier=0.0, seed=0), dict(diff))
    assert out.data_kind == DataKind.WEIGHT_DIFF
    assert out.get_meta_prop("NUM_STEPS_CURRENT_ROUND") == 3
    assert _norm(out.data) == pytest.approx(2.5, rel=1e-6)
    scale = 2.5 / _norm(diff)
    np.testing.assert_allclose(out.data["conv.weight"], diff["conv.weight"] * scale, rtol=1e-5)
    assert out.data["bn.num_batches_tracked"] == 12  # integers pass untouched
    assert out.data["bn.num_batches_tracked"].dtype == np.int64
    assert "GaussianDPFilter" in out.get_filter_history()


def test_filter_noise_has_std_noise_multiplier_times_clip() -> None:
    from sarcoma_xnat.fl.privacy import GaussianDPFilter

    clip, multiplier = 0.5, 1.5
    zero = {"w": np.zeros(200_000, np.float64), "n": np.array(3, np.int32)}
    out = _filtered(GaussianDPFilter(clip=clip, noise_multiplier=multiplier, seed=7), zero)
    noise = out.data["w"]
    # std estimate over 2e5 draws: relative standard error ~0.16 %
    assert noise.std() == pytest.approx(multiplier * clip, rel=0.01)
    assert abs(noise.mean()) < 5 * multiplier * clip / np.sqrt(noise.size)
    assert out.data["n"] == 3 and out.data["n"].dtype == np.int32
    again = _filtered(GaussianDPFilter(clip=clip, noise_multiplier=multiplier, seed=7),
                      {"w": np.zeros(200_000, np.float64)})
    np.testing.assert_array_equal(again.data["w"], noise)  # seeded: reproducible


def test_filter_refuses_full_weights_and_bad_settings() -> None:
    from nvflare.apis.dxo import DXO, DataKind, from_shareable
    from nvflare.apis.fl_context import FLContext

    from sarcoma_xnat.fl.privacy import GaussianDPFilter

    dp = GaussianDPFilter(clip=1.0, noise_multiplier=1.0, seed=0)
    weights = {"w": np.ones(3, np.float32)}
    with pytest.raises(ConfigurationError, match="WEIGHT_DIFF.*--send-diff"):
        dp.process_dxo(DXO(DataKind.WEIGHTS, data=weights), None, FLContext())
    with pytest.raises(ConfigurationError):
        dp.process(DXO(DataKind.WEIGHTS, data=weights).to_shareable(), FLContext())
    metrics = DXO(DataKind.METRICS, data={"c_index": 0.7}).to_shareable()  # not a model: untouched
    assert from_shareable(dp.process(metrics, FLContext())).data == {"c_index": 0.7}
    with pytest.raises(ConfigurationError, match="clip > 0"):
        GaussianDPFilter(clip=0.0)
    with pytest.raises(ConfigurationError, match=">= 0"):
        GaussianDPFilter(clip=1.0, noise_multiplier=-1.0)


def test_client_diff_is_rebuilt_exactly_by_the_server() -> None:
    from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

    from sarcoma_xnat.fl.controller import full_weights

    rng = np.random.default_rng(2)
    received = {"w": rng.normal(size=(6, 5)).astype(np.float32), "b": rng.normal(size=5),
                "bn.num_batches_tracked": np.array(40, np.int64)}
    local = {"w": received["w"] + rng.normal(0, 1e-2, (6, 5)).astype(np.float32),
             "b": received["b"] - 0.3, "bn.num_batches_tracked": np.array(52, np.int64)}
    diff = weight_diff(local, received)
    assert diff["bn.num_batches_tracked"] == 12 and diff["w"].dtype == np.float32
    rebuilt = full_weights(received, FLModel(params=diff, params_type=ParamsType.DIFF))
    for key, value in rebuilt.items():
        assert value.dtype == received[key].dtype
        expected = np.asarray(received[key], np.float64) + np.asarray(diff[key], np.float64)
        np.testing.assert_array_equal(value, expected.astype(received[key].dtype))
        np.testing.assert_allclose(value, local[key], rtol=0, atol=1e-6)
    assert rebuilt["bn.num_batches_tracked"] == 52
    # full weights pass as they are; malformed differences reach the gate as they are
    assert full_weights(received, FLModel(params=local, params_type=ParamsType.FULL)) is local
    odd = apply_diff(received, {"w": np.zeros((2, 2), np.float32), "new": np.ones(1),
                                "bn.num_batches_tracked": np.array(np.nan)})
    assert odd["w"].shape == (2, 2) and "new" in odd
    assert np.isnan(odd["bn.num_batches_tracked"])
    assert "non-finite" in update_problem(received, {"bn.num_batches_tracked": odd["bn.num_batches_tracked"]})


def test_poisoned_site_under_dp_rejected_or_bounded_by_the_clip() -> None:
    """NaN and sign-flipped local weights, sent as a clipped (and noised) difference.

    A NaN update is rejected whatever the clip. A sign flip is rejected when what is left
    of it after clipping still lowers the validation score; where the clip binds harder,
    the gate may let it through, but it moves the global model by at most
    ``merge_weight · clip``.
    """
    torch = pytest.importorskip("torch")
    from sarcoma_xnat.fl.privacy import GaussianDPFilter
    from sarcoma_xnat.models.metrics import harrell_c
    from sarcoma_xnat.models.networks import build_network
    from sarcoma_xnat.models.survival import SurvivalArrays
    from sarcoma_xnat.models.training import (
        TrainConfig,
        fit,
        get_weights,
        predict,
        set_weights,
    )

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 19)).astype(np.float32)
    t = rng.exponential(np.exp(-(1.5 * x[:, 0] - 1.0 * x[:, 1])))
    data = SurvivalArrays(x, None, t, np.ones(120, np.int64), t, np.ones(120, np.int64))
    torch.manual_seed(0)
    model = build_network(mode="clinical")
    fit(model, data, TrainConfig(epochs=15, lr=1e-2, seed=0))
    current = get_weights(model)
    fit(model, data, TrainConfig(epochs=1, lr=1e-2, seed=1))
    local = get_weights(model)

    def score(w):
        set_weights(model, w)
        return harrell_c(t, np.ones(120), predict(model, data)[:, 0])

    def sent(weights, clip, noise=0.0):
        diff = _filtered(GaussianDPFilter(clip=clip, noise_multiplier=noise, seed=0),
                         weight_diff(weights, current)).data
        return apply_diff(current, diff)

    nan = {k: np.full_like(v, np.nan) if v.dtype.kind == "f" else v for k, v in local.items()}
    flipped = {k: -v if v.dtype.kind == "f" else v for k, v in local.items()}
    assert _norm(weight_diff(flipped, current)) > 15 > 5 * _norm(weight_diff(local, current))
    gate = ValidationGate(score, merge_weight=0.5, max_drop=0.02)
    _, record = gate.step(1, current, [("good", sent(local, 10.0, 1e-4), 5),
                                       ("nan", sent(nan, 1.0, 0.1), 5),
                                       ("flip", sent(flipped, 10.0, 1e-4), 5)])
    decisions = {d.site: d for d in record.decisions}
    assert decisions["good"].accepted
    assert not decisions["nan"].accepted and "non-finite" in decisions["nan"].reason
    assert not decisions["flip"].accepted and "validation score" in decisions["flip"].reason
    _, record = gate.step(2, current, [("flip", sent(flipped, 1.0), 5)])  # the clip binds
    assert record.delta_norm <= 0.5 * 1.0 + 1e-6

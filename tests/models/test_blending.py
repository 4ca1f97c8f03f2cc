"""Gradient-blending weights (Wang et al. 2020): ΔG/ΔO² per head, normalised, floored, smoothed."""

from __future__ import annotations

import numpy as np
import pytest

from sarcoma_xnat.models.blending import blend_weights, smooth_weights, uniform_weights


def test_weights_follow_gain_over_squared_overfitting() -> None:
    train_before = {"fused": 2.0, "clinical": 2.0, "image": 2.0}
    val_before = {"fused": 2.2, "clinical": 2.2, "image": 2.2}
    # fused: gain 0.2, overfitting grows 0.1 -> 20; clinical: gain 0.1, grows 0.2 -> 2.5;
    # image: validation got worse -> 0 before the floor
    train_after = {"fused": 1.7, "clinical": 1.7, "image": 1.5}
    val_after = {"fused": 2.0, "clinical": 2.1, "image": 2.3}
    w = blend_weights(train_before, train_after, val_before, val_after, floor=0.0)
    assert w["fused"] == pytest.approx(20 / 22.5)
    assert w["clinical"] == pytest.approx(2.5 / 22.5)
    assert w["image"] == 0.0
    floored = blend_weights(train_before, train_after, val_before, val_after, floor=0.1)
    assert min(floored.values()) > 0.05 and sum(floored.values()) == pytest.approx(1.0)


def test_no_generalisation_gain_anywhere_falls_back_to_uniform() -> None:
    same = {"fused": 1.0, "clinical": 1.0}
    worse = {"fused": 1.5, "clinical": 1.5}
    assert blend_weights(same, same, same, worse) == uniform_weights(("fused", "clinical"))


def test_smoothing_mixes_previous_and_new_estimate() -> None:
    prev = {"fused": 0.5, "clinical": 0.25, "image": 0.25}
    new = {"fused": 0.1, "clinical": 0.8, "image": 0.1}
    w = smooth_weights(prev, new, 0.7)
    assert w["fused"] == pytest.approx(0.7 * 0.5 + 0.3 * 0.1)
    assert w["clinical"] == pytest.approx(0.7 * 0.25 + 0.3 * 0.8)
    assert sum(w.values()) == pytest.approx(1.0)
    assert smooth_weights(prev, new, 0.0) == pytest.approx(new)
    with pytest.raises(ValueError, match="momentum"):
        smooth_weights(prev, new, 1.0)


def test_training_with_blending_reestimates_weights_on_held_out_subjects() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("monai")
    from sarcoma_xnat.models.networks import build_network
    from sarcoma_xnat.models.survival import SurvivalArrays
    from sarcoma_xnat.models.training import TrainConfig, fit

    rng = np.random.default_rng(0)
    n = 40
    clinical = rng.normal(size=(n, 19)).astype(np.float32)
    image = rng.normal(size=(n, 2, 32, 32, 32)).astype(np.float32)
    time = rng.exponential(50.0, n) + 1.0
    event = (rng.random(n) < 0.7).astype(np.int64)
    data = SurvivalArrays(clinical, image, time, event, time * 1.1, event)
    model = build_network("tiny", mode="multimodal")
    history = fit(model, data, TrainConfig(epochs=4, batch_size=16, blend=True, blend_every=2))
    weights = history["blend_weights"]
    assert len(weights) == 3  # uniform start + one estimate per 2-epoch super-epoch
    assert weights[0] == uniform_weights(("fused", "clinical", "image"))
    for w in weights[1:]:
        assert set(w) == {"fused", "clinical", "image"} and sum(w.values()) == pytest.approx(1.0)
        assert min(w.values()) >= 0.15 * 0.3 - 1e-9  # the smoothed floor keeps every head training
    # 20 % of the 40 subjects are held out: 32 train in batches of 16 -> 2 steps per epoch
    assert history["steps"] == 8
    plain = fit(build_network("tiny", mode="multimodal"), data, TrainConfig(epochs=4, batch_size=16))
    assert plain["blend_weights"] == [{"fused": 1.0}] and plain["steps"] == 12

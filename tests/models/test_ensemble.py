"""A seed ensemble predicts the mean of its members and survives a checkpoint round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")


def _data(n: int = 12):
    from sarcoma_xnat.models.survival import SurvivalArrays

    rng = np.random.default_rng(1)
    t = rng.exponential(40.0, n) + 1.0
    e = (rng.random(n) < 0.6).astype(np.int64)
    return SurvivalArrays(rng.normal(size=(n, 19)).astype(np.float32),
                          rng.normal(size=(n, 2, 32, 32, 32)).astype(np.float32), t, e, t, e)


def test_ensemble_risk_is_the_mean_of_its_members() -> None:
    from sarcoma_xnat.models.ensemble import SurvivalEnsemble
    from sarcoma_xnat.models.networks import build_network
    from sarcoma_xnat.models.training import predict

    torch.manual_seed(0)
    members = [build_network("tiny"), build_network("tiny")]
    data = _data()
    expected = np.mean([predict(m, data) for m in members], axis=0)
    ensemble = SurvivalEnsemble(members)
    np.testing.assert_allclose(predict(ensemble, data), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(predict(members[0], data), predict(members[1], data))


def test_members_must_share_one_configuration() -> None:
    from sarcoma_xnat.models.ensemble import SurvivalEnsemble
    from sarcoma_xnat.models.networks import build_network

    with pytest.raises(ValueError, match="share one network configuration"):
        SurvivalEnsemble([build_network("tiny"), build_network("tiny", clinical_hidden=0)])
    with pytest.raises(ValueError, match="at least one member"):
        SurvivalEnsemble([])


def test_trained_ensemble_round_trips_through_a_checkpoint(tmp_path: Path) -> None:
    from sarcoma_xnat.fl.checkpoint import load_checkpoint, save_checkpoint
    from sarcoma_xnat.fl.workflow import train_model
    from sarcoma_xnat.models.ensemble import SurvivalEnsemble
    from sarcoma_xnat.models.training import TrainConfig, predict

    data = _data(16)
    trained = train_model(data, "tiny", "multimodal", TrainConfig(epochs=1, batch_size=8), 32,
                          ensemble=3)
    assert isinstance(trained.model, SurvivalEnsemble) and len(trained.model.members) == 3
    assert trained.meta["ensemble_size"] == 3 and len(trained.meta["history"]) == 3
    # members start from different seeds, so their weights differ
    w0, w1 = (m.head.weight.detach().numpy() for m in trained.model.members[:2])
    assert not np.allclose(w0, w1)
    path = save_checkpoint(tmp_path / "model.pt", trained.model, trained.meta)
    loaded, meta = load_checkpoint(path)
    assert isinstance(loaded, SurvivalEnsemble) and meta["ensemble_size"] == 3
    assert loaded.n_clinical == 19 and loaded.mode == "multimodal"
    np.testing.assert_allclose(predict(loaded, data), predict(trained.model, data), rtol=1e-6)

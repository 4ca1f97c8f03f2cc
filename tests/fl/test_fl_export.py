"""The exported ``model.pt``: under FedBN its batch-norm statistics come from the server's data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.fl.site import SiteConfig

pytest.importorskip("torch")

FEDBN_NOTE = "re-estimated on server validation data (FedBN)"


def _global_model_file(curated_site: LocalArchive, tmp_path: Path):
    """A trained clinical network whose BN statistics are the initial ones, saved like NVFlare's."""
    import torch

    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.models.networks import build_network
    from sarcoma_xnat.models.training import TrainConfig, fit

    torch.manual_seed(0)
    model = build_network("tiny", mode="clinical", clinical_hidden=32)
    data = load_cohort(curated_site, "SITEA", image_size=None).data
    fit(model, data, TrainConfig(epochs=3, batch_size=12, seed=0))
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(bns) >= 2
    for m in bns:  # what the server holds under FedBN: the persistor's initial statistics
        m.reset_running_stats()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    path = tmp_path / "FL_global_model.pt"
    torch.save({"model": state}, path)
    return path, model.config(), state, data


def test_fedbn_export_reestimates_bn_statistics_on_server_data(curated_site: LocalArchive,
                                                               tmp_path: Path) -> None:
    import torch

    from sarcoma_xnat.fl.checkpoint import load_checkpoint
    from sarcoma_xnat.fl.export import export_global_model
    from sarcoma_xnat.models.networks import MultimodalSurvivalNet
    from sarcoma_xnat.models.training import predict, set_weights

    path, network, state, data = _global_model_file(curated_site, tmp_path)
    server = SiteConfig("server", str(curated_site.root), "SITEA")
    settings = {"fedbn": True, "preset": "tiny", "image_size": 32}
    model, meta = load_checkpoint(export_global_model(path, network, settings, server,
                                                      tmp_path / "fedbn.pt"))
    assert meta["bn_statistics"] == FEDBN_NOTE
    exported = model.state_dict()
    stats = [k for k in state if k.endswith(("running_mean", "running_var"))]
    for key in stats:  # not the initial statistics any more
        initial = 0.0 if key.endswith("mean") else 1.0
        assert not torch.allclose(exported[key], torch.full_like(exported[key], initial))
    for key in state:  # nothing else changed
        if not key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(exported[key], state[key]), key
    # the first BN layer's statistics are those of its input on the server's data
    first = model.clinical[1]
    assert isinstance(first, torch.nn.BatchNorm1d)
    with torch.no_grad():
        z = model.clinical[0](torch.from_numpy(data.clinical)).double()
    np.testing.assert_allclose(first.running_mean.double(), z.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(first.running_var.double(), z.var(0, unbiased=True), rtol=1e-4)

    initial = MultimodalSurvivalNet(**network)
    set_weights(initial, state)
    risk_initial, risk_exported = predict(initial, data), predict(model, data)
    assert np.abs(risk_initial - risk_exported).max() > 1e-3
    # the baselines and risk cuts were fitted with the re-estimated statistics
    cuts = np.quantile(risk_exported[:, 0], [1 / 3, 2 / 3])
    np.testing.assert_allclose(meta["risk_cuts"]["os"], cuts, rtol=1e-6)


def test_without_fedbn_the_aggregated_bn_statistics_are_kept(curated_site: LocalArchive,
                                                              tmp_path: Path) -> None:
    import torch

    from sarcoma_xnat.fl.checkpoint import load_checkpoint
    from sarcoma_xnat.fl.export import export_global_model

    path, network, state, _ = _global_model_file(curated_site, tmp_path)
    server = SiteConfig("server", str(curated_site.root), "SITEA")
    model, meta = load_checkpoint(export_global_model(path, network, {"fedbn": False}, server,
                                                      tmp_path / "plain.pt"))
    assert meta["bn_statistics"] != FEDBN_NOTE
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key

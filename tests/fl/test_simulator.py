"""A 2-round NVFlare simulator run (tiny network, 32³): the gate rejects the poisoned site.

The run's exported ``model.pt`` is then used by the ``prognosis`` command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("monai")
pytest.importorskip("nvflare")

from fl_fixtures import make_site  # noqa: E402


@pytest.mark.slow
def test_simulated_federation_with_poisoned_client(tmp_path: Path, capsys) -> None:
    import numpy as np
    import torch

    from sarcoma_xnat.archive import LocalArchive, ObjectRef
    from sarcoma_xnat.cli import main
    from sarcoma_xnat.fl.checkpoint import load_checkpoint
    from sarcoma_xnat.fl.job import FLSettings
    from sarcoma_xnat.fl.runner import simulate
    from sarcoma_xnat.fl.site import SiteConfig

    make_site(tmp_path / "a", "SITEA", 24, seed=11)
    make_site(tmp_path / "b", "SITEB", 24, seed=12)
    make_site(tmp_path / "s", "VALID", 30, seed=13)
    sites = [SiteConfig("site-1", str(tmp_path / "a"), "SITEA"),
             SiteConfig("site-2", str(tmp_path / "b"), "SITEB", debug_poison="nan")]
    # --no-fedbn: the exported weights are then exactly the federation's (FedBN re-estimates
    # the statistics; see the next test)
    settings = FLSettings(num_rounds=2, local_epochs=2, batch_size=12, lr=3e-3, max_drop=0.5,
                          fedbn=False)
    result = simulate(settings, sites, SiteConfig("server", str(tmp_path / "s"), "VALID"),
                      tmp_path / "ws")

    assert [r["round"] for r in result.gate_log] == [0, 1]
    for record in result.gate_log:
        decisions = {d["site"]: d for d in record["decisions"]}
        assert decisions["site-2"]["accepted"] is False
        assert "non-finite" in decisions["site-2"]["reason"]
        assert decisions["site-1"]["accepted"] is True
        assert record["merged"] is True
    assert result.gate_log[0]["delta_norm"] > 0  # the global model changed
    text = result.server_log.read_text()
    assert "update from site-2 REJECTED" in text and "update from site-1 ACCEPTED" in text
    state = torch.load(result.model_file, map_location="cpu", weights_only=False)["model"]
    assert state  # the persistor wrote the final global model

    # the exported model.pt: the same weights, baselines fitted on the server's data
    model, meta = load_checkpoint(result.checkpoint)
    assert meta["federated"] is True and meta["mode"] == "multimodal"
    assert meta["baseline_data"]["project"] == "VALID" and meta["baseline_data"]["n"] == 30
    assert [g["rejected"] for g in meta["gate"]] == [["site-2"], ["site-2"]]
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), np.asarray(state[key]), rtol=0, atol=0)
    session = ObjectRef("VALID", "VALID001", "VALID001_MR1")
    server = LocalArchive(tmp_path / "s")
    staged = tmp_path / "input" / "RESOURCES" / "PREPROCESSED" / "files"
    server.fetch_resource(session, "PREPROCESSED", staged)
    clinical = tmp_path / "clinical.json"
    clinical.write_text(json.dumps(server.get(session.parent).fields))
    out = tmp_path / "prognosis"
    assert main(["prognosis", "--model", str(result.checkpoint), "--input", str(tmp_path / "input"),
                 "--output", str(out), "--clinical", str(clinical)]) == 0
    report = json.loads((out / "prognosis.json").read_text())
    assert set(report["endpoints"]) == {"os", "dm"}
    curve = report["endpoints"]["os"]["curve"]["survival"]
    assert curve[0] <= 1.0 and np.all(np.diff(curve) <= 0)
    assert "S(36 months)" in capsys.readouterr().out


@pytest.mark.slow
def test_simulated_federation_with_dp_filter_and_fedbn(tmp_path: Path) -> None:
    """DP on: sites send clipped, noised differences; the server rebuilds and gates them.

    FedBN on: the sites never send batch-norm statistics, so the global model's stay the
    persistor's initial ones; the export re-estimates them on the server's data.
    """
    import re

    import torch

    from sarcoma_xnat.fl.checkpoint import load_checkpoint
    from sarcoma_xnat.fl.job import FLSettings
    from sarcoma_xnat.fl.runner import simulate
    from sarcoma_xnat.fl.site import SiteConfig
    from sarcoma_xnat.models.networks import MultimodalSurvivalNet
    from sarcoma_xnat.models.training import BN_PATTERN

    make_site(tmp_path / "a", "SITEA", 24, seed=11)
    make_site(tmp_path / "b", "SITEB", 24, seed=12)
    make_site(tmp_path / "s", "VALID", 30, seed=13)
    sites = [SiteConfig("site-1", str(tmp_path / "a"), "SITEA"),
             SiteConfig("site-2", str(tmp_path / "b"), "SITEB", debug_poison="nan")]
    clip, noise = 2.0, 0.005
    settings = FLSettings(num_rounds=2, local_epochs=2, batch_size=12, lr=3e-3, max_drop=0.5,
                          fedbn=True, dp_clip=clip, dp_noise=noise)
    result = simulate(settings, sites, SiteConfig("server", str(tmp_path / "s"), "VALID"),
                      tmp_path / "ws")

    n_weights = sum(v.numel() for v in torch.load(result.model_file, map_location="cpu",
                                                  weights_only=False)["model"].values())
    # a rebuilt update moves the model by at most merge_weight * (clip + noise norm); a
    # difference mistaken for weights would move it by about half the model's norm (~20)
    bound = 0.5 * (clip + 1.2 * noise * clip * n_weights ** 0.5)
    assert [r["round"] for r in result.gate_log] == [0, 1]
    for record in result.gate_log:
        decisions = {d["site"]: d for d in record["decisions"]}
        assert decisions["site-1"]["accepted"] is True
        assert decisions["site-2"]["accepted"] is False
        assert "non-finite" in decisions["site-2"]["reason"]
        assert record["merged"] is True and 0 < record["delta_norm"] <= bound
    run_dir = tmp_path / "ws" / "simulation" / settings.name
    site_log = (run_dir / "site-1" / "log.txt").read_text()
    assert site_log.count("DP filter: update L2 norm") == 2  # the filter ran on each result
    assert "clipped to 2" in site_log
    assert "every float entry sent as NaN" in (run_dir / "site-2" / "log.txt").read_text()
    # each site was told the gate's decision on its own update of every round (the last one
    # with the final validation task), and wrote it to its log and its outbound log
    site2_log = (run_dir / "site-2" / "log.txt").read_text()
    for rnd in (0, 1):
        assert f"this site's round {rnd} update was ACCEPTED: validation C-index change" in site_log
        assert f"this site's round {rnd} update was REJECTED: non-finite values" in site2_log
    for site, other, accepted in (("site-1", "site-2", True), ("site-2", "site-1", False)):
        lines = next((run_dir / site).rglob("outbound_log.jsonl")).read_text().splitlines()
        told = [json.loads(line)["gate_decision"] for line in lines if "gate_decision" in line]
        assert [d["round"] for d in told] == [0, 1]
        assert all(d["accepted"] is accepted for d in told)
        assert other not in "".join(lines)  # nothing about the other site
        if accepted:
            assert told[0]["interval"][0] <= told[0]["score_change"] <= told[0]["interval"][1]
    assert "paired bootstrap: 1000 resamples of 30 validation subjects" in result.gate_log[0]["test"]
    # the global model's BN statistics are the initial ones: nothing from the sites reached them
    state = torch.load(result.model_file, map_location="cpu", weights_only=False)["model"]
    initial = MultimodalSurvivalNet(**settings.network_args()).state_dict()
    bn_keys = [k for k in initial if re.search(BN_PATTERN, k)]
    assert len(bn_keys) >= 6 and any(k.endswith("num_batches_tracked") for k in bn_keys)
    for key in bn_keys:
        assert torch.equal(torch.as_tensor(state[key]), initial[key]), key
    model, meta = load_checkpoint(result.checkpoint)
    assert meta["bn_statistics"] == "re-estimated on server validation data (FedBN)"
    assert meta["train_config"]["dp_clip"] == clip and meta["train_config"]["fedbn"] is True
    exported = model.state_dict()
    for key in initial:  # the export changed the BN statistics only
        if key in bn_keys:
            if key.endswith(("running_mean", "running_var")):
                assert not torch.equal(exported[key], initial[key]), key
        else:
            assert torch.equal(exported[key], torch.as_tensor(state[key])), key


@pytest.mark.slow
def test_simulate_raises_when_the_job_fails(tmp_path: Path) -> None:
    from sarcoma_xnat.errors import ModelError
    from sarcoma_xnat.fl.job import FLSettings
    from sarcoma_xnat.fl.runner import simulate
    from sarcoma_xnat.fl.site import SiteConfig

    make_site(tmp_path / "a", "SITEA", 8, seed=11)
    make_site(tmp_path / "s", "VALID", 8, seed=13)
    sites = [SiteConfig("site-1", str(tmp_path / "a"), "SITEA"),
             SiteConfig("site-2", str(tmp_path / "missing"), "SITEB")]  # its client cannot start
    settings = FLSettings(num_rounds=1, mode="clinical", batch_size=8)
    with pytest.raises(ModelError, match="simulated federated job ended with status EXCEPTION") as info:
        simulate(settings, sites, SiteConfig("server", str(tmp_path / "s"), "VALID"), tmp_path / "ws")
    assert str(tmp_path / "ws" / "simulation" / settings.name / "server" / "log.txt") in str(info.value)
    assert not (tmp_path / "ws" / "model.pt").exists()

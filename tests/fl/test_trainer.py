"""A site's trainer: data location from the site's own configuration; clear failures; what it sends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.errors import ConfigurationError, InputDataError
from sarcoma_xnat.fl.site import ENV_ARCHIVE, ENV_CONFIG, ENV_PROJECT, SiteConfig, site_config
from sarcoma_xnat.fl.trainer import parse_client_args


def test_site_config_from_file_and_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(ENV_CONFIG, raising=False)
    monkeypatch.delenv(ENV_ARCHIVE, raising=False)
    monkeypatch.delenv(ENV_PROJECT, raising=False)
    with pytest.raises(ConfigurationError, match="does not know where its data is"):
        site_config("site-1")
    monkeypatch.setenv(ENV_ARCHIVE, "/data/archive")
    monkeypatch.setenv(ENV_PROJECT, "MSK")
    assert site_config("site-1") == SiteConfig("site-1", "/data/archive", "MSK")
    cfg = tmp_path / "sites.json"
    cfg.write_text(json.dumps({"site-1": {"archive": "xnat", "project": "MUHC"}}))
    monkeypatch.setenv(ENV_CONFIG, str(cfg))
    assert site_config("site-1").project == "MUHC"
    with pytest.raises(ConfigurationError, match="no entry for 'site-9'"):
        site_config("site-9")


def test_site_without_curated_data_fails_clearly(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("monai")
    from sarcoma_xnat.fl.trainer import SiteTrainer

    archive = LocalArchive(tmp_path)
    archive.create(ObjectRef("EMPTY"))
    archive.create(ObjectRef("EMPTY", "S1"))
    args = parse_client_args([])
    with pytest.raises(InputDataError, match="no curated session in project EMPTY"):
        SiteTrainer("site-1", args, SiteConfig("site-1", str(tmp_path), "EMPTY"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        SiteTrainer("site-1", args, SiteConfig("site-1", str(tmp_path / "nope"), "EMPTY"))


def test_send_diff_returns_the_difference_to_the_received_model(curated_site: LocalArchive) -> None:
    pytest.importorskip("torch")
    from sarcoma_xnat.fl.gate import apply_diff
    from sarcoma_xnat.fl.trainer import SiteTrainer
    from sarcoma_xnat.models.training import get_weights

    config = SiteConfig("site-1", str(curated_site.root), "SITEA")
    # --no-fedbn: the integer counters travel too, and must survive the difference exactly
    args = parse_client_args(["--mode", "clinical", "--send-diff", "--batch-size", "12", "--no-fedbn"])
    trainer = SiteTrainer("site-1", args, config)
    received = get_weights(trainer.model)
    diff, steps = trainer.train(received)
    local = trainer.local_weights
    assert steps > 0 and set(diff) == set(received) == set(local)
    counters = [k for k in diff if k.endswith("num_batches_tracked")]
    assert counters and all(diff[k] > 0 and diff[k].dtype.kind == "i" for k in counters)
    assert max(float(np.abs(diff[k]).max()) for k in diff if diff[k].dtype.kind == "f") > 0
    rebuilt = apply_diff(received, diff)
    for key in local:
        np.testing.assert_allclose(rebuilt[key], local[key], rtol=0, atol=1e-6)
    assert all(rebuilt[k] == local[k] for k in counters)

    # a poisoned site corrupts its weights before the difference is taken
    poisoned = SiteTrainer("site-1", args, SiteConfig("site-1", str(curated_site.root), "SITEA",
                                                      debug_poison="flip"))
    diff, _ = poisoned.train(received)
    flipped = {k: v for k, v in poisoned.local_weights.items() if v.dtype.kind == "f"}
    for key, value in flipped.items():
        np.testing.assert_allclose(diff[key], value - received[key], atol=1e-6)
    assert not parse_client_args([]).send_diff


@pytest.mark.parametrize("send_diff", [False, True])
def test_fedbn_site_never_sends_its_bn_statistics(curated_site: LocalArchive, send_diff: bool) -> None:
    pytest.importorskip("torch")
    import re

    from sarcoma_xnat.fl.gate import apply_diff
    from sarcoma_xnat.fl.trainer import SiteTrainer
    from sarcoma_xnat.models.training import BN_PATTERN, get_weights

    config = SiteConfig("site-1", str(curated_site.root), "SITEA")
    argv = ["--mode", "clinical", "--fedbn", "--batch-size", "12"] + (["--send-diff"] if send_diff else [])
    trainer = SiteTrainer("site-1", parse_client_args(argv), config)
    received = get_weights(trainer.model)
    bn_keys = {k for k in received if re.search(BN_PATTERN, k)}
    assert {k.rsplit(".", 1)[1] for k in bn_keys} == {"running_mean", "running_var", "num_batches_tracked"}
    sent, steps = trainer.train(received)
    assert steps > 0 and set(sent) == set(received) - bn_keys
    local = trainer.local_weights  # the site's own statistics stay here, trained
    assert set(local) == set(received)
    assert any(not np.array_equal(local[k], received[k]) for k in bn_keys)
    assert not any(re.search(BN_PATTERN, k) for k in trainer.shared(local))
    rebuilt = apply_diff(received, sent) if send_diff else sent
    for key in sent:
        np.testing.assert_allclose(rebuilt[key], local[key], rtol=0, atol=1e-6)
    # without FedBN the statistics travel with the rest
    plain = SiteTrainer("site-1", parse_client_args([a if a != "--fedbn" else "--no-fedbn" for a in argv]),
                        config)
    assert set(plain.train(received)[0]) == set(received)
    assert plain.shared(received).keys() == received.keys()


def test_gradient_blending_is_opt_in(curated_site: LocalArchive) -> None:
    pytest.importorskip("torch")
    from sarcoma_xnat.fl.trainer import SiteTrainer

    assert parse_client_args([]).blend is False and parse_client_args(["--blend"]).blend is True
    with pytest.raises(SystemExit):
        parse_client_args(["--no-blend"])
    config = SiteConfig("site-1", str(curated_site.root), "SITEA")
    for argv, blend in (([], False), (["--blend"], True)):
        trainer = SiteTrainer("site-1", parse_client_args(["--mode", "clinical", *argv]), config)
        assert trainer.train_config.blend is blend

"""A site's trainer: data location from the site's own configuration; clear failures; DP filter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.errors import ConfigurationError, InputDataError
from sarcoma_xnat.fl.site import ENV_ARCHIVE, ENV_CONFIG, ENV_PROJECT, SiteConfig, site_config
from sarcoma_xnat.fl.trainer import dp_filter, parse_client_args


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


def test_dp_filter_clips_update_norm() -> None:
    ref = {"w": np.zeros(100, np.float32), "n": np.array(3)}
    upd = {"w": np.full(100, 1.0, np.float32), "n": np.array(5)}
    out = dp_filter(upd, ref, clip=1.0, noise=0.0, rng=np.random.default_rng(0))
    assert np.linalg.norm(out["w"]) == pytest.approx(1.0, rel=1e-5)
    assert out["n"] == 5
    noisy = dp_filter(upd, ref, clip=1.0, noise=1.0, rng=np.random.default_rng(0))
    assert not np.allclose(noisy["w"], out["w"])

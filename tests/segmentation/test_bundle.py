"""Bundles made by the suite are MONAI bundles: MONAI's own tools load and run them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.segmentation.bundle import load_bundle
from sarcoma_xnat.segmentation.registry import current_bundle_dir, fetch_models, read_registry


def test_published_bundle_loads_with_monai_bundle_tools(trained, tmp_path: Path) -> None:
    from monai.bundle import ConfigParser, verify_net_in_out

    archive, manifest, record = trained
    models = fetch_models(archive, manifest.project, tmp_path / "models")
    assert read_registry(models)["current"] == record["version"] == "1"
    bundle = current_bundle_dir(models)
    for name in ("configs/metadata.json", "configs/inference.json", "models/model.pt"):
        assert (bundle / name).is_file()
    # MONAI's checker builds network_def and runs a patch of the declared shape through it
    verify_net_in_out(net_id="network_def", meta_file=str(bundle / "configs/metadata.json"),
                      config_file=str(bundle / "configs/inference.json"), device="cpu")
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs/inference.json"))
    net = parser.get_parsed_content("network_def")
    import torch
    net.load_state_dict(torch.load(bundle / "models/model.pt", weights_only=True))
    digest = hashlib.sha256((bundle / "models/model.pt").read_bytes()).hexdigest()
    assert load_bundle(bundle).sha256 == digest == record["sha256"]
    assert json.loads((bundle / "configs/metadata.json").read_text())["version"] == "1"


def test_incomplete_bundle_is_refused(trained, tmp_path: Path) -> None:
    archive, manifest, _ = trained
    bundle = current_bundle_dir(fetch_models(archive, manifest.project, tmp_path / "m"))
    (bundle / "models" / "model.pt").unlink()
    with pytest.raises(ConfigurationError, match="models/model.pt"):
        load_bundle(bundle)


def test_tiny_model_learns_the_phantom(trained) -> None:
    """The gate's held-out figures of the from-scratch model: a real tumour segmenter, not noise."""
    _, _, record = trained
    assert record["decision"] == "accepted" and record["from_scratch"]
    assert record["validation"]["new"]["mean_dice"] >= 0.6, record["validation"]

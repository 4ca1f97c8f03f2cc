"""Segmentation models as MONAI bundles: ``configs/metadata.json``, ``configs/inference.json``, ``models/model.pt``.

The layout and the ``network_def``/``_target_`` convention are MONAI's (the bundle
format MONAI Label and the model zoo use), so a bundle written here loads with
``monai.bundle.ConfigParser`` and passes ``monai.bundle.verify_net_in_out``, and a
study may bring its own bundle with the same keys. Besides ``network_def``,
``inference.json`` holds what our inference needs: ``spacing_mm`` (in-plane spacing
of the working grid), ``roi_size`` (z, y, x), ``sw_batch_size``, ``overlap``, ``threshold`` and
``min_volume_mm3`` (a smaller connected tumour is "nothing found"). Nothing is
downloaded: a bundle is a folder on disk.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sarcoma_xnat.errors import ConfigurationError, ModelError
from sarcoma_xnat.steps.base import file_sha256

__all__ = ["ALGORITHM_NAME", "Bundle", "DEFAULT_INFERENCE", "load_bundle", "network_config",
           "write_bundle"]

#: algorithm name written into every AI draft (SEG AlgorithmName, provenance)
ALGORITHM_NAME = "sarcoma-xnat tumour UNet"

#: inference settings of a bundle made by the suite (the network is a tiny MONAI UNet)
DEFAULT_INFERENCE: dict[str, Any] = {
    "spacing_mm": 3.0, "roi_size": [16, 64, 64], "sw_batch_size": 2, "overlap": 0.25,
    "threshold": 0.5, "min_volume_mm3": 1000.0,
}


def network_config(channels: tuple[int, ...] = (8, 16, 32), res_units: int = 0) -> dict[str, Any]:
    """Return the ``network_def`` of a small 3-D MONAI UNet over T1+T2 (2 classes)."""
    return {"_target_": "monai.networks.nets.UNet", "spatial_dims": 3, "in_channels": 2,
            "out_channels": 2, "channels": list(channels),
            "strides": [2] * (len(channels) - 1), "num_res_units": res_units}


@dataclass
class Bundle:
    """A loaded bundle: the network (eval mode), its settings, metadata and model checksum."""

    root: Path
    network: Any
    inference: dict[str, Any]
    metadata: dict[str, Any]
    sha256: str

    @property
    def version(self) -> str:
        """Return the model version (``metadata.json`` ``version``)."""
        return str(self.metadata.get("version", "0"))


def _metadata(version: str, inference: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    roi = list(inference["roi_size"])
    return {
        "schema": "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/"
                  "0.8.1/meta_schema_20220324.json",
        "version": version, "name": ALGORITHM_NAME,
        "task": "Soft-tissue sarcoma segmentation on T1 post-contrast + T2 fat-saturated MR",
        "description": "Tiny 3-D UNet trained by sarcoma-xnat. A phantom model for the pipeline, "
                       "not for patients, unless trained and validated on a study's reviewed cases.",
        "authors": "sarcoma-xnat", "copyright": "sarcoma-xnat contributors",
        "monai_version": _version("monai"), "pytorch_version": _version("torch"),
        "network_data_format": {
            "inputs": {"image": {"type": "image", "format": "magnitude", "modality": "MR",
                                 "num_channels": 2, "spatial_shape": roi, "dtype": "float32",
                                 "value_range": [], "is_patch_data": True,
                                 "channel_def": {"0": "T1", "1": "T2"}}},
            "outputs": {"pred": {"type": "image", "format": "segmentation", "num_channels": 2,
                                 "spatial_shape": roi, "dtype": "float32", "value_range": [0, 1],
                                 "is_patch_data": True,
                                 "channel_def": {"0": "background", "1": "tumour"}}}},
        **dict(extra),
    }


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def write_bundle(folder: str | os.PathLike[str], state_dict: Mapping[str, Any], version: str,
                 network_def: Mapping[str, Any] | None = None,
                 inference: Mapping[str, Any] | None = None,
                 extra_metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a bundle folder (replacing one there) and return it."""
    import torch

    root = Path(folder)
    if root.exists():
        shutil.rmtree(root)
    (root / "configs").mkdir(parents=True)
    (root / "models").mkdir()
    settings = {**DEFAULT_INFERENCE, **dict(inference or {})}
    config = {"network_def": dict(network_def or network_config()), **settings}
    (root / "configs" / "inference.json").write_text(json.dumps(config, indent=2) + "\n")
    meta = _metadata(version, settings, extra_metadata or {})
    (root / "configs" / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, root / "models" / "model.pt")
    return root


def load_bundle(folder: str | os.PathLike[str], device: str = "cpu") -> Bundle:
    """Load a bundle with MONAI's bundle parser; refuse one that is incomplete."""
    import torch
    from monai.bundle import ConfigParser

    root = Path(folder)
    files = {name: root / name for name in ("configs/inference.json", "configs/metadata.json",
                                             "models/model.pt")}
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        raise ConfigurationError(f"not a segmentation bundle: {root.name} lacks "
                                 f"{', '.join(missing)}", file=str(root))
    parser = ConfigParser()
    parser.read_config(str(files["configs/inference.json"]))
    parser.read_meta(str(files["configs/metadata.json"]))
    try:
        network = parser.get_parsed_content("network_def", instantiate=True)
        state = torch.load(files["models/model.pt"], map_location=device, weights_only=True)
        network.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise ModelError(f"bundle {root.name} does not load: {type(exc).__name__}: {exc}",
                         file=str(files["models/model.pt"])) from exc
    network.to(device).eval()
    inference = {**DEFAULT_INFERENCE, **{k: v for k, v in parser.get().items()
                                         if k not in ("network_def", "_meta_")}}
    return Bundle(root, network, inference, dict(parser.get("_meta_") or {}),
                  file_sha256(files["models/model.pt"]))

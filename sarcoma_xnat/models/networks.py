"""The multimodal survival network: clinical MLP + 2-channel 3D DenseNet, fused, with Cox heads.

After Bozzo et al. (npj Precis Oncol 2024): a clinical subnetwork maps the encoded
clinical variables to 12 features, a 3D DenseNet maps T1+T2 (two channels) to 12
features, the two are concatenated, and linear heads give the log-hazards of overall
survival (OS) and distant metastasis (DM). Auxiliary unimodal heads (clinical-only,
image-only) exist for gradient blending and are used only in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["DENSENET_PRESETS", "MODES", "MultimodalSurvivalNet", "build_network"]

#: image-branch sizes: "tiny" for tests and CPU, "small" for CPU benchmarks, "densenet121" for real runs
DENSENET_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"init_features": 16, "growth_rate": 8, "block_config": [2, 2, 2, 2]},
    "small": {"init_features": 32, "growth_rate": 16, "block_config": [4, 8, 12, 8]},
    "densenet121": {"init_features": 64, "growth_rate": 32, "block_config": [6, 12, 24, 16]},
}
MODES = ("multimodal", "clinical", "image")
N_ENDPOINTS = 2  # OS, DM


def _clinical_branch(n_in: int, hidden: int, features: int, dropout: float) -> nn.Module:
    """Return the clinical MLP, or a linear map when ``hidden`` is 0."""
    if hidden <= 0:
        return nn.Sequential(nn.Linear(n_in, features), nn.BatchNorm1d(features))
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, features), nn.BatchNorm1d(features), nn.ReLU())


class MultimodalSurvivalNet(nn.Module):
    """Clinical + image survival network with OS and DM log-hazard heads.

    Every constructor argument is kept as an attribute of the same name, so NVFlare
    can re-instantiate the network from its class path and arguments.

    Parameters
    ----------
    n_clinical : int
        Length of the encoded clinical vector (0 in image-only mode).
    mode : {"multimodal", "clinical", "image"}
        Which branches are used.
    features : int
        Width of each branch's embedding (12 in the paper).
    clinical_hidden : int
        Hidden width of the clinical MLP; 0 makes the clinical branch linear (one linear
        layer + batch norm), so a clinical-only network is a Cox model with linear predictor.
    dropout : float
        Dropout in the clinical MLP and before the heads.
    in_channels : int
        Image channels (T1, T2).
    init_features, growth_rate, block_config
        MONAI DenseNet configuration; see :data:`DENSENET_PRESETS`.
    n_classes : int
        Width of an optional classification head (0: none).
    """

    def __init__(self, n_clinical: int = 19, mode: str = "multimodal", features: int = 12,
                 clinical_hidden: int = 32, dropout: float = 0.2, in_channels: int = 2,
                 init_features: int = 16, growth_rate: int = 8,
                 block_config: Sequence[int] = (2, 2, 2, 2), n_classes: int = 0) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.n_clinical = n_clinical
        self.mode = mode
        self.features = features
        self.clinical_hidden = clinical_hidden
        self.dropout = dropout
        self.in_channels = in_channels
        self.init_features = init_features
        self.growth_rate = growth_rate
        self.block_config = list(block_config)
        self.n_classes = n_classes
        width = 0
        self.clinical: nn.Module | None = None
        self.image: nn.Module | None = None
        if mode in ("multimodal", "clinical"):
            self.clinical = _clinical_branch(n_clinical, clinical_hidden, features, dropout)
            width += features
        if mode in ("multimodal", "image"):
            from monai.networks.nets import DenseNet

            self.image = nn.Sequential(
                DenseNet(spatial_dims=3, in_channels=in_channels, out_channels=features,
                         init_features=init_features, growth_rate=growth_rate,
                         block_config=tuple(self.block_config)),
                nn.BatchNorm1d(features), nn.ReLU())
            width += features
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width, N_ENDPOINTS)
        self.aux_clinical = nn.Linear(features, N_ENDPOINTS) if mode == "multimodal" else None
        self.aux_image = nn.Linear(features, N_ENDPOINTS) if mode == "multimodal" else None
        self.classifier = nn.Linear(width, n_classes) if n_classes else None

    def config(self) -> dict[str, Any]:
        """Return the constructor arguments (JSON-serialisable)."""
        keys = ("n_clinical", "mode", "features", "clinical_hidden", "dropout", "in_channels",
                "init_features", "growth_rate", "block_config", "n_classes")
        return {k: getattr(self, k) for k in keys}

    def forward(self, clinical: torch.Tensor | None, image: torch.Tensor | None,
                aux: bool = False) -> dict[str, torch.Tensor]:
        """Return ``{"risk": (B, 2)}`` log-hazards (OS, DM); with ``aux`` also unimodal heads."""
        parts = []
        out: dict[str, torch.Tensor] = {}
        if self.clinical is not None:
            if clinical is None:
                raise ValueError("this network needs clinical input")
            zc = self.clinical(clinical)
            parts.append(zc)
            if aux and self.aux_clinical is not None:
                out["risk_clinical"] = self.aux_clinical(self.drop(zc))
        if self.image is not None:
            if image is None:
                raise ValueError("this network needs image input")
            zi = self.image(image)
            parts.append(zi)
            if aux and self.aux_image is not None:
                out["risk_image"] = self.aux_image(self.drop(zi))
        z = self.drop(torch.cat(parts, dim=1))
        out["risk"] = self.head(z)
        if self.classifier is not None:
            out["logits"] = self.classifier(z)
        return out


def build_network(preset: str = "tiny", mode: str = "multimodal", n_clinical: int = 19,
                  **overrides: Any) -> MultimodalSurvivalNet:
    """Return a network with the image-branch size of ``preset`` (see :data:`DENSENET_PRESETS`)."""
    if preset not in DENSENET_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {sorted(DENSENET_PRESETS)}")
    args = {**DENSENET_PRESETS[preset], **overrides}
    return MultimodalSurvivalNet(n_clinical=n_clinical, mode=mode, **args)

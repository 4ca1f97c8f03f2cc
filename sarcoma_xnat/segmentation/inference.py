"""Sliding-window inference with a bundle, and the post-processing that decides "nothing found"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.segmentation.bundle import Bundle

__all__ = ["DEVICES", "Prediction", "pick_device", "postprocess", "predict"]

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Prediction:
    """A mask on the working grid (largest component, or empty) and what decided it."""

    mask: np.ndarray
    volume_mm3: float
    found: bool
    reason: str


def pick_device(device: str = "auto") -> str:
    """Return ``cpu`` or ``cuda`` for ``auto|cpu|cuda``; refuse ``cuda`` without a GPU."""
    import torch

    if device not in DEVICES:
        raise ConfigurationError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError("--device cuda: no CUDA device is available (use auto or cpu)")
    return device


def predict(bundle: Bundle, channels: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Return the tumour probability ``(z, y, x)`` for ``(2, z, y, x)`` channels."""
    import torch
    from monai.inferers import sliding_window_inference

    cfg = bundle.inference
    roi = tuple(int(v) for v in cfg["roi_size"])  # (z, y, x), as the arrays
    x = torch.from_numpy(np.ascontiguousarray(channels, np.float32))[None].to(device)
    bundle.network.to(device)
    with torch.no_grad():
        logits = sliding_window_inference(x, roi, int(cfg["sw_batch_size"]), bundle.network,
                                          overlap=float(cfg["overlap"]), mode="gaussian")
        prob = torch.softmax(logits, dim=1)[0, 1]
    return prob.cpu().numpy()


def postprocess(prob: np.ndarray, voxel_mm3: float, threshold: float,
                min_volume_mm3: float) -> Prediction:
    """Threshold, keep the largest connected component, and refuse one below ``min_volume_mm3``."""
    labels, count = ndimage.label(prob >= threshold)
    if count == 0:
        return Prediction(np.zeros(prob.shape, np.uint8), 0.0, False,
                          f"no voxel above the threshold {threshold:g}")
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    keep = (labels == int(np.argmax(sizes))).astype(np.uint8)
    volume = float(keep.sum()) * voxel_mm3
    if volume < min_volume_mm3:
        return Prediction(np.zeros(prob.shape, np.uint8), volume, False,
                          f"largest candidate {volume:.0f} mm3 is below the plausible tumour "
                          f"volume {min_volume_mm3:.0f} mm3")
    return Prediction(keep, volume, True, f"tumour of {volume:.0f} mm3 ({count} candidate(s))")

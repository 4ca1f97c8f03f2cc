"""Train (from scratch or fine-tune) and validate a segmentation bundle on cases held in memory.

A case is the network's view of a session (``(2, z, y, x)`` channels on the working
grid) with its final mask on the same grid. Training draws random crops of the
bundle's ``roi_size`` (two in three centred on tumour), flips them, and minimises
MONAI's Dice + cross-entropy loss with Adam; validation runs the same sliding-window
inference and post-processing as the ``segment`` step and reports Dice per case.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sarcoma_xnat.errors import ModelError
from sarcoma_xnat.segmentation.bundle import DEFAULT_INFERENCE, Bundle, network_config
from sarcoma_xnat.segmentation.inference import postprocess, predict

__all__ = ["Case", "TrainResult", "evaluate", "train"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Case:
    """One training or validation case: session label, channels, mask and voxel spacing (z, y, x)."""

    session: str
    channels: np.ndarray
    mask: np.ndarray
    spacing_zyx: tuple[float, float, float]


@dataclass
class TrainResult:
    """What :func:`train` made: the network's weights, its settings, losses and seconds."""

    state_dict: dict[str, Any]
    network_def: dict[str, Any]
    inference: dict[str, Any]
    losses: list[float]
    seconds: float


def _crop(case: Case, roi: Sequence[int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    pad = [(0, 0)] + [(0, max(0, r - s)) for r, s in zip(roi, case.mask.shape)]
    x = np.pad(case.channels, pad, mode="edge")
    y = np.pad(case.mask, pad[1:])
    fg = np.argwhere(y > 0)
    if len(fg) and rng.random() < 2 / 3:
        centre = fg[rng.integers(len(fg))]
        start = [int(np.clip(c - r // 2, 0, s - r)) for c, r, s in zip(centre, roi, y.shape)]
    else:
        start = [int(rng.integers(0, s - r + 1)) for r, s in zip(roi, y.shape)]
    sl = tuple(slice(a, a + r) for a, r in zip(start, roi))
    xc, yc = x[(slice(None), *sl)], y[sl]
    for axis in (1, 2):
        if rng.random() < 0.5:
            xc, yc = np.flip(xc, axis + 1), np.flip(yc, axis)
    return np.ascontiguousarray(xc), np.ascontiguousarray(yc)


def _fit(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, mask.dtype)
    common = tuple(slice(0, min(a, b)) for a, b in zip(mask.shape, shape))
    out[common] = mask[common]
    return out


def train(cases: Sequence[Case], epochs: int = 40, start: Bundle | None = None,
          lr: float = 2e-3, crops_per_case: int = 2, batch_size: int = 4, seed: int = 0,
          device: str = "cpu", shuffle_masks: bool = False,
          progress: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train on ``cases`` for ``epochs``; fine-tune ``start`` when given, else from scratch.

    ``shuffle_masks`` pairs each image with another case's mask: a deliberately bad
    training run, for checking that the validation gate rejects it.
    """
    import torch
    from monai.losses import DiceCELoss
    from monai.networks.nets import UNet

    if not cases:
        raise ModelError("no training cases: the project has no reviewed or accepted annotations")
    started = time.time()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    inference = dict(start.inference) if start is not None else dict(DEFAULT_INFERENCE)
    if start is not None:
        net_def = dict(_network_def(start))
        network = copy.deepcopy(start.network)
    else:
        net_def = network_config()
        network = UNet(**{k: v for k, v in net_def.items() if k != "_target_"})
    network.to(device).train()
    masks = [c.mask for c in cases]
    if shuffle_masks:  # another case's mask, cut or padded to this case's shape
        masks = [_fit(m, c.mask.shape) for m, c in zip(masks[1:] + masks[:1], cases)]
    data = [Case(c.session, c.channels, m, c.spacing_zyx) for c, m in zip(cases, masks)]
    roi = [int(v) for v in inference["roi_size"]]
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    optimiser = torch.optim.Adam(network.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        crops = [_crop(c, roi, rng) for c in data for _ in range(crops_per_case)]
        order = rng.permutation(len(crops))
        total = 0.0
        for b in range(0, len(order), batch_size):
            batch = [crops[i] for i in order[b:b + batch_size]]
            x = torch.from_numpy(np.stack([c[0] for c in batch])).to(device)
            y = torch.from_numpy(np.stack([c[1] for c in batch])[:, None].astype(np.int64)).to(device)
            optimiser.zero_grad()
            loss = loss_fn(network(x), y)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        losses.append(round(total / len(crops), 5))
        if progress is not None:
            progress(epoch, losses[-1])
    network.eval()
    state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    return TrainResult(state, net_def, inference, losses, round(time.time() - started, 2))


def _network_def(bundle: Bundle) -> Mapping[str, Any]:
    import json

    return json.loads((bundle.root / "configs" / "inference.json").read_text())["network_def"]


def evaluate(bundle: Bundle, cases: Sequence[Case], device: str = "cpu") -> dict[str, Any]:
    """Return per-case and mean Dice of ``bundle`` on ``cases`` (inference as the step runs it)."""
    from sarcoma_xnat.segmentation.metrics import compare_masks

    if not cases:
        raise ModelError("no validation cases")
    rows = []
    for case in cases:
        prob = predict(bundle, case.channels, device)
        pred = postprocess(prob, float(np.prod(case.spacing_zyx)), float(bundle.inference["threshold"]),
                           float(bundle.inference["min_volume_mm3"]))
        rows.append({"session": case.session, **compare_masks(case.mask, pred.mask, case.spacing_zyx)})
    dice = [r["dice"] for r in rows]
    return {"mean_dice": round(float(np.mean(dice)), 4), "worst_dice": round(float(np.min(dice)), 4),
            "cases": rows}

"""Train, predict and evaluate the survival network on in-memory :class:`SurvivalArrays`."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from sarcoma_xnat.errors import ModelError
from sarcoma_xnat.models.blending import blend_weights, smooth_weights, uniform_weights
from sarcoma_xnat.models.losses import cox_ph_loss
from sarcoma_xnat.models.metrics import harrell_c
from sarcoma_xnat.models.networks import MultimodalSurvivalNet
from sarcoma_xnat.models.survival import ENDPOINTS, SurvivalArrays

__all__ = ["BN_PATTERN", "TrainConfig", "augment_volumes", "evaluate", "fit", "get_weights",
           "model_inputs", "predict", "set_weights"]

log = logging.getLogger(__name__)

#: state-dict keys of batch-norm layers (kept local under FedBN)
BN_PATTERN = r"(running_mean|running_var|num_batches_tracked)$"
_HEADS = {"risk": "fused", "risk_clinical": "clinical", "risk_image": "image"}


@dataclass
class TrainConfig:
    """Optimisation settings; ``blend`` turns gradient blending on for multimodal networks.

    Gradient blending is off by default: on the 200-subject synthetic benchmark it lost
    to plain training of the fused head (see the README), because it holds out
    ``blend_val_fraction`` of a small training set and its weights, re-estimated every
    ``blend_every`` epochs from a few dozen validation subjects, are noisy. The new
    estimate is mixed into the previous weights with ``blend_momentum`` and no head
    gets less than ``blend_floor``.

    ``augment`` applies random flips and in-plane quarter turns to training volumes (the
    survival label does not depend on the tumour's orientation in its crop).
    """

    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    ties: str = "efron"
    dm_weight: float = 1.0
    blend: bool = False
    blend_every: int = 5
    blend_val_fraction: float = 0.2
    blend_momentum: float = 0.7
    blend_floor: float = 0.15
    augment: bool = True
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a dict."""
        return asdict(self)


def model_inputs(model: MultimodalSurvivalNet, data: SurvivalArrays,
                 index: np.ndarray) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Return the (clinical, image) tensors of rows ``index`` that ``model``'s branches take.

    The tensors are on the model's device (where its parameters are).
    """
    device = _device(model)
    clinical = (torch.from_numpy(data.clinical[index]).to(device)
                if model.clinical is not None else None)
    image = None
    if model.image is not None:
        if data.image is None:
            raise ModelError(f"a {model.mode} network needs images, but the data has none")
        image = torch.from_numpy(data.image[index]).to(device)
    return clinical, image


def _device(model: torch.nn.Module) -> torch.device:
    """Return the device of ``model``'s parameters (CPU for a model without any)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def augment_volumes(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Return a copy of a (B, C, D, H, W) batch with each volume randomly flipped and turned in-plane."""
    out = []
    for vol in image:
        flips = [ax for ax in (1, 2, 3) if torch.rand(1, generator=generator).item() < 0.5]
        if flips:
            vol = vol.flip(flips)
        turns = int(torch.randint(0, 4, (1,), generator=generator))
        out.append(torch.rot90(vol, turns, (2, 3)) if turns else vol)
    return torch.stack(out)


def _head_losses(out: Mapping[str, torch.Tensor], data: SurvivalArrays, index: np.ndarray,
                 config: TrainConfig) -> dict[str, torch.Tensor]:
    losses = {}
    for key, head in _HEADS.items():
        if key not in out:
            continue
        total = out[key].new_zeros(())
        for k, endpoint in enumerate(ENDPOINTS):
            w = 1.0 if endpoint == "os" else config.dm_weight
            t = torch.from_numpy(data.time(endpoint)[index]).to(out[key].device)
            e = torch.from_numpy(data.event(endpoint)[index]).to(out[key].device)
            total = total + w * cox_ph_loss(out[key][:, k], t, e, ties=config.ties)
        losses[head] = total
    return losses


def _full_losses(model: MultimodalSurvivalNet, data: SurvivalArrays,
                 config: TrainConfig) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        idx = np.arange(len(data))
        out = model(*model_inputs(model, data, idx), aux=True)
        return {h: float(v) for h, v in _head_losses(out, data, idx, config).items()}


def fit(model: MultimodalSurvivalNet, data: SurvivalArrays, config: TrainConfig) -> dict[str, Any]:
    """Train ``model`` in place; return the history (losses, blending weights, steps)."""
    if len(data) < 4:
        raise ModelError(f"need at least 4 subjects to train, got {len(data)}")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    blending = config.blend and model.mode == "multimodal"
    train_idx = np.arange(len(data))
    val = None
    if blending:
        perm = rng.permutation(len(data))
        n_val = max(int(round(config.blend_val_fraction * len(data))), 2)
        val, train_idx = data.subset(perm[:n_val]), perm[n_val:]
    train = data.subset(train_idx)
    heads = tuple(_HEADS[k] for k in ("risk", "risk_clinical", "risk_image")
                  if model.mode == "multimodal" or k == "risk")
    weights = uniform_weights(heads) if blending else {"fused": 1.0}
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    augment = config.augment and model.image is not None
    generator = torch.Generator().manual_seed(config.seed)
    history: dict[str, Any] = {"loss": [], "blend_weights": [dict(weights)], "steps": 0}
    checkpoint = (_full_losses(model, train, config), _full_losses(model, val, config)) if val else None
    for epoch in range(config.epochs):
        model.train()
        perm = rng.permutation(len(train))
        epoch_loss = []
        for start in range(0, len(train), config.batch_size):
            batch = perm[start:start + config.batch_size]
            if batch.size < 2:  # batch norm needs two samples
                continue
            clinical, image = model_inputs(model, train, batch)
            if augment and image is not None:
                image = augment_volumes(image, generator)
            out = model(clinical, image, aux=blending)
            losses = _head_losses(out, train, batch, config)
            loss = sum(weights[h] * losses[h] for h in weights)
            if not torch.isfinite(loss):
                raise ModelError(f"training loss is not finite at epoch {epoch + 1}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            history["steps"] += 1
            epoch_loss.append(loss.item())
        history["loss"].append(float(np.mean(epoch_loss)) if epoch_loss else float("nan"))
        if blending and val is not None and checkpoint and (epoch + 1) % config.blend_every == 0:
            now = (_full_losses(model, train, config), _full_losses(model, val, config))
            estimate = blend_weights(checkpoint[0], now[0], checkpoint[1], now[1],
                                     floor=config.blend_floor)
            weights = smooth_weights(weights, estimate, config.blend_momentum)
            history["blend_weights"].append(dict(weights))
            log.info("epoch %d: gradient-blending weights %s", epoch + 1,
                     {h: round(w, 3) for h, w in weights.items()})
            checkpoint = now
    return history


def predict(model: MultimodalSurvivalNet, data: SurvivalArrays, batch_size: int = 64) -> np.ndarray:
    """Return log-hazards, shape (n, 2): columns OS and DM."""
    model.eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            idx = np.arange(start, min(start + batch_size, len(data)))
            chunks.append(model(*model_inputs(model, data, idx))["risk"].cpu().numpy())
    return np.concatenate(chunks).astype(np.float64)


def evaluate(model: MultimodalSurvivalNet, data: SurvivalArrays, ties: str = "efron") -> dict[str, float]:
    """Return Harrell's C-index per endpoint and the Cox loss of the fused head."""
    risk = predict(model, data)
    out: dict[str, float] = {}
    for k, endpoint in enumerate(ENDPOINTS):
        out[f"c_index_{endpoint}"] = harrell_c(data.time(endpoint), data.event(endpoint), risk[:, k])
    loss = cox_ph_loss(torch.from_numpy(risk[:, 0]), torch.from_numpy(data.os_time),
                       torch.from_numpy(data.os_event), ties=ties)
    out["loss_os"] = float(loss)
    out["c_index"] = out["c_index_os"]
    return out


def get_weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """Return the state dict as numpy arrays."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def set_weights(model: torch.nn.Module, weights: Mapping[str, Any], exclude: str | None = None) -> None:
    """Load ``weights`` (numpy or tensors) into ``model``; keys matching ``exclude`` stay local."""
    state = model.state_dict()
    missing = set(state) - set(weights)
    unknown = set(weights) - set(state)
    if unknown:
        raise ModelError(f"weights carry keys the network does not have: {sorted(unknown)[:5]}")
    if missing - {k for k in state if exclude and re.search(exclude, k)}:
        raise ModelError(f"weights lack keys of the network: {sorted(missing)[:5]}")
    pattern = re.compile(exclude) if exclude else None
    for key, value in weights.items():
        if pattern and pattern.search(key):
            continue
        tensor = torch.as_tensor(np.asarray(value)).to(state[key].dtype)
        if tensor.shape != state[key].shape:
            raise ModelError(f"weight {key!r} has shape {tuple(tensor.shape)}, "
                             f"the network expects {tuple(state[key].shape)}")
        state[key].copy_(tensor)

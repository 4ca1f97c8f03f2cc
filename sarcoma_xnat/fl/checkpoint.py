"""Save and load a trained survival model with everything needed to use it on new sessions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sarcoma_xnat.errors import ModelError

__all__ = ["CHECKPOINT_FORMAT", "FORMATS", "PRIVATE_KEYS", "check_private", "load_checkpoint",
           "save_checkpoint"]

#: version 2: only aggregates of the training data (coarse baseline and censoring steps)
CHECKPOINT_FORMAT = "sarcoma-xnat-survival/2"
#: formats that load; version 1 also stored each training subject's outcome and session label
FORMATS = ("sarcoma-xnat-survival/1", CHECKPOINT_FORMAT)
#: meta keys of per-subject data that a model file must never hold (format 1 had them)
PRIVATE_KEYS = frozenset({"train_outcomes", "train_sessions", "sessions"})


def check_private(meta: Any, where: str = "meta") -> None:
    """Raise :class:`ModelError` when ``meta`` (nested) holds a per-subject key of :data:`PRIVATE_KEYS`."""
    if isinstance(meta, dict):
        for key, value in meta.items():
            if key in PRIVATE_KEYS:
                raise ModelError(f"refusing to write per-subject data ({where}.{key}) into a model file")
            check_private(value, f"{where}.{key}")
    elif isinstance(meta, (list, tuple)):
        for value in meta:
            check_private(value, where)


def save_checkpoint(path: str | os.PathLike[str], model: Any, meta: dict[str, Any]) -> Path:
    """Write ``model`` (its config and weights) and ``meta`` to ``path`` atomically.

    ``meta`` must hold aggregates only (:func:`check_private`): the file goes to every
    site that runs ``prognosis``.
    """
    import torch

    check_private(meta)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CHECKPOINT_FORMAT, "network": model.config(),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "meta": meta}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """Return ``(model, meta)`` from a checkpoint written by :func:`save_checkpoint`.

    Also accepts a bare state dict (e.g. NVFlare's ``FL_global_model.pt``) when a
    sibling ``model_config.json`` holds the network and meta.
    """
    import json

    import torch

    from sarcoma_xnat.models.ensemble import network_from_config

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}", file=str(path))
    if path.stat().st_size == 0:
        raise ModelError(f"model file {path} is empty (an interrupted copy?): give the model.pt "
                         "that 'sarcoma-xnat model train' wrote", file=str(path))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for non-checkpoints
        # torch's own text suggests weights_only=False, i.e. running code from the file:
        # never relay that advice for a file of unknown origin
        raise ModelError(f"model file {path} is not a readable sarcoma-xnat model (corrupt, "
                         f"truncated or another program's file; {type(exc).__name__}): give "
                         "the model.pt that 'sarcoma-xnat model train' wrote",
                         file=str(path)) from exc
    if isinstance(payload, dict) and payload.get("format") in FORMATS:
        network, state, meta = payload["network"], payload["state_dict"], payload["meta"]
    else:
        sidecar = path.with_name("model_config.json")
        if not sidecar.is_file():
            raise ModelError(f"not a sarcoma-xnat checkpoint and no {sidecar.name} beside it",
                             file=str(path))
        info = json.loads(sidecar.read_text())
        network, meta = info["network"], info.get("meta", {})
        state = payload.get("model", payload) if isinstance(payload, dict) else payload
    try:
        model = network_from_config(network)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"the network configuration in the model file is invalid: {exc}",
                         file=str(path)) from exc
    try:
        model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    except RuntimeError as exc:
        raise ModelError(f"weights do not fit the network: {exc}", file=str(path)) from exc
    model.eval()
    return model, meta

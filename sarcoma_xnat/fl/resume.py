"""Start a federated run from a given model, and resume one after the server restarts.

Two mechanisms, both on the server only:

* **Initial model.** ``--initial-model`` names a ``model.pt`` (a single network, not an
  ensemble) or an NVFlare ``FL_global_model.pt``. :func:`initial_model_file` checks that
  its weights fit the job's network and writes them in the format of NVFlare's
  ``PTFileModelPersistor`` (``{"model": state_dict}``); the file travels in the server
  app's ``custom/`` folder and the persistor loads it (``PTModel(initial_ckpt=...)``,
  ``nvflare/app_opt/pt/file_model_persistor.py``: a relative path is resolved against
  the app's ``custom/`` folder).
* **Round checkpoint.** After every round the controller writes the global model, the
  round number and the gate's records to :class:`RoundCheckpoint` in a server-local folder
  (``checkpoint_dir`` of the server's site configuration), named by the job's name and a
  fingerprint of its network. A job with the same name and network started after a server
  restart (NVFlare aborts the jobs that ran when the server went down) continues after the
  last finished round; every site, rejoining or new, is sent that checkpointed model.
  NVFlare 2.9's ``ModelController`` keeps no snapshot of its own, so this lives here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sarcoma_xnat.errors import ModelError

__all__ = ["INITIAL_MODEL_NAME", "Resumed", "RoundCheckpoint", "initial_model_file"]

#: the file name of the initial model in the server app's ``custom/`` folder
INITIAL_MODEL_NAME = "initial_global_model.pt"


def _fingerprint(network: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(network, sort_keys=True).encode()).hexdigest()[:12]


def initial_model_file(source: str | os.PathLike[str], network: dict[str, Any],
                       dest_dir: str | os.PathLike[str]) -> Path:
    """Write the weights of ``source`` for NVFlare's persistor into ``dest_dir``; return the file.

    Raises :class:`ModelError` when ``source`` is unreadable, an ensemble, or its weights
    do not fit ``network`` (names and shapes).
    """
    import torch

    from sarcoma_xnat.models.networks import MultimodalSurvivalNet

    source = Path(source)
    if not source.is_file():
        raise ModelError(f"initial model {source} does not exist", file=str(source))
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for non-checkpoints
        raise ModelError(f"initial model {source} is not a readable model file "
                         f"({type(exc).__name__})", file=str(source)) from exc
    if isinstance(payload, dict) and "state_dict" in payload:  # sarcoma-xnat model.pt
        if int(payload.get("network", {}).get("ensemble_size", 0)) > 0:
            raise ModelError(f"initial model {source} is an ensemble; federated training starts "
                             "from one network (model train --ensemble 1)", file=str(source))
        state = payload["state_dict"]
    elif isinstance(payload, dict):
        state = payload.get("model", payload)
    else:
        raise ModelError(f"initial model {source} holds no weights", file=str(source))
    expected = MultimodalSurvivalNet(**network).state_dict()
    got = {k: torch.as_tensor(v) for k, v in state.items()}
    wrong = sorted(set(expected) ^ set(got)) or sorted(
        k for k in expected if tuple(expected[k].shape) != tuple(got[k].shape))
    if wrong:
        raise ModelError(f"initial model {source} does not fit the job's network "
                         f"(mode/preset/clinical width): {len(wrong)} mismatched weights, e.g. "
                         f"{wrong[0]}", file=str(source))
    dest = Path(dest_dir) / INITIAL_MODEL_NAME
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": got}, dest)
    return dest


@dataclass
class Resumed:
    """What a checkpoint restores: the next round, the global weights and the gate records."""

    next_round: int
    params: dict[str, Any]
    records: list[dict[str, Any]]


class RoundCheckpoint:
    """The server's per-round checkpoint of one job (name + network) under ``root``."""

    def __init__(self, root: str | os.PathLike[str], job_name: str, network: dict[str, Any]) -> None:
        self.folder = Path(root) / f"{job_name}-{_fingerprint(network)}"

    def save(self, round_: int, params: dict[str, Any], records: list[dict[str, Any]]) -> None:
        """Write the global model after ``round_`` and the gate records, atomically (state last)."""
        import numpy as np
        import torch

        self.folder.mkdir(parents=True, exist_ok=True)
        weights = self.folder / "global_model.pt"
        tmp = weights.with_name(".global_model.pt.tmp")
        torch.save({k: torch.as_tensor(np.asarray(v)) for k, v in params.items()}, tmp)
        os.replace(tmp, weights)
        state = self.folder / "state.json"
        tmp = state.with_name(".state.json.tmp")
        tmp.write_text(json.dumps({"last_round": round_, "records": records}, indent=2,
                                  default=float) + "\n")
        os.replace(tmp, state)

    def load(self) -> Resumed | None:
        """Return the checkpointed state, or None when there is none."""
        import torch

        state_file, weights = self.folder / "state.json", self.folder / "global_model.pt"
        if not state_file.is_file() or not weights.is_file():
            return None
        try:
            state = json.loads(state_file.read_text())
            params = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:  # a corrupt checkpoint must not be trained on silently
            raise ModelError(f"the round checkpoint in {self.folder} is unreadable "
                             f"({type(exc).__name__}); move it away to start afresh",
                             file=str(self.folder)) from exc
        return Resumed(int(state["last_round"]) + 1, {k: v.numpy() for k, v in params.items()},
                       list(state["records"]))

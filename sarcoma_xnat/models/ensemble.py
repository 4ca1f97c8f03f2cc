"""A seed ensemble of survival networks: the mean of the members' log-hazards.

On a cohort of a few hundred subjects one network's test C-index moves by a few
hundredths with its random start; averaging the log-hazards of networks trained from
different seeds on the same data reduces that spread (``model train`` trains three by
default; benchmarks/prognosis_synthetic.py compares one network with the ensemble).
The ensemble behaves like one :class:`~sarcoma_xnat.models.networks.MultimodalSurvivalNet`
for prediction, checkpoints and the ``prognosis`` step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from sarcoma_xnat.models.networks import MultimodalSurvivalNet

__all__ = ["SurvivalEnsemble", "network_from_config"]


class SurvivalEnsemble(nn.Module):
    """Average the outputs of identically configured member networks.

    Parameters
    ----------
    members : sequence of MultimodalSurvivalNet
        Trained networks with the same configuration.
    """

    def __init__(self, members: Sequence[MultimodalSurvivalNet]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        configs = [m.config() for m in members]
        if any(c != configs[0] for c in configs[1:]):
            raise ValueError("ensemble members must share one network configuration")
        self.members = nn.ModuleList(members)

    @property
    def mode(self) -> str:
        """Return the members' mode ("multimodal", "clinical" or "image")."""
        return self.members[0].mode

    @property
    def n_clinical(self) -> int:
        """Return the length of the encoded clinical vector the members take."""
        return self.members[0].n_clinical

    @property
    def clinical(self) -> nn.Module | None:
        """Return the first member's clinical branch (None when the mode has none)."""
        return self.members[0].clinical

    @property
    def image(self) -> nn.Module | None:
        """Return the first member's image branch (None when the mode has none)."""
        return self.members[0].image

    def config(self) -> dict[str, Any]:
        """Return the member configuration plus ``ensemble_size``."""
        return {**self.members[0].config(), "ensemble_size": len(self.members)}

    def forward(self, clinical: torch.Tensor | None, image: torch.Tensor | None,
                aux: bool = False) -> dict[str, torch.Tensor]:
        """Return the members' mean of every output (``risk``, and aux heads when asked)."""
        outs = [m(clinical, image, aux=aux) for m in self.members]
        return {k: torch.stack([o[k] for o in outs]).mean(0) for k in outs[0]}


def network_from_config(config: dict[str, Any]) -> MultimodalSurvivalNet | SurvivalEnsemble:
    """Return an untrained network (or ensemble) from a ``config()`` dict."""
    args = dict(config)
    size = int(args.pop("ensemble_size", 0))
    if size <= 0:
        return MultimodalSurvivalNet(**args)
    return SurvivalEnsemble([MultimodalSurvivalNet(**args) for _ in range(size)])

"""Differential-privacy protection of what leaves a site: clip the update, add Gaussian noise.

:class:`GaussianDPFilter` is an NVFlare task-result filter. It runs in the site's client
after the training script has sent its result and before anything leaves the site: it
clips the L2 norm of the model update (the difference to the received global model) to
``clip`` and adds Gaussian noise of standard deviation ``noise_multiplier · clip`` to each
floating-point entry. Integer entries (batch-norm ``num_batches_tracked``) pass untouched.

This is the per-round Gaussian mechanism applied to each site's update. **No privacy
accounting is done**: no epsilon/delta is computed or tracked over rounds, and the
guarantee depends on choices made outside this filter (clip, noise multiplier, number of
rounds, what the gate and the log reveal). The metrics that travel with an update (the
site's C-index on the received model) are not noised.

Clipping needs a difference, so the filter refuses a result holding full weights
(``DataKind.WEIGHTS``): the task then fails rather than sending unclipped weights. The
client sends a difference when the job sets ``--send-diff`` (see :mod:`.job`), and the
server adds it back to the global model (:func:`~sarcoma_xnat.fl.gate.apply_diff`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from nvflare.apis.dxo import DXO, DataKind
from nvflare.apis.dxo_filter import DXOFilter
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import Shareable

from sarcoma_xnat.errors import ConfigurationError

__all__ = ["GaussianDPFilter", "clip_and_noise"]


def clip_and_noise(diff: Mapping[str, Any], clip: float, noise_multiplier: float,
                   rng: np.random.Generator) -> tuple[dict[str, np.ndarray], float]:
    """Clip an update's float L2 norm to ``clip`` and add N(0, (noise·clip)²); also return the norm.

    ``diff`` is an update (a difference of weights); the norm returned is the one before
    clipping, over all float entries together. Integer entries are returned unchanged.
    An update whose norm is not finite (NaN or infinite entries) is returned with every
    float entry NaN, so none of it leaks unclipped and the server's gate rejects it.
    """
    if not (clip > 0 and noise_multiplier >= 0):
        raise ConfigurationError(f"need clip > 0 and noise_multiplier >= 0, "
                                 f"got {clip} and {noise_multiplier}")
    arrays = {k: np.asarray(v) for k, v in diff.items()}
    floats = [k for k, v in arrays.items() if v.dtype.kind == "f"]
    norm = float(np.sqrt(sum(float(np.sum(arrays[k].astype(np.float64) ** 2)) for k in floats)))
    out = dict(arrays)
    if not np.isfinite(norm):
        for k in floats:
            out[k] = np.full_like(arrays[k], np.nan)
        return out, norm
    scale = min(1.0, clip / norm) if norm > 0 else 1.0
    std = noise_multiplier * clip
    for k in floats:
        d = arrays[k].astype(np.float64) * scale
        if std > 0:
            d = d + rng.normal(0.0, std, d.shape)
        out[k] = d.astype(arrays[k].dtype)
    return out, norm


class GaussianDPFilter(DXOFilter):
    """NVFlare task-result filter: clip each WEIGHT_DIFF update to L2 norm ``clip``, add Gaussian noise.

    Per-round Gaussian mechanism on the update, without privacy accounting (no epsilon is
    computed); see the module documentation.

    Parameters
    ----------
    clip : float
        Largest L2 norm of an update's float entries (all layers together); must be > 0.
    noise_multiplier : float
        Noise standard deviation in units of ``clip`` (0: clipping only).
    seed : int, optional
        Seed of the noise generator (tests); by default fresh entropy at each site.
    """

    def __init__(self, clip: float, noise_multiplier: float = 0.0, seed: int | None = None) -> None:
        # WEIGHTS is filtered too, only to be refused: full weights must not leave unclipped
        kinds = [DataKind.WEIGHT_DIFF, DataKind.WEIGHTS]
        super().__init__(supported_data_kinds=kinds, data_kinds_to_filter=kinds)
        if not clip > 0:
            raise ConfigurationError(f"the DP filter needs clip > 0, got {clip}")
        if not noise_multiplier >= 0:
            raise ConfigurationError(f"the DP noise multiplier must be >= 0, got {noise_multiplier}")
        # attribute names match the constructor's, as NVFlare's job export reads them back
        self.clip = float(clip)
        self.noise_multiplier = float(noise_multiplier)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def process_dxo(self, dxo: DXO, shareable: Shareable, fl_ctx: FLContext) -> DXO:
        """Clip and noise a WEIGHT_DIFF DXO in place; refuse full weights (the task then fails)."""
        if dxo.data_kind != DataKind.WEIGHT_DIFF:
            raise ConfigurationError(
                f"{type(self).__name__} can only protect a model difference (WEIGHT_DIFF), but the "
                f"task result holds {dxo.data_kind}: the client must send the difference to the "
                "received model (client script flag --send-diff); nothing was sent")
        data, norm = clip_and_noise(dxo.data, self.clip, self.noise_multiplier, self._rng)
        noise = f"Gaussian noise std {self.noise_multiplier * self.clip:.4g} added to each entry"
        if not np.isfinite(norm):
            verdict = "not finite: every float entry sent as NaN"
        elif norm > self.clip:
            verdict = f"clipped to {self.clip:.4g}; {noise}"
        else:
            verdict = f"within the clip {self.clip:.4g}, not clipped; {noise}"
        self.log_info(fl_ctx, f"DP filter: update L2 norm {norm:.4g}, {verdict}")
        dxo.data = data
        return dxo

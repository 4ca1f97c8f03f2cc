"""One site's side of a federated round: load its own curated data, train, evaluate, and protect.

The NVFlare client script only loops receive → :meth:`SiteTrainer.train` → send;
everything else lives here so that it can be tested without NVFlare.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.fl.dataset import load_cohort
from sarcoma_xnat.fl.site import SiteConfig, open_archive, site_config

__all__ = ["SiteTrainer", "dp_filter", "parse_client_args"]

log = logging.getLogger(__name__)


def parse_client_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the client script's arguments (training settings only; never data locations)."""
    p = argparse.ArgumentParser(prog="sarcoma-xnat-fl-client")
    p.add_argument("--preset", default="tiny", help="image-branch size (see DENSENET_PRESETS)")
    p.add_argument("--mode", default="multimodal", choices=("multimodal", "clinical", "image"))
    p.add_argument("--clinical-hidden", type=int, default=32,
                   help="hidden width of the clinical MLP (0: linear clinical branch)")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--local-epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--no-blend", action="store_true")
    p.add_argument("--fedbn", action="store_true", help="keep batch-norm statistics local")
    p.add_argument("--dp-clip", type=float, default=0.0, help="clip the update's L2 norm (0: off)")
    p.add_argument("--dp-noise", type=float, default=0.0, help="Gaussian noise multiplier (x clip)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def dp_filter(update: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray], clip: float,
              noise: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Clip the difference ``update - reference`` to L2 norm ``clip`` and add N(0, (noise·clip)²).

    Integer entries (batch-norm counters) are passed through untouched.
    """
    floats = [k for k, v in update.items() if np.asarray(v).dtype.kind == "f"]
    diff = {k: np.asarray(update[k], np.float64) - np.asarray(reference[k], np.float64) for k in floats}
    norm = float(np.sqrt(sum(float((d ** 2).sum()) for d in diff.values())))
    scale = min(1.0, clip / norm) if norm > 0 else 1.0
    out = {k: np.asarray(v) for k, v in update.items()}
    for k, d in diff.items():
        noisy = d * scale + rng.normal(0.0, noise * clip, d.shape)
        out[k] = (np.asarray(reference[k], np.float64) + noisy).astype(np.asarray(update[k]).dtype)
    return out


class SiteTrainer:
    """Train and evaluate the shared network on one site's own archive.

    Parameters
    ----------
    site : str
        NVFlare site name; its data location comes from :func:`~sarcoma_xnat.fl.site.site_config`.
    args : argparse.Namespace
        From :func:`parse_client_args`.
    config : SiteConfig, optional
        Overrides the lookup (tests).
    """

    def __init__(self, site: str, args: argparse.Namespace, config: SiteConfig | None = None) -> None:
        import torch

        from sarcoma_xnat.models.networks import build_network
        from sarcoma_xnat.models.training import TrainConfig

        torch.set_num_threads(args.threads)
        self.site, self.args = site, args
        self.config = config or site_config(site)
        self.model = build_network(args.preset, mode=args.mode, clinical_hidden=args.clinical_hidden)
        needs_images = self.model.mode != "clinical"
        self.cohort = load_cohort(open_archive(self.config.archive), self.config.project,
                                  self.config.resource, args.image_size if needs_images else None)
        self.data = self.cohort.data
        self.train_config = TrainConfig(epochs=args.local_epochs, batch_size=args.batch_size,
                                        lr=args.lr, blend=not args.no_blend, seed=args.seed)
        self.rng = np.random.default_rng(args.seed)
        self.poison = self.config.debug_poison
        log.info("site %s: %d curated sessions from project %s (%d skipped)", site,
                 len(self.cohort.sessions), self.config.project, len(self.cohort.skipped))

    def _load(self, weights: Mapping[str, Any]) -> None:
        from sarcoma_xnat.models.training import BN_PATTERN, set_weights

        set_weights(self.model, weights, exclude=BN_PATTERN if self.args.fedbn else None)

    def evaluate(self, weights: Mapping[str, Any]) -> dict[str, float]:
        """Return the received model's C-index on this site's data (before local training)."""
        from sarcoma_xnat.models.training import evaluate

        self._load(weights)
        return {k: v for k, v in evaluate(self.model, self.data).items() if k.startswith("c_index")}

    def train(self, weights: Mapping[str, Any], round_: int = 0) -> tuple[dict[str, np.ndarray], int]:
        """Train locally from ``weights``; return the weights to send and the number of steps."""
        from sarcoma_xnat.models.training import fit, get_weights

        self._load(weights)
        reference = get_weights(self.model)
        self.train_config.seed = self.args.seed + 1000 * round_
        history = fit(self.model, self.data, self.train_config)
        out = get_weights(self.model)
        if self.args.dp_clip > 0:
            out = dp_filter(out, reference, self.args.dp_clip, self.args.dp_noise, self.rng)
        elif self.args.dp_noise > 0:
            raise ConfigurationError("--dp-noise needs --dp-clip")
        if self.poison == "nan":
            out = {k: np.full_like(v, np.nan) if v.dtype.kind == "f" else v for k, v in out.items()}
        elif self.poison == "flip":
            out = {k: -v if v.dtype.kind == "f" else v for k, v in out.items()}
        return out, int(history["steps"])

"""One site's side of a federated round: load its own curated data, train and evaluate.

The NVFlare client script only loops receive → :meth:`SiteTrainer.train` → send;
everything else lives here so that it can be tested without NVFlare. With
``--send-diff`` (set by the job when differential privacy is on) the trainer returns the
difference to the received model, which NVFlare's task-result filter
(:class:`~sarcoma_xnat.fl.privacy.GaussianDPFilter`) clips and noises before it leaves
the site. With ``--fedbn`` the batch-norm running statistics stay at the site (the default): received
ones are ignored and none are sent (the server fills them from its global model).

The site's cohort follows the same rules as ``model train``
(:func:`~sarcoma_xnat.fl.dataset.load_cohort`): one baseline session per subject, QC
exclusions, and the missing-value policy ``--missing`` (default ``impute``). Every site's
subjects are its training subjects, so each site fits its fill values on its own
subjects only (:func:`~sarcoma_xnat.models.missing.apply_missing_policy`); they stay at
the site (only rounded counts leave it, :meth:`SiteTrainer.summary`).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sarcoma_xnat.fl.dataset import load_cohort
from sarcoma_xnat.fl.gate import weight_diff
from sarcoma_xnat.fl.site import SiteConfig, open_archive, site_config
from sarcoma_xnat.fl.site_summary import site_summary
from sarcoma_xnat.models.missing import apply_missing_policy

__all__ = ["SiteTrainer", "parse_client_args"]

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
    p.add_argument("--blend", action="store_true",
                   help="gradient blending in local training (multimodal only; off by default)")
    p.add_argument("--fedbn", action=argparse.BooleanOptionalAction, default=True,
                   help="keep batch-norm statistics local: ignore received ones, never send them "
                        "(default; --no-fedbn sends them, and they reveal the cohort's means)")
    p.add_argument("--send-diff", action="store_true",
                   help="send the difference to the received model (for the DP task-result filter)")
    p.add_argument("--missing", choices=("impute", "complete-case"), default="impute",
                   help="missing clinical values: impute from this site's own subjects (median or "
                        "most frequent level; the values stay at the site) or skip the session")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


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
        from sarcoma_xnat.models.device import describe_device, resolve_device

        self.model = build_network(args.preset, mode=args.mode, clinical_hidden=args.clinical_hidden)
        # the site chooses its device (fl client --device, written to its site configuration)
        self.device = resolve_device(self.config.device)
        self.model.to(self.device)
        log.info("site %s trains on %s", site, describe_device(self.device))
        needs_images = self.model.mode != "clinical"
        self.cohort = load_cohort(open_archive(self.config.archive), self.config.project,
                                  self.config.resource, args.image_size if needs_images else None,
                                  missing=args.missing)
        # every loaded subject trains here: the fill values come from this site's subjects only
        self.missing = apply_missing_policy(self.cohort, args.missing,
                                            np.arange(len(self.cohort.sessions)))
        self.data = self.cohort.data
        self.train_config = TrainConfig(epochs=args.local_epochs, batch_size=args.batch_size,
                                        lr=args.lr, blend=args.blend, seed=args.seed)
        self.poison = self.config.debug_poison
        self.local_weights: dict[str, np.ndarray] | None = None
        log.info("site %s: %d curated sessions from project %s (%d skipped, %d excluded by QC, "
                 "%d follow-up sessions not used; missing values: %s)", site,
                 len(self.cohort.sessions), self.config.project, len(self.cohort.skipped),
                 len(self.cohort.excluded), len(self.cohort.follow_ups), args.missing)

    def summary(self) -> dict[str, int]:
        """Return this site's training-data summary as it may leave: rounded, suppressed counts.

        See :func:`~sarcoma_xnat.fl.site_summary.site_summary`; sent with the final
        validation result, never the fill values or any label.
        """
        return site_summary(self.cohort, self.args.missing)

    def _load(self, weights: Mapping[str, Any]) -> None:
        from sarcoma_xnat.models.training import BN_PATTERN, set_weights

        set_weights(self.model, weights, exclude=BN_PATTERN if self.args.fedbn else None)

    def shared(self, weights: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``weights`` without what stays at the site.

        With ``--fedbn`` that is every key matching ``BN_PATTERN`` (batch-norm running
        statistics and counters); otherwise nothing.
        """
        if not self.args.fedbn:
            return dict(weights)
        import re

        from sarcoma_xnat.models.training import BN_PATTERN

        local = re.compile(BN_PATTERN)
        return {k: v for k, v in weights.items() if not local.search(k)}

    def evaluate(self, weights: Mapping[str, Any]) -> dict[str, float]:
        """Return the received model's C-index on this site's data (before local training)."""
        from sarcoma_xnat.models.training import evaluate

        self._load(weights)
        return {k: v for k, v in evaluate(self.model, self.data).items() if k.startswith("c_index")}

    def train(self, weights: Mapping[str, Any], round_: int = 0) -> tuple[dict[str, np.ndarray], int]:
        """Train locally from ``weights``; return what to send and the number of steps.

        What is sent is the trained weights, or with ``--send-diff`` their difference to
        ``weights`` (see :func:`~sarcoma_xnat.fl.gate.weight_diff`); with ``--fedbn`` without
        the batch-norm statistics (:meth:`shared`). The full trained weights stay in
        :attr:`local_weights`. A ``debug_poison`` site corrupts its
        trained weights before the difference is taken, as a faulty site would.
        """
        from sarcoma_xnat.models.training import fit, get_weights

        self._load(weights)
        self.train_config.seed = self.args.seed + 1000 * round_
        history = fit(self.model, self.data, self.train_config)
        out = get_weights(self.model)
        if self.poison == "nan":
            out = {k: np.full_like(v, np.nan) if v.dtype.kind == "f" else v for k, v in out.items()}
        elif self.poison == "flip":
            out = {k: -v if v.dtype.kind == "f" else v for k, v in out.items()}
        self.local_weights = out
        out = self.shared(out)
        if self.args.send_diff:
            out = weight_diff(out, weights)
        return out, int(history["steps"])

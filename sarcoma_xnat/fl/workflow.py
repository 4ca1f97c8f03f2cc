"""Central (non-federated) training and evaluation of the survival model, with its report."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sarcoma_xnat.errors import ConfigurationError, InputDataError
from sarcoma_xnat.models.aggregate import (GRID_MONTHS, MIN_COUNT, censoring_from_dict,
                                            coarse_baseline, coarse_censoring)
from sarcoma_xnat.models.metrics import bootstrap_ci, censoring_survival, harrell_c, uno_c_given
from sarcoma_xnat.models.survival import ENDPOINTS, BreslowBaseline, SurvivalArrays

__all__ = ["RISK_GROUPS", "TrainedModel", "evaluate_model", "fit_baselines", "split_indices",
           "train_model"]

log = logging.getLogger(__name__)
RISK_GROUPS = ("low risk", "intermediate risk", "high risk")
_SEED_STRIDE = 7919  # seed offset between ensemble members


@dataclass
class TrainedModel:
    """A trained network with what evaluation and prognosis need beside it."""

    model: Any
    meta: dict[str, Any]


def split_indices(event: np.ndarray, test_fraction: float, seed: int,
                  groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return train and test indices, stratified by event status.

    With ``groups`` (the subject of each row) whole subjects are split: a subject's rows
    all land on one side, and a subject counts as an event if any of its rows has one.
    """
    event = np.asarray(event)
    inverse = np.arange(len(event))
    if groups is not None:
        if len(groups) != len(event):
            raise InputDataError(f"groups has {len(groups)} labels for {len(event)} rows")
        _, inverse = np.unique(np.asarray(groups), return_inverse=True)
        per_group = np.zeros(inverse.max() + 1 if inverse.size else 0, dtype=event.dtype)
        np.maximum.at(per_group, inverse, event)
        event = per_group
    rng = np.random.default_rng(seed)
    test = []
    for flag in (0, 1):
        idx = rng.permutation(np.flatnonzero(event == flag))
        test.extend(idx[: int(round(test_fraction * idx.size))])
    test_idx = np.flatnonzero(np.isin(inverse, np.asarray(test, dtype=int)))
    return np.setdiff1d(np.arange(len(inverse)), test_idx), test_idx


def fit_baselines(model: Any, data: SurvivalArrays) -> dict[str, Any]:
    """Return the baselines, censoring summaries and risk-group cuts estimated on training data.

    Everything is an aggregate (:mod:`sarcoma_xnat.models.aggregate`): the Breslow H0 and
    the censoring Kaplan–Meier as step functions on a coarse grid with at least
    ``MIN_COUNT`` subjects per step, and the risk tertiles. No subject's time or event.
    """
    from sarcoma_xnat.models.training import predict

    risk = predict(model, data)
    out: dict[str, Any] = {"baseline": {}, "risk_cuts": {}, "censoring": {},
                           "aggregation": {"grid_months": GRID_MONTHS, "min_count": MIN_COUNT}}
    for k, endpoint in enumerate(ENDPOINTS):
        t, e = data.time(endpoint), data.event(endpoint)
        # only aggregates on a coarse grid: a model file must not hold any subject's outcome
        out["baseline"][endpoint] = coarse_baseline(t, e, risk[:, k]).to_dict()
        out["censoring"][endpoint] = coarse_censoring(t, e)
        out["risk_cuts"][endpoint] = np.quantile(risk[:, k], [1 / 3, 2 / 3]).tolist()
    return out


def _censoring(meta: dict[str, Any], endpoint: str) -> tuple[Any, float]:
    """Return the training censoring G(t) and the longest training follow-up from a model's meta.

    Format-1 model files kept every training subject's outcome (``train_outcomes``); they
    still evaluate, from those.
    """
    if "censoring" in meta:
        cens = meta["censoring"][endpoint]
        return censoring_from_dict(cens), float(cens["follow_up_months"])
    train = meta["train_outcomes"][endpoint]
    tt, te = np.asarray(train["time"]), np.asarray(train["event"])
    return censoring_survival(tt, te), float(tt.max())


def train_model(data: SurvivalArrays, preset: str = "tiny", mode: str = "multimodal",
                config: Any = None, image_size: int = 32, clinical_hidden: int = 32,
                ensemble: int = 1, device: Any = None) -> TrainedModel:
    """Build a network of ``preset``/``mode``, train it on ``data`` and attach baselines.

    With ``ensemble`` > 1, that many networks are trained from different seeds on the
    same data and returned as one :class:`~sarcoma_xnat.models.ensemble.SurvivalEnsemble`.
    ``device`` (a ``torch.device``; default CPU) is where the networks train; the returned
    model stays there.
    """
    from dataclasses import replace

    from sarcoma_xnat.models.encoding import ENCODING_VERSION, FEATURE_NAMES
    from sarcoma_xnat.models.ensemble import SurvivalEnsemble
    from sarcoma_xnat.models.networks import build_network
    from sarcoma_xnat.models.training import TrainConfig, fit

    import torch

    if ensemble < 1:
        raise ConfigurationError(f"ensemble size must be at least 1, got {ensemble}")
    config = config or TrainConfig()
    members, histories = [], []
    for k in range(ensemble):
        member_config = replace(config, seed=config.seed + _SEED_STRIDE * k)
        torch.manual_seed(member_config.seed)
        member = build_network(preset, mode=mode, n_clinical=data.clinical.shape[1],
                               clinical_hidden=clinical_hidden)
        if device is not None:
            member.to(device)
        histories.append(fit(member, data, member_config))
        members.append(member)
    model = members[0] if ensemble == 1 else SurvivalEnsemble(members)
    meta = {"preset": preset, "mode": mode, "image_size": image_size, "ensemble_size": ensemble,
            "encoding_version": ENCODING_VERSION, "feature_names": list(FEATURE_NAMES),
            "train_config": config.to_dict(),
            "history": histories[0] if ensemble == 1 else histories, "n_train": len(data),
            **fit_baselines(model, data)}
    return TrainedModel(model, meta)


def evaluate_model(trained: TrainedModel, data: SurvivalArrays, out_dir: Path | None = None,
                   n_boot: int = 200, horizon: float | None = None, seed: int = 0,
                   groups: Any = None) -> dict[str, Any]:
    """Return Harrell's and Uno's C-index with bootstrap CIs per endpoint; write PNGs to ``out_dir``.

    ``groups`` (the subject of each row) makes the bootstrap resample whole subjects.
    """
    from sarcoma_xnat.fl.figures import calibration_table, plot_calibration, plot_km_by_risk
    from sarcoma_xnat.models.training import predict

    risk = predict(trained.model, data)
    report: dict[str, Any] = {"n": len(data), "endpoints": {}}
    for k, endpoint in enumerate(ENDPOINTS):
        t, e, r = data.time(endpoint), data.event(endpoint), risk[:, k]
        if e.sum() == 0:
            raise InputDataError(f"no {endpoint.upper()} events in the evaluation data")
        g, follow_up = _censoring(trained.meta, endpoint)
        tau = float(min(follow_up, t.max()) - 1e-6)
        harrell = bootstrap_ci(lambda i: harrell_c(t[i], e[i], r[i]), len(t), n_boot, seed=seed,
                               groups=groups)
        uno = bootstrap_ci(lambda i: uno_c_given(g, t[i], e[i], r[i], tau=tau), len(t), n_boot,
                           seed=seed, groups=groups)
        res: dict[str, Any] = {"events": int(e.sum()),
                               "harrell_c": dict(zip(("value", "ci_lower", "ci_upper"), harrell)),
                               "uno_c": dict(zip(("value", "ci_lower", "ci_upper"), uno)),
                               "uno_tau_months": tau}
        h = horizon if horizon is not None else float(np.quantile(t[e.astype(bool)], 0.5))
        baseline = BreslowBaseline.from_dict(trained.meta["baseline"][endpoint])
        res["calibration"] = calibration_table(t, e, r, baseline, h)
        res["calibration_horizon_months"] = h
        cuts = trained.meta["risk_cuts"][endpoint]
        group = np.searchsorted(np.asarray(cuts), r, side="right")
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            name = endpoint.upper()
            plot_calibration(res["calibration"], h, out_dir / f"calibration_{endpoint}.png",
                             f"{name} calibration")
            plot_km_by_risk(t, e, group, list(RISK_GROUPS), out_dir / f"km_{endpoint}.png",
                            f"{name} by predicted risk group")
        report["endpoints"][endpoint] = res
    if out_dir is not None:
        (out_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    return report

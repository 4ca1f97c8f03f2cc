"""Incremental learning with a validation gate (the Dafne loop), over a project's reviewed sessions.

:func:`train_gated` trains a new version on the reviewed and accepted sessions
(fine-tuning the current model, or from scratch), validates the current and the new
model on held-out reviewed sessions (always the same ones: chosen by a hash of the
session label), and publishes the new version. It becomes current only when its
mean Dice is not worse than the current model's by more than ``tolerance``; either
way the decision and both figures are recorded in the registry.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ModelError
from sarcoma_xnat.imaging.roi import roi_mask
from sarcoma_xnat.segmentation.bundle import DEFAULT_INFERENCE, load_bundle, write_bundle
from sarcoma_xnat.segmentation.registry import (current_bundle_dir, fetch_models, next_version,
                                                publish, read_registry)
from sarcoma_xnat.segmentation.review import final_mask
from sarcoma_xnat.segmentation.training import Case, evaluate, train
from sarcoma_xnat.segmentation.volumes import load_session, scan_types, to_working_grid
from sarcoma_xnat.steps.base import stage_session

__all__ = ["collect_cases", "split_cases", "train_gated"]

log = logging.getLogger(__name__)


def collect_cases(archive: Archive, project: str,
                  spacing_mm: float = float(DEFAULT_INFERENCE["spacing_mm"])) -> list[Case]:
    """Return a case for every session of ``project`` with a reviewed or accepted mask."""
    cases = []
    for subject in archive.children(ObjectRef(project), "subject"):
        for session in archive.children(subject.ref, "session"):
            with tempfile.TemporaryDirectory(prefix="sarcoma-case-") as tmp:
                annotation = final_mask(archive, session.ref, Path(tmp) / "roi")
                if annotation is None:
                    continue
                staged = stage_session(archive, session.ref, Path(tmp) / "in", assessors=False)
                images = load_session(staged, spacing_mm, {"session": session.label},
                                      scan_types(archive, session.ref))
                mask = roi_mask(annotation, images.t1, {images.t1.series_uid: images.t1},
                                context={"session": session.label}).mask
                sp = images.grid.GetSpacing()
                cases.append(Case(session.label, images.channels,
                                  to_working_grid(mask, images.grid, nearest=True),
                                  (sp[2], sp[1], sp[0])))
    return cases


def split_cases(cases: Sequence[Case], holdout: float = 0.25) -> tuple[list[Case], list[Case]]:
    """Return ``(train, held_out)``; a session is held out by a hash of its label, so always the same."""
    if len(cases) < 2:
        raise ModelError(f"at least 2 reviewed sessions are needed (1 held out), found {len(cases)}")
    ranked = sorted(cases, key=lambda c: hashlib.sha256(c.session.encode()).hexdigest())
    n_out = min(len(cases) - 1, max(1, int(round(len(cases) * holdout))))
    held = {c.session for c in ranked[:n_out]}
    return [c for c in cases if c.session not in held], [c for c in cases if c.session in held]


def train_gated(archive: Archive, project: str, epochs: int = 40, tolerance: float = 0.02,
                holdout: float = 0.25, from_scratch: bool = False, seed: int = 0,
                device: str = "cpu", cases: Sequence[Case] | None = None,
                shuffle_masks: bool = False,
                progress: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """Train, validate against the current model, publish; return the new version's record."""
    cases = list(cases) if cases is not None else collect_cases(archive, project)
    train_cases, held_out = split_cases(cases, holdout)
    with tempfile.TemporaryDirectory(prefix="sarcoma-train-") as tmp:
        models = fetch_models(archive, project, Path(tmp) / "models")
        registry = read_registry(models)
        current = None
        if registry.get("current"):
            current = load_bundle(current_bundle_dir(models), device)
        start = None if from_scratch else current
        result = train(train_cases, epochs, start, seed=seed, device=device,
                       shuffle_masks=shuffle_masks, progress=progress)
        version = next_version(registry)
        bundle_dir = write_bundle(Path(tmp) / "bundle", result.state_dict, version,
                                  result.network_def, result.inference,
                                  {"parent_version": start.version if start else None})
        new = evaluate(load_bundle(bundle_dir, device), held_out, device)
        old = evaluate(current, held_out, device) if current is not None else None
        accepted = old is None or new["mean_dice"] >= old["mean_dice"] - tolerance
        if old is None:
            reason = "first model of the project"
        else:
            verb = "not worse than" if accepted else "worse than"
            reason = (f"held-out mean Dice {new['mean_dice']:.4f} is {verb} the current "
                      f"version {current.version}'s {old['mean_dice']:.4f} (tolerance {tolerance:g})")
        record = {"version": version, "parent": start.version if start else None,
                  "from_scratch": start is None, "sha256": load_bundle(bundle_dir).sha256,
                  "decision": "accepted" if accepted else "rejected", "reason": reason,
                  "tolerance": tolerance, "epochs": epochs, "seconds": result.seconds,
                  "final_loss": result.losses[-1] if result.losses else None,
                  "trained_on": sorted(c.session for c in train_cases),
                  "validation": {"sessions": sorted(c.session for c in held_out),
                                 "new": _summary(new), "current": _summary(old),
                                 "current_version": current.version if current else None}}
        publish(archive, project, bundle_dir, record, make_current=accepted)
    log.info("segment train: version %s %s: %s", version, record["decision"], reason)
    return record


def _summary(figures: dict[str, Any] | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    hd = [c["hd95_mm"] for c in figures["cases"] if c["hd95_mm"] is not None]
    return {"mean_dice": figures["mean_dice"], "worst_dice": figures["worst_dice"],
            "mean_hd95_mm": round(float(np.mean(hd)), 3) if hd else None,
            "per_session": {c["session"]: c["dice"] for c in figures["cases"]}}

"""The model card written beside every ``model.pt``: what the model is, how it was made, how good it is.

``model_card.json`` (machine-readable), ``model_card.md`` and ``model_card.html`` (a
self-contained page with the Kaplan–Meier and calibration plots,
:mod:`sarcoma_xnat.fl.card_html`) hold the model file's format and checksum, the clinical
encoding and the preprocessing of the training images, the training data as counts
only (subjects, events, follow-up rounded to the aggregation grid; no labels, no
outcomes), the training settings, the federated rounds and gate decisions, the metrics
with their intervals, the software versions and the intended use. Every card says
that the model was trained on synthetic phantoms and is not for patients.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CARD_HTML", "CARD_JSON", "CARD_MD", "CARD_VERSION", "INTENDED_USE", "NOT_FOR_PATIENTS",
           "TEST_SOURCE", "VALIDATION_SOURCE", "cohort_summary", "render_markdown",
           "software_versions", "write_html", "write_model_card"]

CARD_JSON, CARD_MD, CARD_HTML = "model_card.json", "model_card.md", "model_card.html"
CARD_VERSION = "1"
NOT_FOR_PATIENTS = ("Synthetic phantom model, not for patients: trained and tested on synthetic "
                    "or research data; it must not inform any clinical decision.")
INTENDED_USE = ("Research on multi-site soft-tissue sarcoma survival modelling: risk scores and "
                "survival curves (overall survival, distant metastasis) for curated, "
                "preprocessed MR sessions of the study's XNAT projects, via 'sarcoma-xnat prognosis'.")
#: what a card's metrics and plots were computed on (``metrics_source``, ``plots_source``)
TEST_SOURCE = "held-out test"
VALIDATION_SOURCE = ("server validation data (also used by the gate to accept updates: "
                     "optimistic)")
_PACKAGES = ("sarcoma_xnat", "torch", "monai", "numpy", "nvflare", "SimpleITK", "nibabel",
             "scipy", "matplotlib")


def software_versions() -> dict[str, str]:
    """Return the versions of the packages that made the model (installed ones only)."""
    from importlib import metadata

    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            continue
    return out


def cohort_summary(data: Any, grid_months: float) -> dict[str, Any]:
    """Return counts of a cohort (``SurvivalArrays``): subjects, events and coarse follow-up per endpoint."""
    from sarcoma_xnat.models.survival import ENDPOINTS

    out: dict[str, Any] = {"subjects": len(data)}
    for endpoint in ENDPOINTS:
        t = np.asarray(data.time(endpoint), float)
        median = float(np.floor(np.median(t) / grid_months) * grid_months) if t.size else None
        out[endpoint] = {"events": int(np.asarray(data.event(endpoint)).sum()),
                         "median_follow_up_months_rounded_down": median}
    return out


def _sha256(path: Path) -> str:
    from sarcoma_xnat.steps.base import file_sha256

    return file_sha256(path)


def write_model_card(model_file: str | os.PathLike[str], meta: dict[str, Any],
                     data: dict[str, Any], metrics: dict[str, Any] | None = None,
                     evaluations: dict[str, dict[str, Any]] | None = None,
                     source: str | None = None) -> Path:
    """Write ``model_card.json`` and ``model_card.md`` beside ``model_file``; return the JSON path.

    Parameters
    ----------
    model_file : path
        The written ``model.pt`` (its checksum names the version the card describes).
    meta : dict
        The model's meta (settings, aggregation grid, gate summary).
    data : dict
        Counts of the training (and test) data, e.g. from :func:`cohort_summary`.
    metrics : dict, optional
        Evaluation report (``evaluate_model``) or the federation's validation scores; the
        plots beside ``model_file`` belong to an evaluation report.
    evaluations : dict, optional
        Every evaluation by name (``{"label", "project", "report"}`` or ``"not_evaluated"``),
        kept under ``evaluations`` with its label.
    source : str, optional
        What an evaluation report in ``metrics`` was computed on (``metrics_source`` and
        ``plots_source``; default :data:`TEST_SOURCE`, ``model train``'s held-out split).
    """
    from sarcoma_xnat.fl.checkpoint import CHECKPOINT_FORMAT, check_private

    model_file = Path(model_file)
    card: dict[str, Any] = {
        "card_version": CARD_VERSION,
        "model": {"file": model_file.name, "format": CHECKPOINT_FORMAT,
                  "sha256": _sha256(model_file), "mode": meta.get("mode"),
                  "preset": meta.get("preset"), "image_size": meta.get("image_size"),
                  "ensemble_size": meta.get("ensemble_size", 1),
                  "federated": bool(meta.get("federated", False)),
                  "encoding_version": meta.get("encoding_version"),
                  "feature_names": meta.get("feature_names"),
                  "preprocessing": meta.get("preprocessing")},
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "warning": NOT_FOR_PATIENTS,
        "intended_use": INTENDED_USE,
        "data": data,
        "training": meta.get("train_config", {}),
        "aggregation": meta.get("aggregation", {}),
        "metrics": _metrics(metrics),
        "software": software_versions(),
    }
    evaluated = bool(metrics and "endpoints" in metrics)
    if evaluated:
        card["metrics_source"] = card["plots_source"] = source or TEST_SOURCE
    if evaluations:
        card["evaluations"] = {name: {"label": e.get("label"), "project": e.get("project"),
                                      **({"metrics": _metrics(e["report"])} if "report" in e
                                         else {"not_evaluated": e.get("not_evaluated")})}
                               for name, e in evaluations.items()}
    if "gate" in meta:
        card["gate"] = meta["gate"]
    for key in ("missing_values", "cohort_rules"):  # the cohort-integrity policy (counts only)
        if key in meta:
            card[key] = meta[key]
    check_private(card, "model_card")
    path = model_file.with_name(CARD_JSON)
    path.write_text(json.dumps(card, indent=2, default=float) + "\n")
    model_file.with_name(CARD_MD).write_text(render_markdown(card))
    # the plots evaluate_model just wrote beside the model; none for other metrics (no stale PNGs)
    figures = model_file.parent if evaluated else None
    write_html(card, figures, model_file.with_name(CARD_HTML))
    return path


def write_html(card: dict[str, Any], figures: str | os.PathLike[str] | None,
               path: str | os.PathLike[str]) -> Path:
    """Write the card as a self-contained HTML page, with the plots found in folder ``figures``."""
    from sarcoma_xnat.fl.card_html import render_html

    path = Path(path)
    path.write_text(render_html(card, figures), encoding="utf-8")
    return path


def _metrics(report: dict[str, Any] | None) -> dict[str, Any]:
    """Keep the C-indices with intervals (calibration tables stay in metrics.json)."""
    if not report:
        return {}
    if "endpoints" not in report:
        return dict(report)
    out: dict[str, Any] = {"n": report.get("n")}
    for name, r in report["endpoints"].items():
        out[name] = {k: r[k] for k in ("events", "harrell_c", "uno_c", "uno_tau_months") if k in r}
    out.update({k: v for k, v in report.items() if k not in ("n", "endpoints")})  # e.g. round scores
    return out


def _ci(c: dict[str, float]) -> str:
    return f"{c['value']:.3f} (95% CI {c['ci_lower']:.3f}-{c['ci_upper']:.3f})"


def render_markdown(card: dict[str, Any]) -> str:
    """Return the card as a readable Markdown page."""
    m = card["model"]
    lines = [f"# Model card: {m['file']} ({m['mode']}, {m['preset']})", "",
             f"**{card['warning']}**", "", "## Intended use", "", card["intended_use"], "",
             "## Model", "",
             f"- format `{m['format']}`, sha256 `{m['sha256']}`, created {card['created_utc']}",
             f"- inputs: {m['mode']}; image size {m['image_size']}; ensemble of "
             f"{m['ensemble_size']}; federated: {'yes' if m['federated'] else 'no'}",
             f"- clinical encoding version {m['encoding_version']} "
             f"({len(m['feature_names'] or [])} features)",
             f"- preprocessing of the training images: "
             f"{json.dumps(m.get('preprocessing'), sort_keys=True) if m.get('preprocessing') else 'not recorded'}",
             "",
             "## Data (counts only)", "", "```json", json.dumps(card["data"], indent=2), "```", ""]
    for key, title in (("cohort_rules", "Cohort rules"), ("missing_values", "Missing clinical values")):
        if key in card:
            lines += [f"## {title}", "", "```json", json.dumps(card[key], indent=2), "```", ""]
    lines += ["## Training settings", ""]
    lines += [f"- {k}: {v}" for k, v in sorted(card["training"].items())]
    agg = card.get("aggregation") or {}
    if agg:
        lines += ["", f"Baseline hazard and censoring distribution are kept as step functions on a "
                      f"{agg.get('grid_months')}-month grid with at least {agg.get('min_count')} "
                      f"subjects per step; no subject's outcome or label is stored."]
    lines += ["", "## Metrics", ""]
    metrics = card["metrics"]
    if card.get("metrics_source"):
        lines += [f"Computed on: {card['metrics_source']}.", ""]
    if not metrics:
        lines.append("No held-out evaluation was run for this model.")
    for name, r in metrics.items():
        if isinstance(r, dict) and "harrell_c" in r:
            lines.append(f"- {name.upper()} ({r['events']} events): Harrell C {_ci(r['harrell_c'])}; "
                         f"Uno C {_ci(r['uno_c'])}")
        elif name != "n":
            lines.append(f"- {name}: {r}")
    if metrics.get("n") is not None:
        lines.append(f"- evaluated on {metrics['n']} subjects")
    for e in (card.get("evaluations") or {}).values():
        lines += ["", f"### {e['label']} (project {e['project']})", ""]
        found = e.get("metrics") or {}
        lines += [f"- {k.upper()} ({r['events']} events): Harrell C {_ci(r['harrell_c'])}; "
                  f"Uno C {_ci(r['uno_c'])}" for k, r in found.items()
                  if isinstance(r, dict) and "harrell_c" in r] or [f"- not evaluated: {e.get('not_evaluated')}"]
    if "gate" in card:
        lines += ["", "## Federated rounds (validation gate)", ""]
        lines += [f"- round {g['round']}: merged {g['merged']}, accepted {g['accepted']}, "
                  f"rejected {g['rejected']}" for g in card["gate"]]
    lines += ["", "## Software", ""]
    lines += [f"- {k} {v}" for k, v in card["software"].items()]
    return "\n".join(lines) + "\n"

"""PNG figures of a survival evaluation: calibration and Kaplan–Meier curves by risk group."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sarcoma_xnat.models.survival import BreslowBaseline, kaplan_meier, survival_at

__all__ = ["calibration_table", "plot_calibration", "plot_km_by_risk", "plot_survival_curve"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def calibration_table(time: np.ndarray, event: np.ndarray, risk: np.ndarray,
                      baseline: BreslowBaseline, horizon: float, groups: int = 4) -> list[dict]:
    """Return predicted vs Kaplan–Meier observed survival at ``horizon`` per risk quantile group."""
    pred = baseline.survival(risk, [horizon])[:, 0]
    edges = np.quantile(risk, np.linspace(0, 1, groups + 1))
    label = np.clip(np.searchsorted(edges, risk, side="right") - 1, 0, groups - 1)
    rows = []
    for g in range(groups):
        sel = label == g
        if sel.sum() < 2:
            continue
        km_t, km_s = kaplan_meier(time[sel], event[sel])
        rows.append({"group": g + 1, "n": int(sel.sum()), "predicted": float(pred[sel].mean()),
                     "observed": survival_at(km_t, km_s, horizon)})
    return rows


def plot_calibration(rows: list[dict], horizon: float, path: Path, title: str) -> Path:
    """Write a calibration plot (predicted vs observed survival at ``horizon``)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="ideal")
    ax.plot([r["predicted"] for r in rows], [r["observed"] for r in rows], "o-", c="C0",
            label="risk quartiles")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"predicted survival at {horizon:g} months",
           ylabel=f"observed (Kaplan–Meier) at {horizon:g} months", title=title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_km_by_risk(time: np.ndarray, event: np.ndarray, group: np.ndarray, names: list[str],
                    path: Path, title: str) -> Path:
    """Write Kaplan–Meier curves of the predicted risk groups."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=100)
    for g, name in enumerate(names):
        sel = group == g
        if not sel.any():
            continue
        t, s = kaplan_meier(time[sel], event[sel])
        ax.step(np.r_[0.0, t], np.r_[1.0, s], where="post", label=f"{name} (n={int(sel.sum())})")
    ax.set(ylim=(0, 1.02), xlabel="months", ylabel="survival probability", title=title)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_survival_curve(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path,
                        title: str) -> Path:
    """Write predicted survival curves (one per endpoint) of one subject."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.6), dpi=100)
    for name, (t, s) in curves.items():
        ax.step(np.r_[0.0, t], np.r_[1.0, s], where="post", label=name)
    ax.set(ylim=(0, 1.02), xlabel="months", ylabel="predicted probability", title=title)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

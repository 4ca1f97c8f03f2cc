"""The outcome model: known hazards give a discriminating, censored survival sample."""

from __future__ import annotations

import numpy as np

from sarcoma_xnat.synthetic.clinical import draw_clinical, draw_outcomes, log_hazards
from sarcoma_xnat.synthetic.phantom import random_phantom


def _harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C, written out pair by pair (independent of the package)."""
    concordant = comparable = 0.0
    for i in range(len(time)):
        if not event[i]:
            continue
        later = time > time[i]
        comparable += later.sum()
        concordant += (risk[i] > risk[later]).sum() + 0.5 * (risk[i] == risk[later]).sum()
    return concordant / comparable


def _sample(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        rec = draw_clinical(rng, random_phantom(rng))
        out = draw_outcomes(rng, rec)
        eta_os, _ = log_hazards(rec)
        rows.append((float(out["os_months"]), int(out["os_event"]), eta_os,
                     rec.necrotic_fraction, float(rec.values["tumour_grade"])))
    arr = np.array(rows)
    return {"time": arr[:, 0], "event": arr[:, 1], "eta": arr[:, 2], "necrosis": arr[:, 3],
            "grade": arr[:, 4]}


def test_true_risk_discriminates_and_censoring_is_realistic() -> None:
    s = _sample(600, seed=5)
    event_rate = s["event"].mean()
    assert 0.25 < event_rate < 0.8  # some events, some censoring
    oracle = _harrell_c(s["time"], s["event"], s["eta"])
    assert oracle > 0.7
    # the image-only property carries risk on its own, beyond chance
    assert _harrell_c(s["time"], s["event"], s["necrosis"]) > 0.57
    # and a random score is near 0.5, so the check above can fail
    noise = np.random.default_rng(0).normal(size=len(s["time"]))
    assert abs(_harrell_c(s["time"], s["event"], noise) - 0.5) < 0.06

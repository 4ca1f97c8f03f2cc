"""Survival data arrays and the Breslow baseline hazard (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sarcoma_xnat.errors import InputDataError

__all__ = ["ENDPOINTS", "BreslowBaseline", "SurvivalArrays", "kaplan_meier", "survival_at"]

#: endpoints in head order: overall survival, distant metastasis
ENDPOINTS = ("os", "dm")


@dataclass
class SurvivalArrays:
    """In-memory training data: clinical vectors, images and both outcomes.

    ``clinical`` is (n, f) float32; ``image`` is (n, 2, d, h, w) float32 or None;
    times are in months; events are 0/1.
    """

    clinical: np.ndarray
    image: np.ndarray | None
    os_time: np.ndarray
    os_event: np.ndarray
    dm_time: np.ndarray
    dm_event: np.ndarray

    def __len__(self) -> int:
        return int(self.os_time.shape[0])

    def subset(self, index: np.ndarray) -> SurvivalArrays:
        """Return the rows ``index``."""
        return SurvivalArrays(self.clinical[index], None if self.image is None else self.image[index],
                              self.os_time[index], self.os_event[index],
                              self.dm_time[index], self.dm_event[index])

    def time(self, endpoint: str) -> np.ndarray:
        """Return the times of ``endpoint`` ("os" or "dm")."""
        return self.os_time if endpoint == "os" else self.dm_time

    def event(self, endpoint: str) -> np.ndarray:
        """Return the event flags of ``endpoint`` ("os" or "dm")."""
        return self.os_event if endpoint == "os" else self.dm_event


@dataclass
class BreslowBaseline:
    """Breslow estimate of the cumulative baseline hazard H0(t) of a Cox model."""

    times: np.ndarray
    cum_hazard: np.ndarray

    @classmethod
    def fit(cls, time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> BreslowBaseline:
        """Estimate H0 from training times, events and log-hazards ``risk``."""
        t = np.asarray(time, dtype=float)
        e = np.asarray(event).astype(bool)
        w = np.exp(np.asarray(risk, dtype=float))
        if not e.any():
            raise InputDataError("cannot estimate a baseline hazard without events")
        uniq = np.unique(t[e])
        increments = np.array([((t == u) & e).sum() / w[t >= u].sum() for u in uniq])
        return cls(uniq, np.cumsum(increments))

    def survival(self, risk: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Return S(t | x) = exp(-H0(t) e^risk), shape (n_subjects, n_times)."""
        idx = np.searchsorted(self.times, np.asarray(at, dtype=float), side="right") - 1
        h0 = np.where(idx >= 0, self.cum_hazard[np.clip(idx, 0, None)], 0.0)
        return np.exp(-np.outer(np.exp(np.asarray(risk, dtype=float)), h0))

    def to_dict(self) -> dict[str, list[float]]:
        """Return a JSON-friendly dict."""
        return {"times": self.times.tolist(), "cum_hazard": self.cum_hazard.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> BreslowBaseline:
        """Rebuild from :meth:`to_dict` output."""
        return cls(np.asarray(data["times"], float), np.asarray(data["cum_hazard"], float))


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the Kaplan–Meier estimate: distinct times and S(t) just after each."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    uniq = np.unique(t)
    at_risk = np.array([(t >= u).sum() for u in uniq], dtype=float)
    deaths = np.array([((t == u) & e).sum() for u in uniq], dtype=float)
    return uniq, np.cumprod(1.0 - deaths / at_risk)


def survival_at(times: np.ndarray, surv: np.ndarray, at: float) -> float:
    """Return a step survival curve's value at time ``at``."""
    idx = np.searchsorted(times, at, side="right") - 1
    return 1.0 if idx < 0 else float(surv[idx])

"""Cox partial-likelihood loss with Breslow or Efron handling of tied event times."""

from __future__ import annotations

import torch

__all__ = ["cox_partial_log_likelihood", "cox_ph_loss"]


def cox_partial_log_likelihood(log_hz: torch.Tensor, time: torch.Tensor, event: torch.Tensor,
                               ties: str = "efron") -> torch.Tensor:
    """Return the Cox log partial likelihood (a sum over events) of log-hazards ``log_hz``.

    Parameters
    ----------
    log_hz : Tensor, shape (n,)
        Predicted log-hazards (risk scores); only differences matter.
    time : Tensor, shape (n,)
        Observed times (event or censoring).
    event : Tensor, shape (n,)
        1 for an event, 0 for right-censoring.
    ties : {"efron", "breslow"}
        Approximation for tied event times.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    eta = log_hz.reshape(-1)
    t = time.reshape(-1).to(eta.dtype)
    e = event.reshape(-1).to(torch.bool)
    if not bool(e.any()):
        return eta.sum() * 0.0
    shift = eta.detach().max()
    w = torch.exp(eta - shift)
    u = torch.unique(t[e])                                   # distinct event times (K,)
    at_risk = (t[None, :] >= u[:, None]).to(eta.dtype)       # (K, n)
    dies = ((t[None, :] == u[:, None]) & e[None, :]).to(eta.dtype)
    d = dies.sum(1)                                          # events per time (K,)
    s_risk = at_risk @ w
    loglik = (dies @ eta).sum()
    if ties == "breslow":
        return loglik - (d * (torch.log(s_risk) + shift)).sum()
    s_dead = dies @ w
    l_max = int(d.max().item())
    steps = torch.arange(l_max, dtype=eta.dtype, device=eta.device)   # (L,)
    valid = steps[None, :] < d[:, None]                               # (K, L)
    frac = steps[None, :] / d[:, None]
    inner = s_risk[:, None] - frac * s_dead[:, None]
    inner = torch.where(valid, inner, torch.ones_like(inner))
    return loglik - ((torch.log(inner) + shift) * valid).sum()


def cox_ph_loss(log_hz: torch.Tensor, time: torch.Tensor, event: torch.Tensor,
                ties: str = "efron") -> torch.Tensor:
    """Return the negative Cox log partial likelihood divided by the number of events.

    A batch without events gives zero (with a graph, so ``backward`` still works).
    """
    n_events = event.reshape(-1).to(torch.bool).sum().clamp(min=1)
    return -cox_partial_log_likelihood(log_hz, time, event, ties) / n_events

"""Gradient blending (Wang, Tran & Feiszli, CVPR 2020): loss weights from overfitting ratios.

Each head (fused, clinical-only, image-only) is weighted in proportion to
``ΔG / ΔO²``: its generalisation gain on a validation split over a "super-epoch"
divided by the square of the growth of its overfitting (validation minus training
loss) over the same span. Weights are normalised to sum to one. On small validation
splits one estimate is noisy, so :func:`smooth_weights` mixes it into the previous weights.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["blend_weights", "smooth_weights", "uniform_weights"]


def uniform_weights(heads: tuple[str, ...]) -> dict[str, float]:
    """Return equal weights for ``heads``."""
    return {h: 1.0 / len(heads) for h in heads}


def blend_weights(train_before: Mapping[str, float], train_after: Mapping[str, float],
                  val_before: Mapping[str, float], val_after: Mapping[str, float],
                  floor: float = 0.05, eps: float = 1e-3) -> dict[str, float]:
    """Return normalised gradient-blending weights per head from losses at two checkpoints.

    Parameters
    ----------
    train_before, train_after, val_before, val_after : mapping
        Loss per head (lower is better) at the start and end of the super-epoch.
    floor : float
        Minimum share of each head, so that no branch stops learning entirely.
    eps : float
        Smallest |ΔO| used, so a head that did not overfit does not get an infinite weight.
    """
    raw = {}
    for head in val_after:
        gain = val_before[head] - val_after[head]                          # ΔG
        o_before = val_before[head] - train_before[head]
        o_after = val_after[head] - train_after[head]
        delta_o = max(abs(o_after - o_before), eps)                        # ΔO
        raw[head] = max(gain, 0.0) / delta_o ** 2
    total = sum(raw.values())
    if total <= 0.0:
        return uniform_weights(tuple(val_after))
    weights = {h: max(v / total, floor) for h, v in raw.items()}
    norm = sum(weights.values())
    return {h: v / norm for h, v in weights.items()}


def smooth_weights(previous: Mapping[str, float], estimate: Mapping[str, float],
                   momentum: float) -> dict[str, float]:
    """Return ``momentum · previous + (1 − momentum) · estimate``, renormalised to sum to one."""
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    mixed = {h: momentum * previous.get(h, 0.0) + (1.0 - momentum) * estimate[h] for h in estimate}
    total = sum(mixed.values())
    return {h: v / total for h, v in mixed.items()}

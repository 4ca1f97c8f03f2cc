"""The missing-clinical-value policy of a training run, fitted on the training subjects only.

Two policies (``model train --missing``):

* ``impute`` (default): a missing value of a numeric variable takes the training
  subjects' median, rounded to :data:`ROUNDING` (age to a year, size to 0.5 cm, volume
  to 10 cm³); a missing categorical value takes the training subjects' most frequent
  level (ties: the vocabulary's order, reference level first). Test subjects and
  ``prognosis`` use the training values, never their own. A variable needs at least
  :data:`~sarcoma_xnat.models.aggregate.MIN_COUNT` observed training values to be
  imputed. The fill values are aggregates, kept in ``model.pt`` meta and in the model
  card, with the number of values imputed per variable and split;
* ``complete-case``: a session with a missing value is skipped (listed, naming the field).

No missing-indicator columns are added: the encoding (its feature names and width,
:mod:`sarcoma_xnat.models.encoding`) is the same for every site of a federation and
every model version, and a model checks it at load.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sarcoma_xnat.errors import ConfigurationError, InputDataError
from sarcoma_xnat.models.aggregate import MIN_COUNT
from sarcoma_xnat.models.encoding import CLINICAL_VARIABLES, VOCABULARIES, encode_clinical

__all__ = ["NUMERIC_VARIABLES", "ROUNDING", "STRATEGIES", "apply_missing_policy", "fit_imputation",
           "missing_counts"]

STRATEGIES = ("impute", "complete-case")
NUMERIC_VARIABLES = tuple(v for v in CLINICAL_VARIABLES if v not in VOCABULARIES)
#: rounding step of each numeric variable's median (an aggregate, coarsened)
ROUNDING = {"age": 1.0, "tumour_size_cm": 0.5, "tumour_volume_cm3": 10.0}


def _level(var: str, raw: str) -> str:
    levels = VOCABULARIES[var]
    return raw if raw in levels or "other" not in levels else "other"


def fit_imputation(rows: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Return the fill value (raw, as a field string) of every clinical variable from training ``rows``.

    Raises :class:`InputDataError` when a variable has fewer than ``MIN_COUNT`` observed values.
    """
    fill: dict[str, str] = {}
    for var in CLINICAL_VARIABLES:
        observed = [str(r.get(var) or "").strip() for r in rows]
        observed = [v for v in observed if v]
        if len(observed) < MIN_COUNT:
            raise InputDataError(f"clinical field {var!r} is observed for {len(observed)} training "
                                 f"subject(s); imputing it needs at least {MIN_COUNT}: fill it in, "
                                 "or train with --missing complete-case")
        if var in NUMERIC_VARIABLES:
            step = ROUNDING.get(var, 1.0)
            value = round(statistics.median(float(v) for v in observed) / step) * step
            fill[var] = f"{value:g}"
        else:
            counts = Counter(_level(var, v) for v in observed)
            order = VOCABULARIES[var]
            fill[var] = max(order, key=lambda level: (counts.get(level, 0), -order.index(level)))
    return fill


def missing_counts(rows: Sequence[Mapping[str, str]]) -> dict[str, int]:
    """Return how many ``rows`` lack each variable (only variables with at least one)."""
    out = {var: sum(1 for r in rows if not str(r.get(var) or "").strip()) for var in CLINICAL_VARIABLES}
    return {k: v for k, v in out.items() if v}


def apply_missing_policy(cohort: Any, strategy: str, train_idx: np.ndarray,
                         splits: Mapping[str, np.ndarray] | None = None,
                         fill: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Fill ``cohort``'s missing clinical values in place; return the policy record for meta and card.

    ``cohort`` is a :class:`~sarcoma_xnat.fl.dataset.Cohort` loaded with the same
    ``missing`` strategy. The fill values are fitted on rows ``train_idx`` (or taken
    from ``fill``, a trained model's). ``splits`` names row sets whose imputed counts
    are recorded (default: ``train`` only).
    """
    if strategy not in STRATEGIES:
        raise ConfigurationError(f"missing-value policy must be one of {STRATEGIES}, got {strategy!r}")
    splits = dict(splits or {"train": train_idx})
    record: dict[str, Any] = {"strategy": strategy}
    if strategy == "complete-case":
        record["rule"] = "sessions with a missing clinical value are skipped and listed"
        return record
    rows = cohort.fields
    values = dict(fill) if fill is not None else fit_imputation([rows[i] for i in train_idx])
    cohort.data.clinical = np.stack([encode_clinical(r, fill=values) for r in rows]).astype(np.float32)
    record.update(rule="median (numeric, rounded) or most frequent level (categorical) of the "
                       "training subjects", fitted_on="training split only", fill=values,
                  imputed={name: missing_counts([rows[i] for i in idx]) for name, idx in splits.items()})
    return record

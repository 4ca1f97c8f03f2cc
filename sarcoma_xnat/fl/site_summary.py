"""What a site tells the study about the data it trained on: rounded, suppressed counts only.

With its result of the final ``validate`` task (its C-index of the final global model on
its own data) each site sends a summary of its training cohort (:func:`site_summary`)
as scalar metrics named in :data:`SUMMARY_COUNTS` and :data:`SUMMARY_MONTHS`:

* counts (subjects, OS and DM events, sessions left out by QC, follow-up sessions not
  used, sessions skipped, subjects with an imputed clinical value) are rounded to the
  nearest multiple of :data:`ROUND_TO` (5); a count below :data:`MIN_REPORTED` (5),
  zero included, is suppressed: sent as :data:`SUPPRESSED` (-1), shown as ``"<5"``;
* the median follow-up (median observed time of all subjects) per endpoint is rounded
  down to a :data:`MONTHS_GRID` (3)-month grid, and suppressed when the site has fewer
  than :data:`MIN_REPORTED` subjects.

No labels, no outcomes, no fill values of the missing-value policy (a site's median age
or most frequent histology describes its cohort; they stay at the site). The outbound
gate (:mod:`sarcoma_xnat.fl.outbound`) lets exactly these names leave, and only values
of these forms (:func:`is_reported_count`, :func:`is_reported_months`); an exact count
is refused. :func:`card_entry` turns what a site sent into its model-card entry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["MIN_REPORTED", "MONTHS_GRID", "REPORTING_RULE", "ROUND_TO", "SUMMARY_COUNTS",
           "SUMMARY_MONTHS", "SUPPRESSED", "card_entry", "is_reported_count", "is_reported_months",
           "report_count", "report_months", "site_summary"]

ROUND_TO = 5
MIN_REPORTED = 5
MONTHS_GRID = 3
#: the value sent for a suppressed count or follow-up
SUPPRESSED = -1
_SHOWN_SUPPRESSED = f"<{MIN_REPORTED}"
_MAX_COUNT = 10 ** 6
_MAX_MONTHS = 1200
SUMMARY_COUNTS = ("n_dm_events", "n_excluded_qc", "n_follow_up_sessions", "n_imputed", "n_os_events",
                  "n_skipped", "n_subjects")
SUMMARY_MONTHS = ("dm_median_follow_up_months", "os_median_follow_up_months")
#: the rule, as written in the model card
REPORTING_RULE = (f"each site's counts rounded to the nearest {ROUND_TO}, counts below {MIN_REPORTED} "
                  f"(zero included) shown as '{_SHOWN_SUPPRESSED}'; median follow-up rounded down to a "
                  f"{MONTHS_GRID}-month grid, suppressed below {MIN_REPORTED} subjects; sent by the "
                  "site with its final validation result, no labels")


def report_count(n: int) -> int:
    """Return ``n`` as it may leave a site: rounded to ``ROUND_TO``, ``SUPPRESSED`` below ``MIN_REPORTED``."""
    n = int(n)
    if n < MIN_REPORTED:
        return SUPPRESSED
    return int(math.floor(n / ROUND_TO + 0.5)) * ROUND_TO


def report_months(times: Any) -> int:
    """Return the median of ``times`` rounded down to ``MONTHS_GRID`` months (``SUPPRESSED`` for few)."""
    t = np.asarray(times, dtype=float)
    if t.size < MIN_REPORTED:
        return SUPPRESSED
    return int(math.floor(float(np.median(t)) / MONTHS_GRID)) * MONTHS_GRID


def _integral(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    v = float(value)
    return int(v) if math.isfinite(v) and v == int(v) else None


def is_reported_count(value: Any) -> bool:
    """Return whether ``value`` is a count of the reportable form (a multiple of 5, at least 5, or -1)."""
    v = _integral(value)
    return v is not None and (v == SUPPRESSED or (MIN_REPORTED <= v <= _MAX_COUNT and v % ROUND_TO == 0))


def is_reported_months(value: Any) -> bool:
    """Return whether ``value`` is a follow-up on the reportable grid (a multiple of 3 months, or -1)."""
    v = _integral(value)
    return v is not None and (v == SUPPRESSED or (0 <= v <= _MAX_MONTHS and v % MONTHS_GRID == 0))


def site_summary(cohort: Any, missing: str = "complete-case") -> dict[str, int]:
    """Return the reportable summary of a site's loaded ``Cohort`` (names of ``SUMMARY_*``).

    ``missing`` is the missing-value policy the site trained with; with ``impute`` the
    number of subjects with at least one imputed value is included.
    """
    data = cohort.data
    out = {"n_subjects": report_count(len(data)),
           "n_os_events": report_count(int(np.asarray(data.os_event).sum())),
           "n_dm_events": report_count(int(np.asarray(data.dm_event).sum())),
           "os_median_follow_up_months": report_months(data.os_time),
           "dm_median_follow_up_months": report_months(data.dm_time),
           "n_excluded_qc": report_count(len(cohort.excluded)),
           "n_follow_up_sessions": report_count(len(cohort.follow_ups)),
           "n_skipped": report_count(len(cohort.skipped))}
    if missing == "impute":
        out["n_imputed"] = report_count(sum(1 for row in cohort.fields
                                            if any(not str(v).strip() for v in row.values())))
    return out


def _shown(value: Any) -> Any:
    if value is None:
        return "not reported"
    return _SHOWN_SUPPRESSED if int(value) == SUPPRESSED else int(value)


def card_entry(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Return a site's model-card entry from the metrics it sent with its final validation result.

    The shape is that of :func:`~sarcoma_xnat.fl.model_card.cohort_summary` (``subjects``,
    per endpoint ``events`` and ``median_follow_up_months_rounded_down``), with suppressed
    values as ``"<5"``, plus the QC and missing-value counts and the site's C-indices.
    """
    out: dict[str, Any] = {"subjects": _shown(metrics.get("n_subjects"))}
    for endpoint in ("os", "dm"):
        out[endpoint] = {"events": _shown(metrics.get(f"n_{endpoint}_events")),
                         "median_follow_up_months_rounded_down":
                             _shown(metrics.get(f"{endpoint}_median_follow_up_months"))}
    out["excluded_by_qc"] = _shown(metrics.get("n_excluded_qc"))
    out["follow_up_sessions_not_used"] = _shown(metrics.get("n_follow_up_sessions"))
    out["skipped_sessions"] = _shown(metrics.get("n_skipped"))
    if "n_imputed" in metrics:
        out["subjects_with_imputed_values"] = _shown(metrics["n_imputed"])
    out["final_validation"] = {k: float(v) for k, v in metrics.items() if k.startswith("c_index")}
    return out

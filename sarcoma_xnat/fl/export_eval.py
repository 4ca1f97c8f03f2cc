"""Evaluate an exported federated model for its card: server validation data, and a held-out test project.

``fl export`` fits the baselines and risk groups on the server's validation data, and
the gate accepted or rejected every update on the same data: C-indices there are
optimistic, and the card says so (:data:`~sarcoma_xnat.fl.model_card.VALIDATION_SOURCE`).
A project that no site trained on and the gate never saw (``--test-data``) gives the
card's test metrics and its plots (:data:`~sarcoma_xnat.fl.model_card.TEST_SOURCE`).
Both are :func:`~sarcoma_xnat.fl.workflow.evaluate_model` reports with the bootstrap
resampling whole subjects, as ``model train`` and ``model evaluate`` do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sarcoma_xnat.errors import ConfigurationError, InputDataError
from sarcoma_xnat.fl.site import SiteConfig

__all__ = ["ExportEvaluation", "check_test_data", "evaluate_export"]

log = logging.getLogger(__name__)


@dataclass
class ExportEvaluation:
    """The card's metrics (held-out test if given, else server validation) and every evaluation."""

    #: the report the card's ``metrics`` and plots come from (None: nothing could be evaluated)
    report: dict[str, Any] | None
    #: what ``report`` was computed on (a source label of the card)
    source: str | None
    #: per evaluation (``server_validation``, ``held_out_test``): label, project and report
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: counts of the held-out test cohort for the card's data section (None without one)
    test_summary: dict[str, Any] | None = None


def check_test_data(test: SiteConfig, server: SiteConfig, sites: Sequence[SiteConfig] = ()) -> None:
    """Refuse test data that the gate (the server's data) or a site trained on."""
    def same(a: SiteConfig) -> bool:
        return (a.project == test.project and
                (a.archive == test.archive or
                 ("xnat" not in (a.archive, test.archive)
                  and Path(a.archive).resolve() == Path(test.archive).resolve())))

    if same(server):
        raise ConfigurationError(f"--test-data {test.project} is the server's validation project: "
                                 "the gate saw it; give a project no site trained on",
                                 project=test.project)
    for site in sites:
        if same(site):
            raise ConfigurationError(f"--test-data {test.project} is site {site.site}'s training "
                                     "project; give a project no site trained on", project=test.project)


def _evaluate(trained: Any, cohort: Any, out_dir: Path | None, n_boot: int) -> dict[str, Any]:
    from sarcoma_xnat.fl.workflow import evaluate_model

    return evaluate_model(trained, cohort.data, out_dir, n_boot, seed=0,
                          groups=np.asarray(cohort.subjects))  # bootstrap by subject


def _load_test(test: SiteConfig, meta: dict[str, Any], strategy: str,
               fill: dict[str, Any] | None) -> Any:
    """Load the test project as the exported model sees it (its fill, its preprocessing)."""
    from sarcoma_xnat.fl.compatibility import check_model_fits, distinct_signatures
    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.fl.site import open_archive
    from sarcoma_xnat.models.missing import apply_missing_policy

    cohort = load_cohort(open_archive(test.archive), test.project, test.resource,
                         None if meta["mode"] == "clinical" else meta["image_size"],
                         missing=strategy)
    apply_missing_policy(cohort, strategy, np.arange(len(cohort.sessions)), fill=fill)
    for signature in distinct_signatures(cohort.preprocessing):
        check_model_fits(meta, data=signature, where=f"the exported model (test project {test.project})")
    return cohort


def evaluate_export(model: Any, meta: dict[str, Any], server: SiteConfig, server_cohort: Any,
                    out_dir: Path, test: SiteConfig | None = None,
                    strategy: str = "complete-case", fill: dict[str, Any] | None = None,
                    n_boot: int = 200) -> ExportEvaluation:
    """Evaluate the exported model on the server's data and, if given, on ``test``.

    The plots of the card's source (``test`` when given, else the server's data) and its
    full report (``metrics.json``) are written to ``out_dir``, beside the model. A server
    cohort that cannot be evaluated (no events of an endpoint) is recorded, not fatal;
    test data that cannot be is an error.
    """
    from sarcoma_xnat.fl.model_card import TEST_SOURCE, VALIDATION_SOURCE, cohort_summary
    from sarcoma_xnat.fl.workflow import TrainedModel

    trained = TrainedModel(model, meta)
    result = ExportEvaluation(None, None)
    try:
        report = _evaluate(trained, server_cohort, None if test else out_dir, n_boot)
        result.evaluations["server_validation"] = {"label": VALIDATION_SOURCE,
                                                   "project": server.project, "report": report}
        result.report, result.source = report, VALIDATION_SOURCE
    except InputDataError as exc:
        log.warning("server validation data not evaluated: %s", exc)
        result.evaluations["server_validation"] = {"label": VALIDATION_SOURCE,
                                                   "project": server.project,
                                                   "not_evaluated": str(exc)}
    if test is not None:
        cohort = _load_test(test, meta, strategy, fill)
        report = _evaluate(trained, cohort, out_dir, n_boot)
        result.evaluations["held_out_test"] = {"label": TEST_SOURCE, "project": test.project,
                                               "report": report}
        result.report, result.source = report, TEST_SOURCE
        result.test_summary = {"project": test.project,
                               **cohort_summary(cohort.data, meta["aggregation"]["grid_months"])}
    return result

"""Turn the federated run's global model into a ``model.pt`` that ``prognosis`` and ``model evaluate`` use.

NVFlare's persistor writes ``FL_global_model.pt`` (a bare state dict). The prognosis
step also needs the network's configuration, the Breslow baseline hazards and the
risk-group cut points. Those are estimated here on the server's own curated data
(the gate's validation project): the only data the coordinating centre holds, so no
site's data leaves the site for this either.

Under FedBN the sites keep their own batch-norm running statistics and never send them,
so the global model's statistics stay the persistor's initial ones (zero means, unit
variances), not ones the model was trained with. Before the baselines are fitted, the
exported model's batch-norm statistics are therefore re-estimated on the same server data
(:func:`reestimate_bn_statistics`) and the meta says so (``bn_statistics``).

The cohort rules and the missing-value policy are the study's (``model train``'s, applied
at every site and on the server's data). Each site imputed from its own subjects and kept
its fill values; the exported model's ``fill`` (used by ``prognosis`` and ``model
evaluate``) is fitted on the server's validation subjects, the coordinating centre's own
data. The model card lists each site's training data as the site reported it with its
final validation result: rounded, suppressed counts (:mod:`sarcoma_xnat.fl.site_summary`).

The card's metrics, with bootstrap intervals by subject, and its Kaplan–Meier and
calibration plots come from the server's validation data (labelled optimistic: the gate
chose updates on it) or, given ``test``, from a project no site trained on and the gate
never saw (:mod:`sarcoma_xnat.fl.export_eval`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sarcoma_xnat.errors import ModelError
from sarcoma_xnat.fl.site import SiteConfig
from sarcoma_xnat.fl.site_summary import REPORTING_RULE, card_entry

__all__ = ["export_global_model", "reestimate_bn_statistics"]


#: per-site card entries that belong to the cohort rules too
_RULE_COUNTS = ("excluded_by_qc", "follow_up_sessions_not_used", "skipped_sessions")


def _site_entries(gate_log: list[dict[str, Any]] | None,
                  site_reports: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Return each site's card entry (:func:`~sarcoma_xnat.fl.site_summary.card_entry`), by name."""
    names = {d["site"] for r in gate_log or [] for d in r["decisions"]} | set(site_reports or {})
    return {name: card_entry((site_reports or {}).get(name) or {}) for name in sorted(names)}


def _missing_record(strategy: str, server: dict[str, Any], project: str,
                    sites: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return the exported model's missing-value policy record (no site's fill values)."""
    record: dict[str, Any] = {"strategy": strategy, "rule": server.get("rule")}
    if strategy != "impute":
        return record
    record.update(fitted_on="each site: its own training subjects; the fill values stay at the "
                            "site and are not sent",
                  sites_subjects_with_imputed_values={
                      name: e.get("subjects_with_imputed_values", "not reported")
                      for name, e in sites.items()},
                  fill=server["fill"],
                  fill_used_by_this_model=f"fitted on the server's validation subjects (project "
                                          f"{project}); prognosis and model evaluate fill with it",
                  imputed_on_server=server["imputed"]["train"])
    return record


def _state_dict(model_file: Path) -> dict[str, Any]:
    """Return the weights in NVFlare's persisted global model (``{"model": state, ...}``)."""
    import torch

    try:
        payload = torch.load(model_file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for unreadable files
        raise ModelError(f"cannot read the federated global model: {exc}", file=str(model_file)) from exc
    state = payload.get("model", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict) or not state:
        raise ModelError("the federated global model holds no state dict", file=str(model_file))
    return state


def reestimate_bn_statistics(model: Any, data: Any, batch_size: int = 64) -> int:
    """Recompute ``model``'s batch-norm running statistics on ``data``; return how many layers.

    Forward passes with only the batch-norm layers in training mode (dropout off), their
    momentum set to None (a cumulative average over the batches) and no gradient: only
    ``running_mean``, ``running_var`` and ``num_batches_tracked`` change. Batches are of
    near-equal size (at most ``batch_size``). The model is left in evaluation mode.
    """
    import numpy as np
    import torch

    from sarcoma_xnat.models.training import model_inputs

    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return 0
    n = len(data)
    if n < 2:
        raise ModelError(f"need at least 2 subjects to re-estimate batch-norm statistics, got {n}")
    momenta = [m.momentum for m in layers]
    model.eval()
    try:
        for m in layers:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        with torch.no_grad():
            for idx in np.array_split(np.arange(n), -(-n // batch_size)):
                model(*model_inputs(model, data, idx))
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        model.eval()
    return len(layers)


def export_global_model(model_file: str | os.PathLike[str], network: dict[str, Any],
                        settings: dict[str, Any], server: SiteConfig,
                        out: str | os.PathLike[str],
                        gate_log: list[dict[str, Any]] | None = None,
                        site_reports: dict[str, dict[str, Any]] | None = None,
                        test: SiteConfig | None = None, n_boot: int = 200) -> Path:
    """Write ``out`` (the ``model train`` checkpoint format) from NVFlare's global model file.

    Parameters
    ----------
    model_file : path
        ``FL_global_model.pt`` written by the server's persistor.
    network : dict
        Constructor arguments of :class:`~sarcoma_xnat.models.networks.MultimodalSurvivalNet`.
    settings : dict
        The run's :class:`~sarcoma_xnat.fl.job.FLSettings` as a dict (kept in the meta).
    server : SiteConfig
        The server's curated data; the baselines and risk-group cuts are fitted on it.
    out : path
        Where to write ``model.pt``.
    gate_log : list of dict, optional
        The gate's per-round records; a summary goes into the meta.
    site_reports : dict, optional
        Each site's final validation result (``site_metrics_final.json``): its C-indices and
        its rounded training-data counts, written per site into the card.
    test : SiteConfig, optional
        A held-out project (no site trained on it, the gate never saw it): the card's test
        metrics and plots. Without it they come from ``server``'s data, labelled optimistic.
    n_boot : int
        Bootstrap resamples (of subjects) for the metrics' intervals.
    """
    import numpy as np

    from sarcoma_xnat.fl.checkpoint import save_checkpoint
    from sarcoma_xnat.fl.cohort_rules import cohort_rules
    from sarcoma_xnat.fl.compatibility import distinct_signatures
    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.fl.export_eval import check_test_data, evaluate_export
    from sarcoma_xnat.fl.model_card import cohort_summary, write_model_card
    from sarcoma_xnat.fl.site import open_archive
    from sarcoma_xnat.fl.workflow import fit_baselines
    from sarcoma_xnat.models.encoding import ENCODING_VERSION, FEATURE_NAMES
    from sarcoma_xnat.models.networks import MultimodalSurvivalNet
    from sarcoma_xnat.models.missing import apply_missing_policy
    from sarcoma_xnat.models.training import set_weights

    if test is not None:
        check_test_data(test, server)
    model = MultimodalSurvivalNet(**network)
    set_weights(model, _state_dict(Path(model_file)))
    image_size = int(settings.get("image_size", 32))
    strategy = str(settings.get("missing", "complete-case"))  # jobs before the policy: complete-case
    cohort = load_cohort(open_archive(server.archive), server.project, server.resource,
                         None if model.mode == "clinical" else image_size, missing=strategy)
    server_missing = apply_missing_policy(cohort, strategy, np.arange(len(cohort.sessions)))
    sites = _site_entries(gate_log, site_reports)
    bn_note = "as aggregated by the federation"
    if settings.get("fedbn") and reestimate_bn_statistics(model, cohort.data):
        bn_note = "re-estimated on server validation data (FedBN)"
    meta: dict[str, Any] = {
        "preset": settings.get("preset"), "mode": model.mode, "image_size": image_size,
        "encoding_version": ENCODING_VERSION, "feature_names": list(FEATURE_NAMES),
        "train_config": dict(settings), "federated": True,
        "baseline_data": {"project": server.project, "n": len(cohort.sessions)},
        "bn_statistics": bn_note,
        # the server's sessions stand for every site's: the study preprocesses alike
        "preprocessing": distinct_signatures(cohort.preprocessing),
        "missing_values": _missing_record(strategy, server_missing, server.project, sites),
        "cohort_rules": {**cohort_rules(cohort), "applied_at": "every site's training cohort and "
                         "the server's validation cohort (the counts above are the server's)",
                         "sites": {name: {k: e[k] for k in _RULE_COUNTS if k in e}
                                   for name, e in sites.items()}, "site_counts": REPORTING_RULE},
        **fit_baselines(model, cohort.data)}
    if gate_log is not None:
        meta["gate"] = [{"round": r["round"], "merged": r["merged"],
                         "accepted": [d["site"] for d in r["decisions"] if d["accepted"]],
                         "rejected": [d["site"] for d in r["decisions"] if not d["accepted"]],
                         "reasons": {d["site"]: d.get("reason", "") for d in r["decisions"]}}
                        for r in gate_log]
    model.eval()
    path = save_checkpoint(out, model, meta)
    grid = meta["aggregation"]["grid_months"]
    scores = {f"round_{r['round']}_validation_c_index": r["merged_score"] if r["merged"]
              else r["baseline"] for r in gate_log or []}
    found = evaluate_export(model, meta, server, cohort, path.parent, test, strategy,
                            server_missing.get("fill"), n_boot)
    data = {"federated": True, "sites": sorted(sites), "per_site": sites,
            "per_site_rule": REPORTING_RULE,
            "server_validation": {"project": server.project, **cohort_summary(cohort.data, grid)}}
    if found.test_summary is not None:
        data["held_out_test"] = found.test_summary
    write_model_card(path, meta, data, {**(found.report or {}), **scores}, found.evaluations,
                     found.source)
    return path

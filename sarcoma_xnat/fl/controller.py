"""``GatedFedAvg``: an NVFlare workflow that runs FedAvg rounds through the validation gate.

Each round the global model goes to the sites; every returned update passes
:class:`~sarcoma_xnat.fl.gate.ValidationGate`, scored on the server's own curated
validation project (its location from the server's site configuration, name
``server``), by default with a paired bootstrap of the validation subjects
(:class:`~sarcoma_xnat.fl.paired.PairedValidation`; ``gate_confidence`` 0: the fixed
tolerance ``max_drop``). Decisions are logged and written to ``gate_log.json`` in the run
folder after every round; each site receives its own decision with its next task
(:class:`~sarcoma_xnat.fl.decisions.GateDecisionFilter`), the last round's with a final
``validate`` task in which every site scores the final global model on its data. While
the job runs, the records are in the job's stats (NVFlare's ``show_stats``, FLARE API
``Session.show_stats(job_id, "server")``), group ``GatedFedAvg``.
A site that sends a difference (``ParamsType.DIFF``, with differential privacy on) has it
added back to the global model it was sent (:func:`full_weights`) before the gate sees it.
Under FedBN (``fedbn=True``) the sites keep their batch-norm statistics and send updates
without them; those keys, and only those, are filled from the current global model, so
the global model's batch-norm statistics stay the persistor's initial ones (the export
re-estimates them on the server's data). Without FedBN a missing key is rejected.
"""

from __future__ import annotations

import json
import os
from typing import Any

from nvflare.app_common.abstract.fl_model import FLModel, ParamsType
from nvflare.app_common.workflows.model_controller import ModelController

from sarcoma_xnat.fl.decisions import write_gate_log
from sarcoma_xnat.fl.gate import apply_diff, fill_local_keys

__all__ = ["STATS_GROUP", "GatedFedAvg", "full_weights"]

#: the group of the job's stats (``show_stats``) that holds the gate's records
STATS_GROUP = "GatedFedAvg"


def full_weights(global_params: dict[str, Any], result: FLModel,
                 local_keys: str | None = None) -> dict[str, Any]:
    """Return a site result's weights: its params, or the global model plus them if it sent a DIFF.

    Keys matching the regular expression ``local_keys`` (FedBN: ``BN_PATTERN``) that the
    site did not send are taken from ``global_params``
    (:func:`~sarcoma_xnat.fl.gate.fill_local_keys`); other missing keys stay missing, and
    the gate rejects the update.
    """
    params = result.params or {}
    if params and result.params_type == ParamsType.DIFF:
        params = apply_diff(global_params, params)
    return fill_local_keys(global_params, params, local_keys)


class GatedFedAvg(ModelController):
    """FedAvg with a Dafne-style validate-then-merge gate on the server.

    Parameters
    ----------
    network : dict
        Constructor arguments of :class:`~sarcoma_xnat.models.networks.MultimodalSurvivalNet`.
    num_clients, num_rounds : int
        Sites per round and rounds.
    merge_weight : float
        Weight of the incoming (averaged) update when merging into the global model.
    max_drop : float
        Largest tolerated drop of the server's validation C-index (OS).
    image_size : int
        Voxels per axis of the validation images.
    validation_site : str
        Name under which the server's data is configured.
    fedbn : bool
        The sites keep their batch-norm statistics (FedBN) and send updates without them;
        the global model's statistics are used in their place. Without it, an update
        lacking them is rejected like any other incomplete update.
    min_responses : int
        A round goes on with this many results (0: every site); the others are dropped
        from the round, so one slow, offline or refusing site does not stall the study.
    round_timeout : float
        Seconds a round waits for results (0: no limit); after it the round goes on with
        what arrived if that is at least ``min_responses``.
    resume : bool
        After every round the global model and the gate records go to the server's round
        checkpoint (``checkpoint_dir`` of its site configuration); with ``resume`` a job of
        the same name and network continues after the last checkpointed round
        (:mod:`sarcoma_xnat.fl.resume`), so a server restart loses at most one round.
    job_name : str
        Names the checkpoint.
    settings : dict, optional
        The run's settings, written to ``fl_settings.json`` beside the gate log.
    gate_confidence : float
        One-sided confidence of the gate's paired bootstrap (0: fixed tolerance ``max_drop``).
    gate_boot : int
        Bootstrap resamples of the validation subjects.
    """

    def __init__(self, network: dict, num_clients: int = 2, num_rounds: int = 2,
                 merge_weight: float = 0.5, max_drop: float = 0.02, image_size: int = 32,
                 validation_site: str = "server", persistor_id: str = "persistor",
                 task_name: str = "train", fedbn: bool = True, min_responses: int = 0,
                 round_timeout: float = 0.0, resume: bool = True, job_name: str = "",
                 settings: dict | None = None, gate_confidence: float = 0.95,
                 gate_boot: int = 1000) -> None:
        super().__init__(persistor_id=persistor_id)
        self.network = network
        self.num_clients = num_clients
        self.num_rounds = num_rounds
        self.merge_weight = merge_weight
        self.max_drop = max_drop
        self.image_size = image_size
        self.validation_site = validation_site
        self.task_name = task_name
        self.fedbn = fedbn  # attribute named as the argument: NVFlare's job export reads it back
        self.min_responses = min_responses
        self.round_timeout = round_timeout
        self.settings = settings  # the run's FLSettings, written for ``fl export``
        self.resume = resume
        self.job_name = job_name
        self.gate_confidence = gate_confidence
        self.gate_boot = gate_boot
        self._records: list[dict] = []
        self._round = -1

    def _scorer(self) -> Any:
        import numpy as np
        import torch

        from sarcoma_xnat.fl.dataset import load_cohort
        from sarcoma_xnat.fl.site import open_archive, site_config
        from sarcoma_xnat.models.missing import apply_missing_policy
        from sarcoma_xnat.models.metrics import harrell_c
        from sarcoma_xnat.models.networks import MultimodalSurvivalNet
        from sarcoma_xnat.models.training import predict, set_weights

        torch.set_num_threads(1)
        cfg = site_config(self.validation_site)
        model = MultimodalSurvivalNet(**self.network)
        size = None if model.mode == "clinical" else self.image_size
        # the study's missing-value policy; the server fills from its own validation subjects
        strategy = (self.settings or {}).get("missing", "complete-case")
        cohort = load_cohort(open_archive(cfg.archive), cfg.project, cfg.resource, size,
                             missing=strategy)
        apply_missing_policy(cohort, strategy, np.arange(len(cohort.sessions)))
        data = cohort.data
        self.info(f"validation gate: {len(cohort.sessions)} server validation sessions "
                  f"from project {cfg.project}")

        def risk(weights: Any) -> Any:
            set_weights(model, weights)
            return predict(model, data)[:, 0]

        if self.gate_confidence:
            from sarcoma_xnat.fl.paired import PairedValidation

            return PairedValidation(risk, data.os_time, data.os_event, n_boot=self.gate_boot,
                                    confidence=self.gate_confidence, seed=0)
        return lambda weights: harrell_c(data.os_time, data.os_event, risk(weights))

    def run(self) -> None:
        """Run the gated rounds."""
        from sarcoma_xnat.fl.gate import ValidationGate
        from sarcoma_xnat.models.training import BN_PATTERN

        local_keys = BN_PATTERN if self.fedbn else None
        gate = ValidationGate(self._scorer(), self.merge_weight, self.max_drop)
        self.info(f"validation gate: {gate.describe()}")
        model = self.load_model()
        model.start_round, model.total_rounds = 0, self.num_rounds
        with open(os.path.join(self.get_run_dir(), "fl_settings.json"), "w") as fh:
            json.dump({"network": self.network, "settings": self.settings or {}}, fh, indent=2)
        records: list[dict] = []
        checkpoint, start = self._checkpoint(), 0
        resumed = checkpoint.load() if checkpoint is not None and self.resume else None
        if resumed is not None and resumed.next_round >= self.num_rounds:
            self.info(f"the round checkpoint in {checkpoint.folder} is of a finished run "
                      f"({resumed.next_round} rounds): starting afresh at round 0")
            resumed = None
        if resumed is not None:
            start, records = resumed.next_round, resumed.records
            model = FLModel(params=resumed.params, params_type=model.params_type,
                            current_round=start - 1, total_rounds=self.num_rounds)
            self.info(f"resuming from the round checkpoint in {checkpoint.folder}: rounds "
                      f"0-{start - 1} done, continuing at round {start}")
            write_gate_log(self.get_run_dir(), records)  # round start's sites get their decisions
        self._records = records
        for round_ in range(start, self.num_rounds):
            self.info(f"Round {round_} started.")
            self._round = round_
            model.current_round = round_
            # NVFlare's ModelController: the round ends with min_responses results, or at the
            # timeout; results of sites that failed or refused are not among them
            results = self.send_model_and_wait(
                task_name=self.task_name, data=model, targets=self.sample_clients(self.num_clients),
                min_responses=self.min_responses or self.num_clients, timeout=int(self.round_timeout))
            results = [r for r in results if r.params or r.metrics]
            self.info(f"round {round_}: {len(results)} results from "
                      f"{sorted(r.meta.get('client_name', '?') for r in results)}")
            updates = [(r.meta.get("client_name", "?"), full_weights(model.params, r, local_keys),
                        float(r.meta.get("NUM_STEPS_CURRENT_ROUND", 1.0))) for r in results]
            new_params, record = gate.step(round_, model.params, updates)
            for d in record.decisions:
                verdict = "ACCEPTED" if d.accepted else "REJECTED"
                self.info(f"gate round {round_}: update from {d.site} {verdict}: {d.reason}")
            self.info(f"gate round {round_}: validation C-index {record.baseline:.4f} -> "
                      f"{record.merged_score if record.merged_score is not None else float('nan'):.4f}, "
                      f"merged={record.merged}, |change|={record.delta_norm:.4g}")
            site_metrics = {r.meta.get("client_name", "?"): r.metrics for r in results}
            records.append({**record.as_dict(), "site_metrics_on_received_model": site_metrics})
            write_gate_log(self.get_run_dir(), records)
            model = FLModel(params=new_params, params_type=model.params_type,
                            metrics={"c_index": record.merged_score if record.merged else record.baseline},
                            current_round=round_, total_rounds=self.num_rounds)
            self.save_model(model)
            if checkpoint is not None:
                checkpoint.save(round_, model.params, records)
        if self.num_rounds > start:
            self._final_validation(model)
        self.info("Finished gated FedAvg.")

    def _final_validation(self, model: FLModel) -> None:
        """Send the final model for the sites to score; the task carries the last round's decisions."""
        results = self.send_model_and_wait(
            task_name="validate", data=FLModel(params=model.params, params_type=model.params_type,
                                               current_round=model.current_round,
                                               total_rounds=self.num_rounds),
            targets=self.sample_clients(self.num_clients),
            min_responses=self.min_responses or self.num_clients, timeout=int(self.round_timeout))
        metrics = {r.meta.get("client_name", "?"): r.metrics for r in results if r.metrics}
        self.info(f"final global model on the sites' own data: {metrics}")
        with open(os.path.join(self.get_run_dir(), "site_metrics_final.json"), "w") as fh:
            json.dump(metrics, fh, indent=2, default=float)

    def handle_event(self, event_type: str, fl_ctx: Any) -> None:
        """Add the round and the gate's records to the job's stats (admin ``show_stats``)."""
        super().handle_event(event_type, fl_ctx)
        from nvflare.widgets.info_collector import InfoCollector

        if event_type == InfoCollector.EVENT_TYPE_GET_STATS:
            collector = fl_ctx.get_prop(InfoCollector.CTX_KEY_STATS_COLLECTOR, None)
            if collector is not None:
                gate = json.loads(json.dumps(self._records, default=float))
                collector.add_info(group_name=STATS_GROUP,
                                   info={"current_round": self._round, "num_rounds": self.num_rounds,
                                         "gate": gate})

    def _checkpoint(self) -> Any:
        """Return the server's :class:`~sarcoma_xnat.fl.resume.RoundCheckpoint`, or None without a folder."""
        from sarcoma_xnat.fl.resume import RoundCheckpoint
        from sarcoma_xnat.fl.site import site_config

        folder = site_config(self.validation_site).checkpoint_dir
        return RoundCheckpoint(folder, self.job_name or "job", self.network) if folder else None

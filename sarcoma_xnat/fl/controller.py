"""``GatedFedAvg``: an NVFlare workflow that runs FedAvg rounds through the validation gate.

Each round the global model goes to the sites; every returned update passes
:class:`~sarcoma_xnat.fl.gate.ValidationGate`, scored on the server's own curated
validation project (its location from the server's site configuration, name
``server``). Decisions are logged and appended to ``gate_log.json`` in the run folder.
"""

from __future__ import annotations

import json
import os
from typing import Any

from nvflare.app_common.abstract.fl_model import FLModel
from nvflare.app_common.workflows.model_controller import ModelController

__all__ = ["GatedFedAvg"]


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
    """

    def __init__(self, network: dict, num_clients: int = 2, num_rounds: int = 2,
                 merge_weight: float = 0.5, max_drop: float = 0.02, image_size: int = 32,
                 validation_site: str = "server", persistor_id: str = "persistor",
                 task_name: str = "train") -> None:
        super().__init__(persistor_id=persistor_id)
        self.network = network
        self.num_clients = num_clients
        self.num_rounds = num_rounds
        self.merge_weight = merge_weight
        self.max_drop = max_drop
        self.image_size = image_size
        self.validation_site = validation_site
        self.task_name = task_name

    def _scorer(self) -> Any:
        import torch

        from sarcoma_xnat.fl.dataset import load_cohort
        from sarcoma_xnat.fl.site import open_archive, site_config
        from sarcoma_xnat.models.metrics import harrell_c
        from sarcoma_xnat.models.networks import MultimodalSurvivalNet
        from sarcoma_xnat.models.training import predict, set_weights

        torch.set_num_threads(1)
        cfg = site_config(self.validation_site)
        model = MultimodalSurvivalNet(**self.network)
        size = None if model.mode == "clinical" else self.image_size
        cohort = load_cohort(open_archive(cfg.archive), cfg.project, cfg.resource, size)
        data = cohort.data
        self.info(f"validation gate: {len(cohort.sessions)} server validation sessions "
                  f"from project {cfg.project}")

        def score(weights: Any) -> float:
            set_weights(model, weights)
            return harrell_c(data.os_time, data.os_event, predict(model, data)[:, 0])

        return score

    def run(self) -> None:
        """Run the gated rounds."""
        from sarcoma_xnat.fl.gate import ValidationGate

        gate = ValidationGate(self._scorer(), self.merge_weight, self.max_drop)
        model = self.load_model()
        model.start_round, model.total_rounds = 0, self.num_rounds
        log_path = os.path.join(self.get_run_dir(), "gate_log.json")
        records: list[dict] = []
        for round_ in range(self.num_rounds):
            self.info(f"Round {round_} started.")
            model.current_round = round_
            results = self.send_model_and_wait(task_name=self.task_name, data=model,
                                               targets=self.sample_clients(self.num_clients))
            updates = [(r.meta.get("client_name", "?"), r.params or {},
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
            with open(log_path, "w") as fh:
                json.dump(records, fh, indent=2, default=float)
            model = FLModel(params=new_params, params_type=model.params_type,
                            metrics={"c_index": record.merged_score if record.merged else record.baseline},
                            current_round=round_, total_rounds=self.num_rounds)
            self.save_model(model)
        self.info("Finished gated FedAvg.")

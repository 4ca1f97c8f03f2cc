"""The federated job: a recipe that runs the same in the simulator, POC mode and production.

Server: :class:`~sarcoma_xnat.fl.controller.GatedFedAvg` with a PyTorch persistor.
Clients: :mod:`sarcoma_xnat.fl.flare_client` under NVFlare's ``ClientAPIExecutor``. The job
holds training settings only; each site reads its data location from its own
configuration (:mod:`sarcoma_xnat.fl.site`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nvflare.app_common.executors.client_api_executor import ClientAPIExecutor
from nvflare.job_config.base_fed_job import BaseFedJob
from nvflare.recipe.spec import Recipe

__all__ = ["FLSettings", "SurvivalFedRecipe"]

#: the client script; its file name must be unique among the modules NVFlare copies into the
#: job's ``custom/`` folder, because the client finds the script there by that name
CLIENT_SCRIPT = Path(__file__).with_name("flare_client.py")


@dataclass
class FLSettings:
    """Settings of a federated run (no data locations, no credentials)."""

    name: str = "sarcoma-survival"
    num_clients: int = 2
    num_rounds: int = 2
    mode: str = "multimodal"
    preset: str = "tiny"
    clinical_hidden: int = 32
    image_size: int = 32
    local_epochs: int = 1
    batch_size: int = 16
    lr: float = 1e-3
    blend: bool = True
    fedbn: bool = False
    dp_clip: float = 0.0
    dp_noise: float = 0.0
    merge_weight: float = 0.5
    max_drop: float = 0.02
    threads: int = 1

    def network_args(self) -> dict[str, Any]:
        """Return the full constructor arguments of the network."""
        from sarcoma_xnat.models.networks import build_network

        return build_network(self.preset, mode=self.mode,
                             clinical_hidden=self.clinical_hidden).config()

    def client_args(self) -> str:
        """Return the client script's command-line arguments."""
        args = ["--preset", self.preset, "--mode", self.mode,
                "--clinical-hidden", str(self.clinical_hidden),
                "--image-size", str(self.image_size), "--local-epochs", str(self.local_epochs),
                "--batch-size", str(self.batch_size), "--lr", str(self.lr),
                "--threads", str(self.threads)]
        if not self.blend:
            args.append("--no-blend")
        if self.fedbn:
            args.append("--fedbn")
        if self.dp_clip > 0:
            args += ["--dp-clip", str(self.dp_clip), "--dp-noise", str(self.dp_noise)]
        return " ".join(args)  # NVFlare splits script arguments on whitespace

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a dict."""
        return asdict(self)


class SurvivalFedRecipe(Recipe):
    """NVFlare recipe for the gated federated survival model; ``execute`` it in any env."""

    def __init__(self, settings: FLSettings) -> None:
        from nvflare.app_opt.pt.job_config.model import PTModel

        from sarcoma_xnat.fl.controller import GatedFedAvg
        from sarcoma_xnat.models.networks import MultimodalSurvivalNet

        self.settings = settings
        network = settings.network_args()
        job = BaseFedJob(name=settings.name, min_clients=settings.num_clients,
                         key_metric="c_index", key_metric_mode="max")
        job.to_server(PTModel(model=MultimodalSurvivalNet(**network)), id="persistor")
        job.to_server(GatedFedAvg(network=network, num_clients=settings.num_clients,
                                  num_rounds=settings.num_rounds, merge_weight=settings.merge_weight,
                                  max_drop=settings.max_drop, image_size=settings.image_size))
        # The script is shipped in custom/ and named by its file name: NVFlare's ScriptRunner
        # writes an absolute path into the client config, which exists only where the job was
        # built; where under custom/ the copy lands depends on the submitter's sys.path.
        job.to_clients(ClientAPIExecutor(execution_mode="in_process", task_script_path=CLIENT_SCRIPT.name,
                                         task_script_args=settings.client_args(),
                                         params_exchange_format="numpy"), tasks=["*"])
        job.to_clients(str(CLIENT_SCRIPT))
        Recipe.__init__(self, job)

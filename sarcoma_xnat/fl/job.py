"""The federated job: a recipe that runs the same in the simulator, POC mode and production.

Server: :class:`~sarcoma_xnat.fl.controller.GatedFedAvg` with a PyTorch persistor.
Clients: :mod:`sarcoma_xnat.fl.client` under NVFlare's ``ClientAPIExecutor``. The job
holds training settings only; each site reads its data location from its own
configuration (:mod:`sarcoma_xnat.fl.site`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nvflare.job_config.base_fed_job import BaseFedJob
from nvflare.job_config.script_runner import FrameworkType, ScriptRunner
from nvflare.recipe.spec import Recipe

__all__ = ["FLSettings", "SurvivalFedRecipe"]

CLIENT_SCRIPT = Path(__file__).with_name("client.py")


@dataclass
class FLSettings:
    """Settings of a federated run (no data locations, no credentials)."""

    name: str = "sarcoma-survival"
    num_clients: int = 2
    num_rounds: int = 2
    mode: str = "multimodal"
    preset: str = "tiny"
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

        return build_network(self.preset, mode=self.mode).config()

    def client_args(self) -> str:
        """Return the client script's command-line arguments."""
        args = ["--preset", self.preset, "--mode", self.mode,
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
        job.to_clients(ScriptRunner(script=str(CLIENT_SCRIPT), script_args=settings.client_args(),
                                    framework=FrameworkType.NUMPY))
        Recipe.__init__(self, job)

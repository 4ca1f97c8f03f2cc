"""The federated job: a recipe that runs the same in the simulator, POC mode and production.

Server: :class:`~sarcoma_xnat.fl.controller.GatedFedAvg` with a PyTorch persistor.
Clients: :mod:`sarcoma_xnat.fl.flare_client` under NVFlare's ``ClientAPIExecutor``. The job
holds training settings only; each site reads its data location from its own
configuration (:mod:`sarcoma_xnat.fl.site`). With ``dp_clip > 0`` every client's task
results pass :class:`~sarcoma_xnat.fl.privacy.GaussianDPFilter` (an NVFlare task-result
filter) and the client sends the difference to the received model for it to clip.
Every client's last task-result filter is the outbound gate
(:class:`~sarcoma_xnat.fl.outbound.OutboundGate`). With ``fedbn`` (the default) the sites keep their batch-norm statistics (they never send them) and the
server fills them from the global model (:class:`~sarcoma_xnat.fl.controller.GatedFedAvg`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nvflare.app_common.app_constant import AppConstants
from nvflare.app_common.executors.client_api_executor import ClientAPIExecutor
from nvflare.job_config.base_fed_job import BaseFedJob
from nvflare.job_config.defs import FilterType
from nvflare.recipe.spec import Recipe

from sarcoma_xnat.errors import ConfigurationError

__all__ = ["FLSettings", "SurvivalFedRecipe"]

#: the client script; its file name must be unique among the modules NVFlare copies into the
#: job's ``custom/`` folder, because the client finds the script there by that name
CLIENT_SCRIPT = Path(__file__).with_name("flare_client.py")
#: the tasks a client can be given (ClientAPIExecutor's defaults); the DP filter covers them all
#: the package every participant has installed; NVFlare must not copy it into the job
APP_PACKAGE = "sarcoma_xnat"
CLIENT_TASKS = (AppConstants.TASK_TRAIN, AppConstants.TASK_VALIDATION, AppConstants.TASK_SUBMIT_MODEL)


@dataclass
class FLSettings:
    """Settings of a federated run (no data locations, no credentials).

    ``dp_clip > 0`` turns on the differential-privacy task-result filter (update L2 norm
    clipped to ``dp_clip``, Gaussian noise of std ``dp_noise · dp_clip``; no privacy
    accounting); ``dp_noise`` without ``dp_clip`` is a configuration error. ``blend``
    turns on gradient blending in local training (off by default, as in ``model train``);
    ``fedbn`` (on by default) keeps batch-norm statistics at the sites: their running
    means and variances are functions of the site's cohort (with one batch per round the
    exact cohort means of all clinical features can be solved from one update).
    ``initial_model`` (a ``model.pt`` or ``FL_global_model.pt`` on the submitting machine)
    is the starting global model instead of a random one; with ``resume`` (the default)
    a job whose server restarted continues from its last round checkpoint
    (:mod:`sarcoma_xnat.fl.resume`).
    """

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
    blend: bool = False
    fedbn: bool = True
    dp_clip: float = 0.0
    dp_noise: float = 0.0
    merge_weight: float = 0.5
    max_drop: float = 0.02
    threads: int = 1
    min_responses: int = 0
    round_timeout: float = 0.0
    initial_model: str = ""
    resume: bool = True
    #: one-sided confidence of the gate's paired bootstrap (0: fixed tolerance max_drop)
    gate_confidence: float = 0.95
    gate_boot: int = 1000
    #: missing clinical values at every site (and the server): impute from that participant's
    #: own subjects (the values stay there) or complete-case, as ``model train --missing``
    missing: str = "impute"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~sarcoma_xnat.errors.ConfigurationError` for inconsistent DP settings."""
        if self.dp_clip < 0 or self.dp_noise < 0:
            raise ConfigurationError(f"--dp-clip and --dp-noise must be >= 0, "
                                     f"got {self.dp_clip} and {self.dp_noise}")
        if self.dp_noise > 0 and self.dp_clip <= 0:
            raise ConfigurationError("--dp-noise needs --dp-clip: the noise is scaled to the clip norm")
        if self.gate_confidence and not 0.5 <= self.gate_confidence < 1.0:
            raise ConfigurationError(f"--gate-confidence must be 0 (fixed tolerance) or in "
                                     f"[0.5, 1), got {self.gate_confidence}")
        if self.missing not in ("impute", "complete-case"):
            raise ConfigurationError(f"--missing must be impute or complete-case, got {self.missing!r}")
        if self.gate_boot < 100:
            raise ConfigurationError(f"--gate-boot must be at least 100, got {self.gate_boot}")

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
                "--threads", str(self.threads), "--missing", self.missing]
        if self.blend:
            args.append("--blend")
        if not self.fedbn:  # the client keeps batch-norm statistics local unless told
            args.append("--no-fedbn")
        if self.dp_clip > 0:  # the DP filter clips a difference; its settings stay in the filter
            args.append("--send-diff")
        return " ".join(args)  # NVFlare splits script arguments on whitespace

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a dict."""
        return asdict(self)


class SurvivalFedRecipe(Recipe):
    """NVFlare recipe for the gated federated survival model; ``execute`` it in any env."""

    def __init__(self, settings: FLSettings) -> None:
        from nvflare.app_opt.pt.job_config.model import PTModel

        from sarcoma_xnat.fl.controller import GatedFedAvg
        from sarcoma_xnat.fl.decisions import GateDecisionFilter, GateDecisionLog
        from sarcoma_xnat.fl.outbound import OutboundGate
        from sarcoma_xnat.fl.privacy import GaussianDPFilter
        from sarcoma_xnat.models.networks import MultimodalSurvivalNet

        settings.validate()
        self.settings = settings
        network = settings.network_args()
        job = BaseFedJob(name=settings.name,
                         min_clients=min(settings.min_responses or settings.num_clients,
                                         settings.num_clients),
                         key_metric="c_index", key_metric_mode="max")
        # Every participant runs the installed sarcoma_xnat (same version): without this
        # NVFlare copies the package modules the client script imports into custom/ without
        # their __init__ files, and that partial namespace copy shadows an editable install.
        job.set_app_packages([APP_PACKAGE])
        initial = None
        if settings.initial_model:
            import tempfile

            from sarcoma_xnat.fl.resume import initial_model_file

            # shipped in the server app's custom/; the persistor resolves a relative
            # initial_ckpt there (nvflare/app_opt/pt/file_model_persistor.py)
            self._initial_dir = tempfile.TemporaryDirectory(prefix="sarcoma-initial-")
            initial = initial_model_file(settings.initial_model, network, self._initial_dir.name)
            job.to_server(str(initial))
        job.to_server(PTModel(model=MultimodalSurvivalNet(**network),
                              initial_ckpt=initial.name if initial else None), id="persistor")
        controller = GatedFedAvg(network=network, num_clients=settings.num_clients,
                                 num_rounds=settings.num_rounds, merge_weight=settings.merge_weight,
                                 max_drop=settings.max_drop, image_size=settings.image_size,
                                 fedbn=settings.fedbn, min_responses=settings.min_responses,
                                 round_timeout=settings.round_timeout, resume=settings.resume,
                                 job_name=settings.name, settings=settings.to_dict(),
                                 gate_confidence=settings.gate_confidence,
                                 gate_boot=settings.gate_boot)
        job.to_server(controller)
        # The script is shipped in custom/ and named by its file name: NVFlare's ScriptRunner
        # writes an absolute path into the client config, which exists only where the job was
        # built; where under custom/ the copy lands depends on the submitter's sys.path.
        job.to_clients(ClientAPIExecutor(execution_mode="in_process", task_script_path=CLIENT_SCRIPT.name,
                                         task_script_args=settings.client_args(),
                                         params_exchange_format="numpy"), tasks=["*"])
        job.to_clients(str(CLIENT_SCRIPT))
        # task names, not "*": NVFlare 2.9 matches filter chains by exact task name only
        tasks = [controller.task_name, *(t for t in CLIENT_TASKS if t != controller.task_name)]
        if settings.dp_clip > 0:
            job.to_clients(GaussianDPFilter(clip=settings.dp_clip, noise_multiplier=settings.dp_noise),
                           filter_type=FilterType.TASK_RESULT, tasks=tasks)
        # each site gets the gate's decision on its own last update with its next task, and
        # logs it (sarcoma_xnat.fl.decisions)
        job.to_server(GateDecisionFilter(), filter_type=FilterType.TASK_DATA, tasks=tasks)
        job.to_clients(GateDecisionLog(), filter_type=FilterType.TASK_DATA, tasks=tasks)
        # last in the chain: it sees exactly what leaves the site
        job.to_clients(OutboundGate(network=network, fedbn=settings.fedbn),
                       filter_type=FilterType.TASK_RESULT, tasks=tasks)
        Recipe.__init__(self, job)

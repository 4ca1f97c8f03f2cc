"""Run the federated job in NVFlare's simulator or POC mode and collect what it produced."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sarcoma_xnat.errors import ModelError
from sarcoma_xnat.fl.job import FLSettings, SurvivalFedRecipe
from sarcoma_xnat.fl.site import ENV_CONFIG, SERVER_SITE, SiteConfig, write_site_config

__all__ = ["FLResult", "collect", "keep_logs", "run_poc", "simulate"]

log = logging.getLogger(__name__)


@dataclass
class FLResult:
    """The gate log, the final global model file, the server log and the exported ``model.pt``."""

    workspace: Path
    gate_log: list[dict[str, Any]]
    model_file: Path | None
    server_log: Path | None
    checkpoint: Path | None = None
    #: each site's final validation result (C-indices, rounded training-data counts), by site
    site_reports: dict[str, dict[str, Any]] | None = None


def collect(root: Path) -> FLResult:
    """Find ``gate_log.json``, ``FL_global_model.pt`` and the server ``log.txt`` under ``root``."""
    logs = sorted(root.rglob("gate_log.json"))
    if not logs:
        raise ModelError(f"the federated run left no gate_log.json under {root}; see the site logs",
                         file=str(root))
    models = sorted(root.rglob("FL_global_model.pt"))
    server_logs = [p for p in root.rglob("log.txt") if "server" in p.parts]
    finals = sorted(root.rglob("site_metrics_final.json"))  # written by the controller
    return FLResult(root, json.loads(logs[-1].read_text()), models[-1] if models else None,
                    server_logs[0] if server_logs else None,
                    site_reports=json.loads(finals[-1].read_text()) if finals else None)


def _export(result: FLResult, settings: FLSettings, server: SiteConfig, out: Path,
            test: SiteConfig | None = None) -> FLResult:
    """Write ``out`` (``model.pt`` for ``prognosis``) from the run's global model (``test``: held out)."""
    from sarcoma_xnat.fl.export import export_global_model

    if result.model_file is None:
        raise ModelError(f"the federated run left no FL_global_model.pt under {result.workspace}",
                         file=str(result.workspace))
    result.checkpoint = export_global_model(result.model_file, settings.network_args(),
                                            settings.to_dict(), server, out, result.gate_log,
                                            result.site_reports, test)
    return result


def _absolute(site: SiteConfig, name: str | None = None) -> SiteConfig:
    """Return ``site`` with an absolute archive folder (the sites' processes run elsewhere)."""
    archive = site.archive if site.archive == "xnat" else str(Path(site.archive).resolve())
    return replace(site, site=name or site.site, archive=archive)


def _site_file(workspace: Path, sites: list[SiteConfig], server: SiteConfig) -> Path:
    server = _absolute(server, SERVER_SITE)
    if server.checkpoint_dir is None:  # a rerun in the same workspace resumes from here
        server = replace(server, checkpoint_dir=str(workspace / "round-checkpoints"))
    return write_site_config(workspace / "site-config.json",
                             [*(_absolute(s) for s in sites), server])


#: file names of NVFlare's logs (per participant and per job) kept after a POC run
_LOG_NAMES = ("log.txt", "error_log.txt", "log.json", "log_error.txt", "log_fl.txt")


def keep_logs(source: Path, dest: Path) -> Path:
    """Copy every NVFlare log file under ``source`` to ``dest`` (same relative paths); return ``dest``.

    POC mode's workspace (startup kits, job folders) is deleted after a run; the logs an
    error message points to must survive it.
    """
    source, dest = Path(source), Path(dest)
    shutil.rmtree(dest, ignore_errors=True)
    if source.is_dir():
        for path in source.rglob("*"):
            if path.is_file() and path.name in _LOG_NAMES:
                target = dest / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    return dest


def _check_status(job: str, status: str | None, logs: str, where: Path) -> None:
    """Raise :class:`ModelError` when a job's final status says it failed (exception or abort)."""
    status = str(status or "")
    if "EXCEPTION" in status or "ABORT" in status:
        raise ModelError(f"{job} ended with status {status}; {logs}", file=str(where))


def _check_test(test: SiteConfig | None, sites: list[SiteConfig], server: SiteConfig) -> None:
    """Refuse (before any round) test data that a site or the gate uses."""
    from sarcoma_xnat.fl.export_eval import check_test_data

    if test is not None:
        check_test_data(_absolute(test), _absolute(server), [_absolute(s) for s in sites])


def simulate(settings: FLSettings, sites: list[SiteConfig], server: SiteConfig,
             workspace: Path, test: SiteConfig | None = None) -> FLResult:
    """Run ``settings`` in NVFlare's in-process simulator with one client per site config.

    ``test`` (a project no site trains on) gives the exported model card's test metrics.
    """
    from nvflare.recipe.sim_env import SimEnv

    _check_test(test, sites, server)

    workspace = Path(workspace).resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    settings.num_clients = len(sites)
    os.environ[ENV_CONFIG] = str(_site_file(workspace, sites, server))
    recipe = SurvivalFedRecipe(settings)
    env = SimEnv(clients=[s.site for s in sites], num_threads=len(sites),
                 workspace_root=str(workspace / "simulation"))
    run_dir = workspace / "simulation" / settings.name
    try:
        run = recipe.execute(env)
    except RuntimeError:
        # SimEnv has no job status (get_status() is None): a failed job (a site or the
        # server raised, the run was aborted) shows only as a non-zero return code of the
        # simulator, which SimEnv raises as RuntimeError
        if not getattr(env, "last_run_failed", False):
            raise
        run, status = None, "EXCEPTION (non-zero simulator return code)"
    if run is not None:
        run.get_result()
        status = run.get_status()
    _check_status("the simulated federated job", status,
                  f"the server log is {run_dir / 'server' / 'log.txt'}, each site's log "
                  f"<site>/log.txt and <site>/error_log.txt under {run_dir}", run_dir)
    return _export(collect(run_dir), settings, server, workspace / "model.pt", test)


def run_poc(settings: FLSettings, sites: list[SiteConfig], server: SiteConfig, workspace: Path,
            timeout: float = 900.0, test: SiteConfig | None = None) -> FLResult:
    """Run ``settings`` in NVFlare POC mode: a server and one client process per site, on loopback."""
    from nvflare.recipe.poc_env import PocEnv

    _check_test(test, sites, server)

    workspace = Path(workspace).resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    settings.num_clients = len(sites)
    os.environ[ENV_CONFIG] = str(_site_file(workspace, sites, server))
    poc_root, logs = workspace / "poc", workspace / "logs"
    os.environ["NVFLARE_POC_WORKSPACE"] = str(poc_root)
    # the kits' start scripts run "python3": this interpreter's, also when not activated
    bindir = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join(p for p in (bindir, os.environ.get("PATH")) if p)
    recipe = SurvivalFedRecipe(settings)
    env = PocEnv(num_clients=len(sites), clients=[s.site for s in sites])
    where = (f"the logs are kept in {logs}: the server's {logs / 'server' / 'log.txt'}, "
             + ", ".join(f"{s.site}'s {logs / s.site / 'log.txt'}" for s in sites))
    try:
        run = recipe.execute(env)
        result_dir = run.get_result(timeout=timeout, clean_up=False)
        if not result_dir:
            raise ModelError(f"POC job did not finish within {timeout:.0f} s "
                             f"(status {run.get_status()}); {where}", file=str(logs))
        keep = workspace / "result"
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(result_dir, keep)
        _check_status("the POC job", run.get_status(), where, logs)
        return _export(collect(keep), settings, server, workspace / "model.pt", test)
    finally:
        try:
            env.stop(clean_up=False)  # stop the processes; the workspace goes after its logs
        except Exception as exc:  # stopping POC must not hide the run's own error
            log.warning("stopping POC failed: %s", exc)
        keep_logs(_poc_prod_dir(poc_root), logs)
        shutil.rmtree(poc_root, ignore_errors=True)


def _poc_prod_dir(poc_root: Path) -> Path:
    """Return the folder of the POC participants (``<poc>/<project>/prod_00``), or ``poc_root``."""
    prods = sorted(Path(poc_root).glob("*/prod_*"))
    return prods[-1] if prods else Path(poc_root)

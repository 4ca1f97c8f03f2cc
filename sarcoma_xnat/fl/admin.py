"""Operate a provisioned study with an admin startup kit: submit the job, follow it, export its model.

Uses NVFlare's FLARE API (``nvflare.fuel.flare_api.flare_api.new_secure_session``:
the admin kit's certificate and key, mutual TLS to the server's single port), as
NVFlare's ``ProdEnv``/``SessionManager`` do. The admin's user name is the kit folder's
name (how ``nvflare provision`` names admin kits) unless given.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from sarcoma_xnat.errors import ConfigurationError, ModelError

__all__ = ["check_kit_permissions", "export_job", "job_status", "open_session", "secure_kit",
           "submit_job"]

log = logging.getLogger(__name__)

#: the run settings the server writes beside ``gate_log.json`` (see the controller)
SETTINGS_FILE = "fl_settings.json"


def secure_kit(kit: Path) -> None:
    """Make a kit folder 0700 and every private key (``*.key``) and ``state/`` file 0600."""
    kit = Path(kit)
    for path in [kit, *kit.rglob("*")]:
        if path.is_dir():
            path.chmod(0o700)
        elif path.suffix == ".key" or "state" in path.relative_to(kit).parts[:-1]:
            path.chmod(0o600)


def check_kit_permissions(kit: Path) -> list[str]:
    """Return (and log as warnings) what in ``kit`` others on this machine can read."""
    kit, found = Path(kit), []
    for path in [kit, *kit.rglob("*")]:
        mode = path.stat().st_mode
        secret = path.is_dir() or path.suffix == ".key"
        if secret and mode & (stat.S_IRWXG | stat.S_IRWXO):
            found.append(f"{path} is mode {stat.filemode(mode)}: readable by others on this machine "
                         f"(chmod {'700' if path.is_dir() else '600'} {path})")
    for line in found[:5]:
        log.warning("startup kit: %s", line)
    return found


def _username(kit: Path, username: str | None) -> str:
    if username:
        return username
    if not (kit / "startup" / "fed_admin.json").is_file():
        raise ConfigurationError(f"{kit} is not an NVFlare admin startup kit: startup/fed_admin.json "
                                 "is missing", file=str(kit))
    return kit.name


def open_session(kit: Path, username: str | None = None, timeout: float = 30.0) -> Any:
    """Return a logged-in FLARE API session for the admin kit ``kit``."""
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    kit = Path(kit).resolve()
    user = _username(kit, username)
    check_kit_permissions(kit)
    try:
        return new_secure_session(user, str(kit), timeout=timeout)
    except Exception as exc:  # NVFlare raises several types for a server it cannot reach
        raise ModelError(f"cannot log in to the FL server with the admin kit {kit} as {user}: {exc}",
                         file=str(kit)) from exc


def submit_job(kit: Path, settings: Any, username: str | None = None) -> str:
    """Export the gated job for ``settings`` and submit it with the admin kit; return the job id."""
    from sarcoma_xnat.fl.job import SurvivalFedRecipe

    recipe = SurvivalFedRecipe(settings)
    with tempfile.TemporaryDirectory() as tmp:
        recipe.export(tmp)
        job_dir = next(p for p in Path(tmp).iterdir() if (p / "meta.json").is_file())
        session = open_session(kit, username)
        try:
            return str(session.submit_job(str(job_dir)))
        finally:
            session.close()


def _stats_gate(stats: Any) -> dict[str, Any] | None:
    """Return the controller's stats group (round, gate records) from ``show_stats``' reply."""
    from sarcoma_xnat.fl.controller import STATS_GROUP

    if isinstance(stats, dict):
        if STATS_GROUP in stats and isinstance(stats[STATS_GROUP], dict):
            return stats[STATS_GROUP]
        for value in stats.values():
            found = _stats_gate(value)
            if found is not None:
                return found
    return None


def job_status(kit: Path, job_id: str | None = None, username: str | None = None) -> dict[str, Any]:
    """Return the jobs, the connected sites (with their last contact) and the job's gate decisions.

    A finished job's decisions come from its result (``gate_log.json``); a running job's
    from its stats (the FLARE API's ``show_stats(job_id, "server")``, which the server job
    answers with :class:`~sarcoma_xnat.fl.controller.GatedFedAvg`'s records so far).
    """
    session = open_session(kit, username)
    try:
        jobs = session.list_jobs()
        clients = [{"name": c.name, "last_contact": getattr(c, "last_connect_time", None)}
                   for c in session.get_connected_client_list()]
        out: dict[str, Any] = {"jobs": [{k: j.get(k) for k in ("job_id", "name", "status", "submit_time")}
                                        for j in jobs], "sites": clients}
        if job_id:
            meta = session.get_job_meta(job_id)
            out["job"] = {"job_id": job_id, "status": meta.get("status")}
            if str(meta.get("status", "")).startswith("FINISHED"):
                with tempfile.TemporaryDirectory() as tmp:
                    result = Path(session.download_job_result(job_id, tmp))
                    logs = sorted(result.rglob("gate_log.json"))
                    out["gate"] = json.loads(logs[-1].read_text()) if logs else []
            elif str(meta.get("status", "")) == "RUNNING":
                try:
                    live = _stats_gate(session.show_stats(job_id, "server"))
                except Exception as exc:  # the job process may be starting or ending
                    log.warning("no stats from the server for running job %s: %s", job_id, exc)
                    live = None
                if live is not None:
                    out["gate"] = live.get("gate", [])
                    out["job"]["current_round"] = live.get("current_round")
        return out
    finally:
        session.close()


def export_job(kit: Path, job_id: str, server: Any, out: Path, username: str | None = None,
               timeout: float = 0.0, test: Any = None) -> Path:
    """Wait for ``job_id`` (``timeout`` 0: no limit), download its result, write ``model.pt``.

    The baselines and risk groups are fitted on ``server`` (the coordinating centre's
    curated data), as for a simulator run (:func:`~sarcoma_xnat.fl.export.export_global_model`);
    ``test`` (a project no site trained on) gives the card's test metrics and plots.
    """
    from sarcoma_xnat.fl.export import export_global_model
    from sarcoma_xnat.fl.runner import collect

    session = open_session(kit, username)
    started = time.time()
    try:
        while True:
            status = str(session.get_job_meta(job_id).get("status", ""))
            if status.startswith("FINISHED"):
                break
            if timeout and time.time() - started > timeout:
                raise ModelError(f"job {job_id} is still {status} after {timeout:.0f} s")
            time.sleep(2.0)
        if status != "FINISHED:COMPLETED":
            raise ModelError(f"job {job_id} ended with status {status}; see the server's log")
        dest = Path(out).resolve().parent / f".{job_id}-result"
        dest.mkdir(parents=True, exist_ok=True)
        os.chmod(dest, 0o700)
        result = Path(session.download_job_result(job_id, str(dest)))
    finally:
        session.close()
    run = collect(result)
    files = sorted(result.rglob(SETTINGS_FILE))
    if run.model_file is None or not files:
        raise ModelError(f"job {job_id}'s result has no FL_global_model.pt or {SETTINGS_FILE}",
                         file=str(result))
    settings = json.loads(files[-1].read_text())
    return export_global_model(run.model_file, settings["network"], settings["settings"], server,
                               out, run.gate_log, run.site_reports, test)

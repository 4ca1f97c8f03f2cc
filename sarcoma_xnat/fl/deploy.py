"""Start a provisioned NVFlare client or server from its startup kit, with the site's data configured.

A real deployment (see ``terraform/modules/nvflare_*``) runs ``sarcoma-xnat fl client``
or ``sarcoma-xnat fl server`` as a service. This module checks the startup kit, writes
the site's data location (never credentials) to ``<kit>/local/`` :data:`SITE_FILE`, and
returns the kit's own ``startup/sub_start.sh`` (NVFlare's supervising loop, which also
honours the admin's restart/shutdown) with an environment in which

* ``python3`` is this interpreter (the kit's scripts call ``python3``),
* the installed ``sarcoma_xnat`` is on ``PYTHONPATH`` (NVFlare copies some of its modules
  into each job's ``custom/`` folder without the ``__init__`` files; the complete package
  must win over that partial copy, also for an editable install), and
* :data:`~sarcoma_xnat.fl.site.ENV_CONFIG` points at the written file, so the client
  script (and the server's validation gate) find their data through :mod:`.site`.

XNAT credentials stay in ``XNAT_HOST``/``XNAT_USER``/``XNAT_PASS`` (or ``~/.netrc``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import sarcoma_xnat
from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.fl.site import ENV_ARCHIVE, ENV_CONFIG, ENV_PROJECT, SERVER_SITE

__all__ = ["SITE_FILE", "Launch", "kit_name", "package_pythonpath", "prepare_client", "prepare_server"]

SITE_FILE = "sarcoma_xnat_site.json"
_ROLE_FILES = {"client": ("fed_client.json", "client.key"), "server": ("fed_server.json", "server.key")}


@dataclass
class Launch:
    """What to execute to start NVFlare from a kit: command, environment, written data config."""

    command: list[str]
    env: dict[str, str] = field(repr=False)
    site_file: Path | None
    name: str

    def exec(self) -> None:
        """Replace this process with the kit's start script (for a service manager)."""
        os.execvpe(self.command[0], self.command, self.env)


def _check_kit(kit: Path, role: str) -> Path:
    """Return the kit's ``startup/sub_start.sh`` after checking the kit is a ``role`` kit."""
    kit = Path(kit)
    if not kit.is_dir():
        raise ConfigurationError(f"startup kit folder {kit} does not exist", file=str(kit))
    nested = [p for p in kit.iterdir() if (p / "startup").is_dir()] if not (kit / "startup").is_dir() else []
    if len(nested) == 1:
        raise ConfigurationError(f"{kit} holds a kit in {nested[0].name}/; pass --kit {nested[0]}",
                                 file=str(kit))
    missing = [n for n in ("sub_start.sh", *_ROLE_FILES[role]) if not (kit / "startup" / n).is_file()]
    if missing:
        other = "server" if role == "client" else "client"
        hint = (f" (this looks like a {other} kit)"
                if (kit / "startup" / _ROLE_FILES[other][0]).is_file() else "")
        raise ConfigurationError(f"{kit} is not an NVFlare {role} startup kit: startup/ lacks "
                                 f"{', '.join(missing)}{hint}", file=str(kit))
    return kit / "startup" / "sub_start.sh"


def kit_name(kit: Path) -> str | None:
    """Return the participant name a client kit was provisioned for (``uid=`` in sub_start.sh)."""
    text = (Path(kit) / "startup" / "sub_start.sh").read_text(errors="replace")
    match = re.search(r"\buid=(\S+)", text)
    return match.group(1).strip("\"'") if match else None


def _check_data(archive: str) -> None:
    if archive == "xnat":
        if not os.environ.get("XNAT_HOST") and not (Path.home() / ".netrc").is_file():
            raise ConfigurationError("reading from XNAT needs XNAT_HOST, XNAT_USER and XNAT_PASS in the "
                                     "environment (or ~/.netrc); none is set")
    elif not Path(archive).is_dir():
        raise ConfigurationError(f"local archive folder {archive} does not exist", file=archive)


def _write_site_file(kit: Path, archive: str, project: str, resource: str,
                     role: str = "client", device: str = "auto") -> Path:
    """Write the data location (no credentials) to ``<kit>/local/`` :data:`SITE_FILE`, mode 0600."""
    path = kit / "local" / SITE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    archive = archive if archive == "xnat" else str(Path(archive).resolve())
    tmp = path.with_name(f".{SITE_FILE}.tmp")
    data = {"archive": archive, "project": project, "resource": resource}
    if role == "client":
        data["device"] = device
    if role == "server":  # the round checkpoints a restarted job resumes from (fl.resume)
        data["checkpoint_dir"] = str(kit / "local" / "round-checkpoints")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.chmod(0o600)
    os.replace(tmp, path)
    return path


def package_pythonpath(current: str | None) -> str:
    """Return ``PYTHONPATH`` with the installed ``sarcoma_xnat``'s folder first.

    NVFlare copies some package modules into each job's ``custom/`` folder without
    their ``__init__`` files; with this folder on the path the complete package wins
    over that partial copy, also for an editable install.
    """
    root = str(Path(sarcoma_xnat.__file__).resolve().parent.parent)
    return os.pathsep.join(p for p in (root, current) if p)


def _environment(site_file: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    bindir = Path(sys.executable).parent
    if not (bindir / "python3").exists():
        raise ConfigurationError(f"the kit's scripts run 'python3', but {bindir} has none beside "
                                 f"{sys.executable}; run sarcoma-xnat from a virtual environment")
    env["PATH"] = os.pathsep.join([str(bindir), env.get("PATH", "")])
    env["PYTHONPATH"] = package_pythonpath(env.get("PYTHONPATH"))
    if site_file is not None:
        env[ENV_CONFIG] = str(site_file)
    return env


def prepare_client(kit: Path, site: str, project: str, archive: str = "xnat",
                   resource: str = "PREPROCESSED", device: str = "auto") -> Launch:
    """Check a client kit for ``site``, write its data location and return how to start it.

    ``device`` (auto, cpu, cuda) is where the site trains; it is checked here and written
    to the site file, so ``cuda`` without a GPU fails before the client starts.
    """
    from sarcoma_xnat.models.device import resolve_device

    resolve_device(device)
    kit = Path(kit).resolve()
    script = _check_kit(kit, "client")
    name = kit_name(kit)
    if name is not None and name != site:
        raise ConfigurationError(f"the startup kit in {kit} was provisioned for site {name!r}, "
                                 f"not {site!r}", file=str(kit))
    if not project:
        raise ConfigurationError("give the XNAT project (or local archive project) with --project")
    _check_data(archive)
    site_file = _write_site_file(kit, archive, project, resource, device=device)
    return Launch(["bash", str(script)], _environment(site_file), site_file, site)


def prepare_server(kit: Path, archive: str | None = None, project: str | None = None,
                   resource: str = "PREPROCESSED") -> Launch:
    """Check a server kit, write (or find) the gate's validation data location, return how to start it."""
    kit = Path(kit).resolve()
    script = _check_kit(kit, "server")
    site_file: Path | None = kit / "local" / SITE_FILE
    if archive or project:
        if not (archive and project):
            raise ConfigurationError("give both --archive and --project for the server's validation data")
        _check_data(archive)
        site_file = _write_site_file(kit, archive, project, resource, role="server")
    elif not site_file.is_file():
        if os.environ.get(ENV_CONFIG) or (os.environ.get(ENV_ARCHIVE) and os.environ.get(ENV_PROJECT)):
            site_file = None  # the environment already says where the data is
        else:
            raise ConfigurationError(
                f"the validation gate needs the server's curated data: pass --archive and --project, "
                f"or write {site_file} ({{\"archive\": ..., \"project\": ...}}), or set {ENV_CONFIG} "
                f"or {ENV_ARCHIVE} and {ENV_PROJECT}", file=str(site_file))
    return Launch(["bash", str(script)], _environment(site_file), site_file, SERVER_SITE)

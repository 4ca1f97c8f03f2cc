"""A site's local configuration: which archive and project its FL client (or the server) reads.

Nothing about data locations or credentials travels in an NVFlare job. Each site
says where its data is, in this order:

1. ``SARCOMA_XNAT_FL_SITE_CONFIG``: a JSON file, either one site's settings or a
   mapping ``{site name: settings}`` (one file for a simulator or POC run);
2. ``SARCOMA_XNAT_FL_ARCHIVE`` and ``SARCOMA_XNAT_FL_PROJECT`` in the environment.

Settings: ``archive`` (a local archive folder, or ``"xnat"`` to use XNAT with
``XNAT_HOST``/``XNAT_USER``/``XNAT_PASS`` or ``~/.netrc``), ``project``, optionally
``resource`` (default ``PREPROCESSED``). The server's validation data uses the site
name ``server``; its ``checkpoint_dir`` is where the per-round checkpoints go
(:mod:`sarcoma_xnat.fl.resume`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.errors import ConfigurationError

__all__ = ["ENV_ARCHIVE", "ENV_CONFIG", "ENV_PROJECT", "SERVER_SITE", "SiteConfig", "open_archive",
           "site_config", "write_site_config"]

ENV_CONFIG = "SARCOMA_XNAT_FL_SITE_CONFIG"
ENV_ARCHIVE = "SARCOMA_XNAT_FL_ARCHIVE"
ENV_PROJECT = "SARCOMA_XNAT_FL_PROJECT"
SERVER_SITE = "server"


@dataclass(frozen=True)
class SiteConfig:
    """Where one site's curated data lives."""

    site: str
    archive: str
    project: str
    resource: str = "PREPROCESSED"
    #: for testing the server's gate only: "nan" or "flip" corrupts what this site sends
    debug_poison: str | None = None
    #: server only: folder of the per-round checkpoints a restarted job resumes from
    checkpoint_dir: str | None = None
    #: where this site's client trains: auto, cpu or cuda (sarcoma_xnat.models.device)
    device: str = "auto"


def site_config(site: str) -> SiteConfig:
    """Return the configuration of ``site`` from its file or environment (see module docs)."""
    path = os.environ.get(ENV_CONFIG)
    if path:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigurationError(f"cannot read site configuration {path}: {exc}",
                                     file=path) from exc
        if "archive" not in data:
            if site not in data:
                raise ConfigurationError(f"site configuration has no entry for {site!r} "
                                         f"(entries: {sorted(data)})", file=path)
            data = data[site]
        try:
            return SiteConfig(site=site, archive=str(data["archive"]), project=str(data["project"]),
                              resource=str(data.get("resource", "PREPROCESSED")),
                              debug_poison=data.get("debug_poison"),
                              checkpoint_dir=data.get("checkpoint_dir"),
                              device=str(data.get("device", "auto")))
        except KeyError as exc:
            raise ConfigurationError(f"site {site!r} configuration lacks {exc}", file=path) from None
    archive, project = os.environ.get(ENV_ARCHIVE), os.environ.get(ENV_PROJECT)
    if not (archive and project):
        raise ConfigurationError(f"site {site!r} does not know where its data is: set {ENV_CONFIG} "
                                 f"or both {ENV_ARCHIVE} and {ENV_PROJECT}")
    return SiteConfig(site=site, archive=archive, project=project)


def open_archive(spec: str) -> Archive:
    """Open a local archive folder, or XNAT when ``spec`` is ``"xnat"``."""
    if spec == "xnat":
        from sarcoma_xnat.archive.xnat import XnatArchive
        from sarcoma_xnat.xnat.client import connect

        return XnatArchive(connect())
    from sarcoma_xnat.archive.local import LocalArchive

    if not Path(spec).is_dir():
        raise ConfigurationError(f"local archive folder {spec} does not exist", file=spec)
    return LocalArchive(spec)


def write_site_config(path: str | os.PathLike[str], sites: list[SiteConfig]) -> Path:
    """Write one JSON file holding several sites' settings (for simulator and POC runs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {s.site: {k: v for k, v in asdict(s).items() if k != "site" and v is not None}
            for s in sites}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path

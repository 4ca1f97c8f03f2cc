"""Startup kits for a real deployment: a study project file and ``nvflare provision``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sarcoma_xnat.errors import ConfigurationError, ModelError

__all__ = ["provision", "sample_project", "write_sample_project"]


def _org(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


#: the communication scheme the study requires (NVFlare 2.7+ provisions http by default)
SCHEME = "grpc"


def sample_project(server: str, sites: list[str], project: str = "sarcoma-ai", port: int = 8002) -> str:
    """Return an NVFlare ``project.yml`` (api_version 3) for a server and hospital sites.

    Each hospital is its own organisation, so the default authorisation lets its
    org admin manage only its own site; the study lead may submit jobs (with custom
    code, ``byoc``) everywhere. Every connection is gRPC (:data:`SCHEME`) over mutual TLS
    (``connection_security: mtls``) on the server's single port ``port``. The root CA and
    the certificates are valid 360 days (NVFlare's ``CertBuilder`` default); renew by
    provisioning again and replacing every kit before they expire.
    """
    if not sites:
        raise ConfigurationError("a project needs at least one client site")
    lines = [
        "api_version: 3",
        f"name: {project}",
        "description: Multi-site soft-tissue-sarcoma survival model (sarcoma-xnat)",
        "",
        "participants:",
        f"  - name: {server}",
        "    type: server",
        "    org: coordinating_centre",
        f"    fed_learn_port: {port}",
        "    connection_security: mtls",
    ]
    for site in sites:
        lines += [f"  - name: {site}", "    type: client", f"    org: {_org(site)}"]
    lines += [
        "  - name: admin@coordinating-centre.org",
        "    type: admin",
        "    org: coordinating_centre",
        "    role: project_admin",
        "  - name: lead@coordinating-centre.org",
        "    type: admin",
        "    org: coordinating_centre",
        "    role: lead",
    ]
    for site in sites:
        lines += [f"  - name: admin@{site}.org", "    type: admin", f"    org: {_org(site)}",
                  "    role: org_admin"]
    lines += [
        "",
        "builders:",
        "  - path: nvflare.lighter.impl.workspace.WorkspaceBuilder",
        "    args:",
        "      template_file:",
        "        - master_template.yml",
        "  - path: nvflare.lighter.impl.static_file.StaticFileBuilder",
        "    args:",
        "      config_folder: config",
        f"      scheme: {SCHEME}",
        "  - path: nvflare.lighter.impl.cert.CertBuilder",
        "  - path: nvflare.lighter.impl.signature.SignatureBuilder",
        "",
    ]
    return "\n".join(lines)


def write_sample_project(path: Path, server: str, sites: list[str], port: int = 8002) -> Path:
    """Write :func:`sample_project` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sample_project(server, sites, port=port))
    return path


def provision(project_file: Path, workspace: Path) -> list[Path]:
    """Run ``nvflare provision`` and return the startup-kit folders it wrote."""
    project_file, workspace = Path(project_file).resolve(), Path(workspace).resolve()
    if not project_file.is_file():
        raise ConfigurationError(f"project file not found: {project_file}", file=str(project_file))
    workspace.mkdir(parents=True, exist_ok=True)
    nvflare = Path(sys.executable).with_name("nvflare")
    cmd = [str(nvflare) if nvflare.exists() else "nvflare", "provision", "-p", str(project_file),
           "-w", str(workspace)]
    proc = subprocess.run(cmd, cwd=workspace, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ModelError(f"nvflare provision failed ({proc.returncode}): "
                         f"{(proc.stderr or proc.stdout)[-800:]}", file=str(project_file))
    prods = sorted(workspace.glob("*/prod_*"))
    if not prods:
        raise ModelError(f"nvflare provision wrote no prod_NN folder under {workspace}")
    from sarcoma_xnat.fl.admin import secure_kit

    kits = sorted(p for p in prods[-1].iterdir() if (p / "startup").is_dir())
    for kit in kits:  # private keys 0600, kit folders 0700
        secure_kit(kit)
    return kits

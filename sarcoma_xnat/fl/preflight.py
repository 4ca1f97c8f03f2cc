"""``fl client --check``: can this site's FL client run? NVFlare's preflight checks plus the suite's.

Checks, each with what is wrong and how to fix it:

* **startup kit**: a client kit provisioned for this site (:mod:`sarcoma_xnat.fl.deploy`);
* **NVFlare**: the rules of NVFlare's own ``nvflare preflight_check`` for a client kit
  (``nvflare/tool/package_checker/client_package_checker.py``: the FL server is reachable
  over the kit's scheme). Its dry run (starting the client) is left out: ``fl client``
  starts the client, and NVFlare ends a dry run with ``pkill -f``;
* **XNAT**: the reader account logs in (``XNAT_HOST``/``XNAT_USER``/``XNAT_PASS`` or
  ``~/.netrc``), or the local archive folder exists;
* **project**: the curated project is readable and has sessions with the preprocess resource;
* **disk**: free space where the client writes (the kit) and where it stages data (temp);
* **device**: the ``--device`` asked for is usable (:func:`~sarcoma_xnat.models.device.resolve_device`).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sarcoma_xnat.errors import SarcomaXnatError

__all__ = ["Check", "archive_checks", "client_checks", "device_check", "disk_check", "format_checks",
           "nvflare_checks"]

#: how many sessions the project check looks at for the preprocess resource
_SAMPLE = 20


@dataclass
class Check:
    """One check's outcome: passed or not, what was found, how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def nvflare_checks(kit: Path) -> list[Check]:
    """Run the rules of NVFlare's client preflight check on ``kit`` (no dry run)."""
    from nvflare.tool.package_checker import ClientPackageChecker
    from nvflare.tool.package_checker.check_rule import CHECK_PASSED

    checker = ClientPackageChecker()
    checker.init(package_path=str(kit))
    out = []
    for rule in checker.rules:
        rules = rule if isinstance(rule, list) else [rule]
        for r in rules:
            try:
                result = r(str(kit), data=None)
            except Exception as exc:  # NVFlare's rules raise on malformed kits
                out.append(Check(f"NVFlare: {r.name}", False, f"{type(exc).__name__}: {exc}",
                                 "re-provision the kit"))
                break
            ok = result.problem == CHECK_PASSED
            out.append(Check(f"NVFlare: {r.name}", ok, "passed" if ok else result.problem,
                             "" if ok else f"{result.solution} (is the FL server running and "
                                           "its port open from this site?)"))
    return out


def archive_checks(archive: str, project: str, resource: str) -> list[Check]:
    """Check the data source (XNAT login or local folder) and that ``project`` is readable and curated."""
    from sarcoma_xnat.archive.refs import ObjectRef
    from sarcoma_xnat.fl.site import open_archive

    where = "XNAT" if archive == "xnat" else f"archive {archive}"
    try:
        opened = open_archive(archive)
        if archive == "xnat":
            user = getattr(opened.client, "user", None) or "?"
            login = Check("XNAT: reader account", True, f"logged in to {opened.client.url} as {user}")
        else:
            login = Check("archive folder", True, f"{archive} exists")
    except SarcomaXnatError as exc:
        fix = ("set XNAT_HOST, XNAT_USER and XNAT_PASS (the site's reader account) or ~/.netrc"
               if archive == "xnat" else "give --archive the local archive folder")
        return [Check("XNAT: reader account" if archive == "xnat" else "archive folder", False,
                      str(exc), fix)]
    try:
        sessions = [s for subj in opened.children(ObjectRef(project), "subject")
                    for s in opened.children(subj.ref, "session")]
    except SarcomaXnatError as exc:
        return [login, Check("project", False, f"project {project} is not readable in {where}: {exc}",
                             "check the project ID and that the reader account is a member of it")]
    if not sessions:
        return [login, Check("project", False, f"project {project} has no sessions",
                             "curate the project (ingest, preprocess) first")]
    sample = sessions[:_SAMPLE]
    curated = sum(1 for s in sample if any(r.label == resource for r in opened.resources(s.ref)))
    ok = curated > 0
    return [login, Check("project", ok,
                         f"project {project}: {len(sessions)} sessions; {curated} of the first "
                         f"{len(sample)} have a {resource} resource",
                         "" if ok else f"run preprocess on the project's sessions (resource {resource})")]


def disk_check(paths: list[Path], min_free_gb: float) -> Check:
    """Check that each of ``paths`` has at least ``min_free_gb`` GiB free."""
    short = []
    for path in paths:
        free = shutil.disk_usage(path).free / 2**30
        short += [f"{path}: {free:.1f} GiB free"] if free < min_free_gb else []
    if short:
        return Check("disk", False, "; ".join(short), f"free space (at least {min_free_gb:g} GiB each)")
    return Check("disk", True, f"at least {min_free_gb:g} GiB free in {', '.join(map(str, paths))}")


def device_check(spec: str) -> Check:
    """Check that ``--device spec`` is usable."""
    from sarcoma_xnat.models.device import describe_device, resolve_device

    try:
        return Check("device", True, describe_device(resolve_device(spec)))
    except SarcomaXnatError as exc:
        return Check("device", False, str(exc), "use --device auto or cpu, or fix the GPU driver")


def client_checks(kit: Path, site: str, project: str, archive: str = "xnat",
                  resource: str = "PREPROCESSED", device: str = "auto",
                  min_free_gb: float = 2.0) -> list[Check]:
    """Run every check of ``fl client --check``; a broken kit stops the NVFlare check only."""
    from sarcoma_xnat.fl.deploy import _check_kit, kit_name

    checks = []
    try:
        _check_kit(Path(kit), "client")
        name = kit_name(Path(kit))
        ok = name in (None, site)
        checks.append(Check("startup kit", ok, f"client kit for {name or site}",
                            "" if ok else f"use the kit provisioned for {site}"))
    except SarcomaXnatError as exc:
        checks.append(Check("startup kit", False, str(exc), "pass --kit the site's startup kit folder"))
    if checks[-1].ok:
        checks += nvflare_checks(Path(kit))
    checks += archive_checks(archive, project, resource)
    disk_paths = [Path(kit)] if Path(kit).is_dir() else []
    checks.append(disk_check([*disk_paths, Path(tempfile.gettempdir())], min_free_gb))
    checks.append(device_check(device))
    return checks


def format_checks(checks: list[Check]) -> str:
    """Return the checks as lines: ``ok``/``FAIL``, name, what was found, and the fix."""
    lines = []
    for c in checks:
        lines.append(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"      fix: {c.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append("all checks passed" if not failed else f"{failed} check(s) failed")
    return "\n".join(lines)

"""deid.json passes --jobs and --site-config; its '(site configuration)' wrappers mount DEID_SITE.

A wrapper input that feeds a mount must resolve, or the launch fails (container-service
``CommandResolutionServiceImpl.getXnatModelObjectForMounting`` reads its first value),
so the resource is required by the wrappers that mount it, and the other wrappers
mount nothing at ``/site`` (``resolveOutputMount``: an empty build folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.containers.command import load_command
from sarcoma_xnat.containers.resolve import resolve
from sarcoma_xnat.containers.validate import command_errors
from sarcoma_xnat.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
COMMAND = load_command(ROOT / "xnat-commands" / "deid.json")
LINE = "sarcoma-xnat deid import --input /input --project STUDY "


def _with_site_resource(archive: Any, project: str, tmp_path: Path) -> None:
    folder = tmp_path / "deid-site"
    folder.mkdir()
    (folder / "deid-site.toml").write_text('[review]\nby = "PACS team"\ndate = "2026-01-05"\n')
    archive.store_resource(ObjectRef(project), "DEID_SITE", folder)


def test_the_command_is_valid() -> None:
    assert command_errors(COMMAND) == []


@pytest.mark.parametrize("wrapper, scan", [("sarcoma-deid-session-site", None),
                                           ("sarcoma-deid-scan-site", "2")])
def test_site_wrappers_mount_the_project_resource(small_cohort: Any, tmp_path: Path,
                                                  wrapper: str, scan: str | None) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    _with_site_resource(archive, session.project, tmp_path)
    target = (session.child(scan=scan) if scan else session).uri
    resolved = resolve(COMMAND, archive, target, wrapper, {"study_project": "STUDY"})
    assert resolved.command_line == LINE + " --jobs 4 --site-config /site"
    mounts = {m.name: m for m in resolved.mounts}
    assert mounts["site"].path == "/site" and not mounts["site"].writable
    assert mounts["site"].source.type == "Resource"
    assert mounts["site"].source.data["label"] == "DEID_SITE"
    assert mounts["site"].source.ref == ObjectRef(session.project)
    assert mounts["in"].source.type == ("Resource" if scan else "Session")


def test_a_site_wrapper_without_the_resource_does_not_resolve(small_cohort: Any) -> None:
    archive, manifest = small_cohort
    with pytest.raises(ConfigurationError, match="'site-config'.*DEID_SITE"):
        resolve(COMMAND, archive, manifest.sessions[0].uri, "sarcoma-deid-session-site",
                {"study_project": "STUDY"})


def test_plain_wrappers_mount_nothing_at_site_and_take_jobs_and_a_path(small_cohort: Any) -> None:
    archive, manifest = small_cohort
    resolved = resolve(COMMAND, archive, manifest.sessions[0].uri, "sarcoma-deid-session",
                       {"study_project": "STUDY", "jobs": "2",
                        "site_config": "/etc/sarcoma-xnat/deid-site.toml"})
    assert resolved.command_line == (LINE + " --jobs 2 --site-config "
                                     "/etc/sarcoma-xnat/deid-site.toml")
    assert {m.name: m.source for m in resolved.mounts}["site"] is None
    every_core = resolve(COMMAND, archive, manifest.sessions[0].uri, "sarcoma-deid-session",
                         {"study_project": "STUDY", "jobs": ""})
    assert "--jobs" not in every_core.command_line

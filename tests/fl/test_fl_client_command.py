"""The project-level ``fl-client`` Container Service command (issue 16), resolved and run by the
local runner (in-process engine) on a real provisioned client kit stored as project resource FL_KIT.

``--dry-run`` stops before NVFlare starts: the test checks what a launch from XNAT does up
to there — the read-only kit mount is copied into a private folder (0700, files 0600) and
the data location is written into that copy, never into the archive.
"""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef

pytest.importorskip("nvflare")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client_kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sarcoma_xnat.fl.provision import provision, write_sample_project

    root = tmp_path_factory.mktemp("kits")
    project = write_sample_project(root / "project.yml", "fl.example.org", ["site-1"])
    return {p.name: p for p in provision(project, root / "ws")}["site-1"]


def test_fl_client_command_runs_the_site_client_from_a_private_copy_of_the_kit(
        client_kit: Path, tmp_path: Path) -> None:
    from sarcoma_xnat.containers.command import load_command
    from sarcoma_xnat.containers.engines import InProcessEngine
    from sarcoma_xnat.containers.runner import run_command
    from sarcoma_xnat.containers.validate import check_command
    from sarcoma_xnat.fl.deploy import SITE_FILE

    archive = LocalArchive(tmp_path / "archive")
    archive.create(ObjectRef("SITEA"), "xnat:projectData")
    archive.store_resource(ObjectRef("SITEA"), "FL_KIT", client_kit)
    stored = archive.resource_path(ObjectRef("SITEA"), "FL_KIT")
    for path in stored.rglob("*"):  # as archive files usually are: readable by others
        path.chmod(0o755 if path.is_dir() else 0o644)
    command = check_command(load_command(ROOT / "xnat-commands" / "fl-client.json"))
    result = run_command(command, archive, "/archive/projects/SITEA", "sarcoma-fl-client-project",
                         {"site": "site-1", "device": "cpu", "dry_run": "true"}, InProcessEngine(),
                         {"XNAT_HOST": "https://xnat.example.org", "XNAT_USER": "reader",
                          "XNAT_PASS": "s3cret-pass"})
    line = result.resolved.command_line
    assert line.startswith("sarcoma-xnat fl client --kit /kit --private-copy --site site-1 "
                           "--project SITEA --archive xnat --device cpu")
    assert "--dry-run" in line and "--check" not in line
    assert result.exit_code == 0, "\n".join(result.log)
    copied = next(re.search(r"kit copied to (\S+)", l) for l in result.log if "kit copied to" in l)
    kit = Path(copied.group(1))
    assert (kit / "startup" / "client.key").read_bytes() == (client_kit / "startup" / "client.key").read_bytes()
    for path in [kit.parent, kit, *kit.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
    assert stat.S_IMODE((kit / "startup" / "client.key").stat().st_mode) == 0o600
    assert (kit / "local" / SITE_FILE).is_file()  # the data location went into the copy ...
    assert not (stored / "local" / SITE_FILE).exists()  # ... not into the archive's FL_KIT
    assert "s3cret-pass" not in (kit / "local" / SITE_FILE).read_text()
    shutil.rmtree(kit.parent)  # in a container the copy goes with the container

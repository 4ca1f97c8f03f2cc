"""``sarcoma-xnat fl client|server``: kit checks and the data configuration, on real provisioned kits.

Nothing is started: the final ``exec`` of the kit's start script is intercepted.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from sarcoma_xnat.errors import ConfigurationError

pytest.importorskip("nvflare")


@pytest.fixture(scope="module")
def kits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Startup kits from ``nvflare provision``: a server and two client sites."""
    from sarcoma_xnat.fl.provision import provision, write_sample_project

    root = tmp_path_factory.mktemp("kits")
    project = write_sample_project(root / "project.yml", "fl.example.org", ["site-1", "site-2"])
    return {p.name: p for p in provision(project, root / "ws")}


@pytest.fixture()
def xnat_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XNAT_HOST", "https://xnat.example.org")
    monkeypatch.setenv("XNAT_USER", "reader")
    monkeypatch.setenv("XNAT_PASS", "s3cret-pass")


def test_client_writes_data_location_and_execs_the_kit(kits: dict[str, Path], xnat_env: None,
                                                       monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from sarcoma_xnat.cli import main
    from sarcoma_xnat.fl import deploy
    from sarcoma_xnat.fl.site import ENV_CONFIG, site_config

    calls = []
    monkeypatch.setattr(deploy.os, "execvpe", lambda *a: calls.append(a))
    kit = kits["site-1"]
    assert main(["fl", "client", "--kit", str(kit), "--site", "site-1", "--project", "SARC01"]) == 0
    written = kit / "local" / deploy.SITE_FILE
    data = json.loads(written.read_text())
    assert data == {"archive": "xnat", "project": "SARC01", "resource": "PREPROCESSED",
                    "device": "auto"}
    assert "s3cret-pass" not in written.read_text()  # credentials stay in the environment
    assert written.stat().st_mode & 0o077 == 0
    (program, argv, env), = calls
    assert program == "bash" and argv == ["bash", str(kit.resolve() / "startup" / "sub_start.sh")]
    assert env[ENV_CONFIG] == str(written.resolve())
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    import sarcoma_xnat

    package_root = Path(sarcoma_xnat.__file__).resolve().parent.parent
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(package_root)
    assert env["XNAT_PASS"] == "s3cret-pass"
    assert "sub_start.sh" in capsys.readouterr().out
    monkeypatch.setenv(ENV_CONFIG, env[ENV_CONFIG])  # what the client script will see
    cfg = site_config("site-1")
    assert (cfg.archive, cfg.project, cfg.resource) == ("xnat", "SARC01", "PREPROCESSED")


def test_client_refuses_wrong_kits_and_missing_credentials(kits: dict[str, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from sarcoma_xnat.cli import main
    from sarcoma_xnat.fl.deploy import prepare_client

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    for var in ("XNAT_HOST", "XNAT_USER", "XNAT_PASS"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigurationError, match="XNAT_HOST"):
        prepare_client(kits["site-2"], "site-2", "SARC02")
    with pytest.raises(ConfigurationError, match="provisioned for site 'site-1', not 'site-2'"):
        prepare_client(kits["site-1"], "site-2", "SARC02", archive=str(tmp_path))
    with pytest.raises(ConfigurationError, match="looks like a server kit"):
        prepare_client(kits["fl.example.org"], "site-1", "SARC01", archive=str(tmp_path))
    with pytest.raises(ConfigurationError, match="does not exist"):
        prepare_client(tmp_path / "nope", "site-1", "SARC01", archive=str(tmp_path))
    with pytest.raises(ConfigurationError, match="local archive folder .* does not exist"):
        prepare_client(kits["site-2"], "site-2", "SARC02", archive=str(tmp_path / "missing"))
    assert not (kits["site-2"] / "local" / "sarcoma_xnat_site.json").exists()
    assert main(["fl", "client", "--kit", str(tmp_path / "nope"), "--site", "site-1",
                 "--project", "P", "--dry-run"]) != 0


def test_server_needs_validation_data(kits: dict[str, Path], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from sarcoma_xnat.cli import main
    from sarcoma_xnat.fl.deploy import SITE_FILE, prepare_server
    from sarcoma_xnat.fl.site import ENV_ARCHIVE, ENV_CONFIG, ENV_PROJECT

    for var in (ENV_CONFIG, ENV_ARCHIVE, ENV_PROJECT):
        monkeypatch.delenv(var, raising=False)
    kit = kits["fl.example.org"]
    with pytest.raises(ConfigurationError, match="validation gate needs the server's curated data"):
        prepare_server(kit)
    with pytest.raises(ConfigurationError, match="not an NVFlare server startup kit"):
        prepare_server(kits["site-1"], str(tmp_path), "VALID")
    archive = tmp_path / "archive"
    archive.mkdir()
    assert main(["fl", "server", "--kit", str(kit), "--archive", str(archive), "--project", "VALID",
                 "--dry-run"]) == 0
    assert json.loads((kit / "local" / SITE_FILE).read_text())["archive"] == str(archive.resolve())
    assert "server: data location" in capsys.readouterr().out
    launch = prepare_server(kit)  # the file written before is found again
    assert launch.env[ENV_CONFIG] == str((kit / "local" / SITE_FILE).resolve())

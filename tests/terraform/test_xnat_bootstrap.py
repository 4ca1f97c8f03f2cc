"""The XNAT host's configure step, as rendered into user-data, run twice against the XNAT emulator.

The script is taken from the user-data that Terraform renders (``templatefile``, through a
throw-away root module applied offline), or from the module's scripts/ folder when terraform is
missing. ``aws`` and ``systemctl`` are stubs on PATH; ``sarcoma-xnat`` is the real command line.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bootstrap_stubs import install_stubs, read_log
from tfhelpers import REPO, TF_DIR, run, terraform_available
from xnat_emulator.admin_routes import dump, set_accounts

sys.path.insert(0, str(REPO / "tests"))  # tests/ holds xnat_emulator
from xnat_emulator import XnatEmulator  # noqa: E402

SCRIPT = TF_DIR / "modules" / "xnat" / "scripts" / "xnat-configure.sh"
ADMIN_SECRET = "arn:aws:secretsmanager:eu-west-2:111122223333:secret:site-a/xnat/admin-AbCdEf"
FL_SECRET = "arn:aws:secretsmanager:eu-west-2:111122223333:secret:site-a/xnat/fl-reader-AbCdEf"
SMTP_SECRET = "arn:aws:secretsmanager:eu-west-2:111122223333:secret:site-a/smtp-AbCdEf"
FL_HOST = "https://xnat.site-a.sarcoma.internal"
WRITES = ("POST", "PUT", "DELETE")

RENDER_ROOT = """
output "user_data" {{
  value = templatefile("{template}", {{
    name = "site-a", region = "eu-west-2", data_path = "/data/xnat", efs_id = "fs-0123456789abcdef0",
    db_address = "db.example", db_secret_arn = "arn:db", db_app_secret_arn = "arn:dbapp", db_app_user = "xnat_app",
    tls_ca_secret_arn = "arn:ca", private_fqdn = "xnat.site-a.sarcoma.internal", admin_user = "siteadmin",
    admin_secret_arn = "{admin}", fl_reader_secret_arn = "{fl}", docker_tls_secret_arn = "arn:docker",
    docker_host = "10.20.2.10", site_url = "https://xnat.site-a.example.org", admin_email = "a@site-a.example.org",
    projects = ["STS_SITE_A", "STS_RAW"], smtp_host = "", smtp_port = 587, smtp_user = "", smtp_secret_arn = "",
    xnat_war_url = "https://h/xnat-web-1.9.3.6.war", plugin_urls = ["https://h/container-service-3.7.3-fat.jar"],
    artifact_sha256 = {{}}, suite_package = "sarcoma-xnat", configure_script = file("{script}")
  }})
}}
"""


def _rendered_user_data(tmp: Path) -> str | None:
    """Render the XNAT user-data with terraform (no provider needed), or None without terraform."""
    if terraform_available() is not None:
        return None
    root = tmp / "render"
    root.mkdir()
    (root / "main.tf").write_text(RENDER_ROOT.format(
        template=TF_DIR / "modules" / "xnat" / "templates" / "user-data.sh.tftpl", script=SCRIPT,
        admin=ADMIN_SECRET, fl=FL_SECRET))
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "HOME": str(tmp)}
    for cmd in (["terraform", "init", "-input=false", "-no-color"],
                ["terraform", "apply", "-auto-approve", "-input=false", "-no-color"]):
        proc = run(cmd, root, env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return run(["terraform", "output", "-raw", "user_data"], root, env).stdout


def _extract(user_data: str) -> str:
    """Return the configure script that the user-data writes to /usr/local/sbin."""
    start = "cat > /usr/local/sbin/sarcoma-xnat-configure <<'SARCOMA_CONFIGURE'\n"
    assert start in user_data, "the user-data must write the configure script"
    body = user_data.split(start, 1)[1]
    return body[: body.index("SARCOMA_CONFIGURE\n")]


@pytest.fixture(scope="module")
def configure_script(tmp_path_factory) -> Path:
    """The configure script as the XNAT host gets it."""
    tmp = tmp_path_factory.mktemp("bootstrap")
    user_data = _rendered_user_data(tmp)
    text = SCRIPT.read_text() if user_data is None else _extract(user_data)
    path = tmp / "sarcoma-xnat-configure"
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def site(tmp_path):
    """A fresh XNAT (emulator) with XNAT's default accounts, stub aws/systemctl, and the env."""
    emu = XnatEmulator(tmp_path / "xnat", users={}).start()
    state = set_accounts(emu, {
        "admin": {"password": "admin", "roles": ["Administrator"], "enabled": True},
        "guest": {"password": "guest", "roles": [], "enabled": True},
    })
    stubs = install_stubs(tmp_path / "bin", tmp_path / "stub-state")
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n")
    stubs["secrets"].write_text(json.dumps({SMTP_SECRET: "smtp-pass"}))
    env = {
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path),
        "XNAT_URL": emu.url, "SITE_URL": "https://xnat.site-a.example.org",
        "ADMIN_EMAIL": "xnat-admin@site-a.example.org", "ADMIN_USER": "siteadmin", "ADMIN_SECRET": ADMIN_SECRET,
        "PROJECTS": "STS_SITE_A STS_RAW", "FL_READER_SECRET": FL_SECRET, "FL_HOST": FL_HOST,
        "FL_CA_FILE": str(ca), "DOCKER_HOST_URL": "https://10.20.2.10:2376",
        "DOCKER_CERT_PATH": "/var/lib/xnat/home/certs/docker",
        "SMTP_HOST": "smtp.site-a.example.org", "SMTP_PORT": "587", "SMTP_USER": "xnat", "SMTP_SECRET": SMTP_SECRET,
        "SUITE_CMD": str(Path(sys.executable).parent / "sarcoma-xnat"),
        "STATE_FILE": str(tmp_path / "state" / "configure.jsonl"), "WAIT_TRIES": "3", "WAIT_SLEEP": "0",
    }
    try:
        yield {"emu": emu, "state": state, "stubs": stubs, "env": env, "ca": ca}
    finally:
        emu.stop()


def _run(script: Path, env: dict) -> tuple[subprocess.CompletedProcess, list[dict]]:
    proc = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=240)
    state = Path(env["STATE_FILE"])
    records = [json.loads(line) for line in state.read_text().splitlines()] if state.exists() else []
    return proc, records


def _secrets(site) -> dict:
    return json.loads(site["stubs"]["secrets"].read_text())


def _writes(emu, since: int) -> list[tuple[str, str, int]]:
    return [entry for entry in emu.log[since:] if entry[0] in WRITES and entry[1] != "/data/JSESSION"]


def test_user_data_carries_the_configure_script_verbatim(configure_script):
    assert configure_script.read_text() == SCRIPT.read_text()


def test_first_run_builds_the_site_and_the_second_changes_nothing(configure_script, site):
    emu, state = site["emu"], site["state"]
    proc, records = _run(configure_script, site["env"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    users = state["users"]
    # named admin with the password from Secrets Manager, site admin and Container Manager
    admin_secret = json.loads(_secrets(site)[ADMIN_SECRET])
    assert admin_secret["username"] == "siteadmin"
    assert users["siteadmin"]["password"] == admin_secret["password"] and len(admin_secret["password"]) >= 24
    assert set(users["siteadmin"]["roles"]) >= {"Administrator", "ContainerManager"}
    # default accounts off: they no longer log in
    assert users["admin"]["enabled"] is False and users["guest"]["enabled"] is False
    assert "admin" not in emu.users and "guest" not in emu.users
    # site initialised, SMTP set with the password from its secret
    assert state["site"]["initialized"] is True and state["site"]["siteUrl"] == "https://xnat.site-a.example.org"
    assert state["site"]["userRegistration"] is False
    assert (state["smtp"]["host"], state["smtp"]["port"], state["smtp"]["password"]) == ("smtp.site-a.example.org", 587, "smtp-pass")
    # projects, FL reader read-only on the curated one, its secret usable as written
    from sarcoma_xnat.archive import ObjectRef
    assert emu.archive.exists(ObjectRef("STS_SITE_A")) and emu.archive.exists(ObjectRef("STS_RAW"))
    assert state["project_users"] == {"STS_SITE_A": {"fl_reader": "Collaborators"}}
    fl = json.loads(_secrets(site)[FL_SECRET])
    assert fl["host"] == FL_HOST and fl["user"] == "fl_reader" and fl["ca_pem"] == site["ca"].read_text()
    assert emu.users["fl_reader"] == fl["password"]
    assert "Administrator" not in users["fl_reader"]["roles"]
    # Container Service backend and the suite's commands
    assert state["docker_server"]["host"] == "https://10.20.2.10:2376"
    assert emu.cs["commands"], "sarcoma-xnat xnat install must have installed the commands"
    changed = {r["step"] for r in records if r["result"] == "changed"}
    assert {"admin-user", "site-config", "disable-admin", "disable-guest", "project-STS_SITE_A",
            "fl-reader", "fl-reader-access", "fl-reader-secret", "suite"} <= changed
    # no password on any recorded line or in the output
    assert admin_secret["password"] not in proc.stdout + proc.stderr + Path(site["env"]["STATE_FILE"]).read_text()
    # second run: every step reads, none writes (XNAT, Secrets Manager), the record says so
    before, log_at, aws_at = dump(site["state"]), len(emu.log), len(read_log(site["stubs"]["aws_log"]))
    secrets_before = _secrets(site)
    second, records = _run(configure_script, site["env"])
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert [r for r in records if r["result"] != "unchanged"] == []
    assert len(records) >= 15
    assert _writes(emu, log_at) == []
    assert dump(site["state"]) == before and _secrets(site) == secrets_before
    assert [c for c in read_log(site["stubs"]["aws_log"])[aws_at:] if c["cmd"][1] != "get-secret-value"] == []
    assert "0 change(s)" in second.stdout


def test_rerun_after_a_failure_finishes(configure_script, site):
    """A boot that died half-way (here: XNAT refused to create the named admin) completes on the next run."""
    emu = site["emu"]
    emu.add_fault("POST", r"^/xapi/users$", status=500)  # XNAT refuses to create the named admin
    first, _ = _run(configure_script, site["env"])
    assert first.returncode != 0
    assert ADMIN_SECRET in _secrets(site), "the admin password is stored before XNAT is touched"
    second, records = _run(configure_script, site["env"])
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert {"step": "admin-user", "result": "changed", "detail": "created siteadmin"} in records
    assert site["state"]["users"]["siteadmin"]["password"] == json.loads(_secrets(site)[ADMIN_SECRET])["password"]


def test_existing_reader_without_a_secret_gets_a_known_password(configure_script, site):
    """The old bootstrap's failure: the account exists, its secret is empty. Now the password is reset."""
    site["state"]["users"]["fl_reader"] = {"password": "lost", "roles": [], "enabled": True}
    proc, records = _run(configure_script, site["env"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    fl = json.loads(_secrets(site)[FL_SECRET])
    assert site["state"]["users"]["fl_reader"]["password"] == fl["password"] != "lost"
    assert {"step": "fl-reader", "result": "changed", "detail": "reset the password of fl_reader"} in records

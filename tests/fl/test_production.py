"""Production path on real provisioned kits: gRPC over mutual TLS on loopback.

``nvflare provision`` writes the kits; the server and two clients are started with
``sarcoma-xnat fl server|client`` from their kits (each in its own process group, as a
service manager would); the lead's admin kit submits the job (``fl submit``), follows it
(``fl status``) and exports ``model.pt`` (``fl export``), which ``prognosis`` accepts.
Everything runs as a user would: the installed entry point, no PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("nvflare")

from fl_fixtures import make_site  # noqa: E402

ENTRY = Path(sys.executable).with_name("sarcoma-xnat")
LEAD = "lead@coordinating-centre.org"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home: Path) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def _cli(cwd: Path, *args: str, timeout: float = 200) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(ENTRY), *args], cwd=cwd, env=_env(cwd / "home"), capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args[:2]}: {proc.stdout[-1500:]}{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_provisioned_kits_submit_status_export_and_prognosis(tmp_path: Path) -> None:
    from sarcoma_xnat.archive import LocalArchive, ObjectRef

    started = time.time()
    port = _free_port()
    _cli(tmp_path, "fl", "provision", "--sample", "project.yml", "--server", "localhost",
         "--port", str(port), "--sites", "site-1", "site-2")
    text = (tmp_path / "project.yml").read_text()
    assert "scheme: grpc" in text and "connection_security: mtls" in text
    _cli(tmp_path, "fl", "provision", "--project-file", "project.yml", "--output", "kits")
    prod = next((tmp_path / "kits").glob("*/prod_*"))
    kits = {p.name: p for p in prod.iterdir()}
    keys = list(prod.rglob("*.key"))
    assert len(keys) >= 4 and all(k.stat().st_mode & 0o077 == 0 for k in keys)
    fed = json.loads((kits["site-1"] / "startup" / "fed_client.json").read_text())
    assert '"grpc"' in json.dumps(fed) and "mtls" in json.dumps(fed)

    make_site(tmp_path / "a", "SITEA", 16, seed=11)
    make_site(tmp_path / "b", "SITEB", 16, seed=12)
    make_site(tmp_path / "s", "VALID", 16, seed=13)
    procs = []
    try:
        for args in (["fl", "server", "--kit", str(kits["localhost"]), "--archive", "s", "--project", "VALID"],
                     ["fl", "client", "--kit", str(kits["site-1"]), "--site", "site-1",
                      "--archive", "a", "--project", "SITEA"],
                     ["fl", "client", "--kit", str(kits["site-2"]), "--site", "site-2",
                      "--archive", "b", "--project", "SITEB"]):
            procs.append(subprocess.Popen([str(ENTRY), *args], cwd=tmp_path, env=_env(tmp_path / "home"),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
        lead = str(kits[LEAD])
        deadline = time.time() + 90
        while True:  # both sites connected
            status = subprocess.run([str(ENTRY), "fl", "status", "--kit", lead], cwd=tmp_path,
                                    env=_env(tmp_path / "home"), capture_output=True, text=True)
            if status.returncode == 0 and "site site-1" in status.stdout and "site site-2" in status.stdout:
                break
            assert time.time() < deadline, status.stdout + status.stderr[-2000:]
            time.sleep(3)
        submitted = _cli(tmp_path, "fl", "submit", "--kit", lead, "--clients", "2", "--rounds", "1",
                         "--mode", "clinical", "--local-epochs", "1")
        job = re.search(r"submitted job (\S+);", submitted.stdout).group(1)
        _cli(tmp_path, "fl", "export", "--kit", lead, "--job", job, "--server-data", "s:VALID",
             "--output", "model.pt", "--timeout", "150", timeout=200)
        status = _cli(tmp_path, "fl", "status", "--kit", lead, "--job", job).stdout
        assert f"job {job}: FINISHED:COMPLETED" in status
        assert "round 0: site-1 accepted" in status and "round 0: site-2 accepted" in status
        # each site was told its own decision (with the final validation task) and logged it
        for site in ("site-1", "site-2"):
            logs = "".join(f.read_text() for f in kits[site].rglob("log.txt"))
            assert "this site's round 0 update was ACCEPTED: validation C-index change" in logs
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    print(f"provision + start + 1-round job + export over mTLS: {time.time() - started:.0f} s")

    session = ObjectRef("VALID", "VALID001", "VALID001_MR1")
    server = LocalArchive(tmp_path / "s")
    staged = tmp_path / "input" / "RESOURCES" / "PREPROCESSED" / "files"
    server.fetch_resource(session, "PREPROCESSED", staged)
    (tmp_path / "clinical.json").write_text(json.dumps(server.get(session.parent).fields))
    _cli(tmp_path, "prognosis", "--model", "model.pt", "--input", "input", "--output", "prognosis",
         "--clinical", "clinical.json")
    report = json.loads((tmp_path / "prognosis" / "prognosis.json").read_text())
    assert set(report["endpoints"]) == {"os", "dm"}

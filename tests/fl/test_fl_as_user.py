"""``fl simulate`` and ``fl poc`` run as a user runs them.

The installed ``sarcoma-xnat`` entry point in a subprocess, started in a scratch folder
with relative ``--output``/``--site`` paths, with an environment that has no
``PYTHONPATH`` (the package is an editable install here) and a ``PATH`` without the
virtual environment (not activated).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("nvflare")

from fl_fixtures import make_site  # noqa: E402

ENTRY = Path(sys.executable).with_name("sarcoma-xnat")


def _user_env(home: Path) -> dict[str, str]:
    """A login-like environment: no PYTHONPATH, no virtual environment on PATH."""
    home.mkdir(exist_ok=True)
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def _run(cwd: Path, *args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    assert ENTRY.is_file(), f"the entry point {ENTRY} is not installed"
    return subprocess.run([str(ENTRY), *args], cwd=cwd, env=_user_env(cwd / "home"),
                          capture_output=True, text=True, timeout=timeout)


def _sites(root: Path) -> list[str]:
    make_site(root / "a", "SITEA", 16, seed=11)
    make_site(root / "b", "SITEB", 16, seed=12)
    make_site(root / "s", "VALID", 16, seed=13)
    return ["--site", "site-1=a:SITEA", "--site", "site-2=b:SITEB", "--server-data", "s:VALID",
            "--mode", "clinical", "--rounds", "1", "--local-epochs", "1", "--output", "ws"]


@pytest.mark.slow
def test_simulate_with_relative_paths_and_no_pythonpath(tmp_path: Path) -> None:
    started = time.time()
    proc = _run(tmp_path, "fl", "simulate", *_sites(tmp_path))
    print(f"fl simulate (1 round, 2 sites, clinical): {time.time() - started:.0f} s")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert (tmp_path / "ws" / "model.pt").is_file()
    assert "site-1" in proc.stdout and "accepted" in proc.stdout
    # nothing of the package was copied into the job: the sites used the installed one
    customs = list((tmp_path / "ws" / "simulation").rglob("custom"))
    assert customs and all(not (c / "sarcoma_xnat").exists() for c in customs)


@pytest.mark.slow
def test_poc_with_relative_paths_outside_the_virtualenv(tmp_path: Path) -> None:
    started = time.time()
    proc = _run(tmp_path, "fl", "poc", *_sites(tmp_path))
    print(f"fl poc (1 round, 2 sites, clinical): {time.time() - started:.0f} s")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert (tmp_path / "ws" / "model.pt").is_file()
    assert not (tmp_path / "ws" / "poc").exists()  # the POC kits are gone, the logs kept
    assert (tmp_path / "ws" / "logs" / "site-1" / "log.txt").is_file()


@pytest.mark.slow
def test_poc_failure_keeps_the_logs_its_message_names(tmp_path: Path) -> None:
    args = _sites(tmp_path)
    args[args.index("s:VALID")] = "nowhere:VALID"  # the server's gate cannot load its data
    proc = _run(tmp_path, "fl", "poc", *args)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("error: the POC job ended with status"), message
    named = [Path(p) for p in re.findall(r"(/\S+/log\.txt)", message)]
    assert named, message
    for path in named:
        assert path.is_file(), f"{path} named in the error message does not exist"
    server_log = (tmp_path / "ws" / "logs" / "server" / "log.txt").resolve()
    assert server_log in [p.resolve() for p in named]
    assert "nowhere" in server_log.read_text() or any(
        "nowhere" in p.read_text() for p in (tmp_path / "ws" / "logs").rglob("*.txt"))
    assert os.listdir(tmp_path / "ws" / "logs")

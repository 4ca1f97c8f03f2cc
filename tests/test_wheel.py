"""The packaged product: a wheel installed in a fresh virtual environment works outside the checkout.

The wheel is built from a copy of the source (so the checkout gets no ``build/``),
installed without dependencies into a new venv in a temporary folder, and given the
main environment's third-party packages through a ``.pth`` file (installing the
dependencies from an index would take minutes and a network). The editable install
of the main environment is not visible there: its finder is loaded by a ``.pth``
file of the main site folder, which the new venv does not process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "sarcoma_xnat",
          "xnat-commands", "containers")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """``(sarcoma-xnat executable, environment)`` of the wheel installed in a fresh venv."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_suite", "*.egg-info")
    for name in SOURCE:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "--disable-pip-version-check", "-w", str(dist), str(src)],
                   check=True, capture_output=True)
    wheel = next(dist.glob("sarcoma_xnat-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--no-deps", "-q", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "main-environment-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "SARCOMA_XNAT_ROOT", "VIRTUAL_ENV")}
    yield venv / "bin" / "sarcoma-xnat", env


def _run(exe: Path, env: dict[str, str], cwd: Path, *argv: str,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(exe), *argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_the_wheel_ships_the_commands_and_dockerfiles(
        installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    exe, env = installed
    where = subprocess.run([str(exe.parent / "python"), "-c",
                            "import sarcoma_xnat; print(sarcoma_xnat.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, check=True).stdout
    assert str(exe.parent.parent) in where  # the installed copy, not the checkout
    out = _run(exe, env, tmp_path, "command", "validate").stdout
    for name in sorted(p.name for p in (ROOT / "xnat-commands").glob("*.json")):
        assert f"{name}: ok" in out
    assert str(ROOT) not in out
    packaged = Path(where).parent / "_suite"
    assert sorted(p.name for p in (packaged / "containers").iterdir()) == \
        sorted(p.name for p in (ROOT / "containers").iterdir())


def test_xnat_install_dry_run_from_the_wheel(installed: tuple[Path, dict[str, str]],
                                             tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from xnat_emulator import XnatEmulator

    from sarcoma_xnat.archive import ObjectRef
    from sarcoma_xnat.xnat import connect

    exe, env = installed
    emu = XnatEmulator(tmp_path / "xnat", users={"admin": "admin-pass"}).start()
    try:
        with connect(emu.url, "admin", "admin-pass", backoff=0.01) as client:
            client.objects.create(ObjectRef("WHEEL"), "xnat:projectData")
        proc = _run(exe, {**env, "XNAT_PASS": "admin-pass"}, tmp_path, "xnat", "install",
                    "--host", emu.url, "--user", "admin", "--project", "WHEEL", "--dry-run")
    finally:
        emu.stop()
    n_commands = len(list((ROOT / "xnat-commands").glob("*.json")))
    assert f"{n_commands} command(s); would change" in proc.stdout


def test_demo_from_the_wheel_outside_the_checkout(installed: tuple[Path, dict[str, str]],
                                                  tmp_path: Path) -> None:
    exe, env = installed
    proc = _run(exe, env, tmp_path, "demo", "--subjects", "1", "--preset", "small", "--engine",
                "inprocess", "--folder", "demo")
    assert "qc.png" in proc.stdout
    assert list((tmp_path / "demo" / "archive").rglob("qc.png"))

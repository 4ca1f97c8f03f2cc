"""Engine set-up that needs no engine: apt mirror discovery and the Podman service config."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarcoma_xnat.containers.baseimage import debian_mirror, debian_suite
from sarcoma_xnat.containers.podman import PodmanService
from sarcoma_xnat.errors import ContainerError


def _apt(tmp_path: Path, main: str = "", extra: dict[str, str] | None = None) -> Path:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text(main)
    for name, text in (extra or {}).items():
        (apt / "sources.list.d" / name).write_text(text)
    return apt


def test_mirror_from_deb822(tmp_path: Path) -> None:
    apt = _apt(tmp_path, extra={"debian.sources": (
        "Types: deb\nURIs: http://mirror.example.org/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://mirror.example.org/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main contrib\n")})
    assert debian_mirror("bookworm", apt) == "http://mirror.example.org/debian"


def test_mirror_from_one_line_format(tmp_path: Path) -> None:
    apt = _apt(tmp_path, "# comment\ndeb-src http://src.example.org/debian bookworm main\n"
                         "deb [arch=amd64 signed-by=/k.gpg] https://deb.example.net/debian bookworm main\n")
    assert debian_mirror("bookworm", apt) == "https://deb.example.net/debian"


def test_no_mirror_is_an_error(tmp_path: Path) -> None:
    apt = _apt(tmp_path, "deb http://deb.example.net/debian trixie main\n")
    with pytest.raises(ContainerError, match="no apt source for Debian bookworm"):
        debian_mirror("bookworm", apt)


def test_suite_from_os_release(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\n')
    assert debian_suite(release) == "bookworm"


def test_podman_service_state_without_starting(tmp_path: Path) -> None:
    service = PodmanService(tmp_path / "engine")
    assert service.url == f"unix://{tmp_path / 'engine' / 'podman.sock'}"
    assert not service.running()
    assert service.environment()["CONTAINERS_CONF"] == str(tmp_path / "engine" / "containers.conf")
    service.stop()  # nothing to stop is not an error

"""An offline base image: Debian with its own python3, made with debootstrap and imported.

For machines that reach Debian's package mirror but no container registry. The
mirror is the one this machine's apt already uses (``/etc/apt/sources.list`` and
``sources.list.d``, one-line or deb822 format), never a constant.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from sarcoma_xnat.containers.engines import DockerEngine
from sarcoma_xnat.errors import ContainerError

__all__ = ["BASE_PACKAGES", "build_debian_base", "debian_mirror", "debian_suite"]

#: what the image needs: Python with venv (the build stage) and an init for PID 1
BASE_PACKAGES = ("python3", "python3-venv", "tini", "ca-certificates")
_TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
         "usr/share/info")


def debian_suite(os_release: Path = Path("/etc/os-release")) -> str:
    """Return this machine's Debian codename (``VERSION_CODENAME``), e.g. ``bookworm``."""
    try:
        for line in os_release.read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    raise ContainerError(f"cannot tell the Debian release from {os_release}")


def _entries(path: Path) -> list[tuple[list[str], list[str], list[str]]]:
    """Return (URIs, suites, components) of each enabled ``deb`` entry in an apt sources file."""
    text = path.read_text(errors="replace")
    out = []
    if path.suffix == ".sources":
        for stanza in text.split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if ":" in line and not line.lstrip().startswith("#"):
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                out.append((fields.get("uris", "").split(), fields.get("suites", "").split(),
                            fields.get("components", "").split()))
        return out
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 3 and words[0] == "deb":
            words = [w for w in words[1:] if not w.startswith("[") and not w.endswith("]")]
            if len(words) >= 2:
                out.append(([words[0]], [words[1]], words[2:]))
    return out


def debian_mirror(suite: str | None = None, apt_dir: Path = Path("/etc/apt")) -> str:
    """Return the mirror URI this machine's apt uses for ``suite`` (main archive, not security)."""
    suite = suite or debian_suite()
    files = [apt_dir / "sources.list"] + sorted((apt_dir / "sources.list.d").glob("*"))
    for path in files:
        if not path.is_file() or path.suffix not in (".list", ".sources"):
            continue
        for uris, suites, components in _entries(path):
            if suite in suites and "main" in components:
                for uri in uris:
                    if uri.startswith(("http://", "https://", "file:/")):
                        return uri.rstrip("/")
    raise ContainerError(f"no apt source for Debian {suite} (main) in {apt_dir}; "
                         f"pass the mirror explicitly")


def build_debian_base(engine: DockerEngine, tag: str, suite: str | None = None,
                      mirror: str | None = None, sink: Callable[[str], None] = print) -> str:
    """Make ``tag`` from a minimal debootstrap of ``suite`` plus :data:`BASE_PACKAGES`.

    Needs root and ``debootstrap``; takes about a minute with a nearby mirror.
    """
    if shutil.which("debootstrap") is None:
        raise ContainerError("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise ContainerError("debootstrap needs root to build the offline base image")
    suite = suite or debian_suite()
    mirror = mirror or debian_mirror(suite)
    with tempfile.TemporaryDirectory(prefix="sarcoma-xnat-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        sink(f"debootstrap {suite} from {mirror} with {', '.join(BASE_PACKAGES)}")
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
               suite, str(rootfs), mirror]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ContainerError(f"debootstrap failed ({proc.returncode}): "
                                 f"{(proc.stdout + proc.stderr)[-2000:]}")
        for rel in _TRIM:
            target = rootfs / rel
            if target.is_dir():
                for child in target.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
        tarball = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."],
                       check=True)
        repo, _, version = tag.rpartition(":")
        answer = engine.client.api.import_image_from_file(
            str(tarball), repository=repo, tag=version,
            changes=['ENV LANG=C.UTF-8', 'CMD ["python3"]'])
    image_id = ""
    for line in str(answer).splitlines():
        try:
            image_id = json.loads(line).get("status", image_id) or image_id
        except json.JSONDecodeError:
            continue
    image = engine.client.images.get(image_id.strip() or tag)
    image.tag(repo, version)  # some engines ignore the tag given on import
    sink(f"imported {tag} ({engine.image_size(tag) / 1e6:.0f} MB)")
    return tag

"""Build the suite's images through the Docker API, labelled from the command JSON.

Each ``containers/<name>/Dockerfile`` is built from a small context made here: the
Dockerfile, this project's wheel (``build/wheels``), extra wheels for extras with
local-only wheels (the CPU torch wheel from ``PIP_FIND_LINKS``), and the machine's CA
bundle (``build/certs``) which pip in the build stage uses when it is not empty.
Step images get the ``org.nrg.commands`` label from ``xnat-commands/<name>.json``
as a build argument and are tagged with the command's ``image``, which must carry
the package version.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sarcoma_xnat import __version__
from sarcoma_xnat.containers.command import load_command
from sarcoma_xnat.containers.engines import DockerEngine
from sarcoma_xnat.containers.label import command_label
from sarcoma_xnat.containers.validate import check_command
from sarcoma_xnat.errors import ContainerError

__all__ = ["BuiltImage", "IMAGES", "ImageSpec", "build_images", "build_wheel", "image_tag"]

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class ImageSpec:
    """One image: its folder in ``containers/``, the image it builds on, its command file."""

    name: str
    base: str | None = None
    command: str | None = None
    local_wheels: bool = False


#: every image, bases first
IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec("base-light"),
    ImageSpec("base-heavy", base="base-light", local_wheels=True),
    ImageSpec("preprocess", base="base-light", command="preprocess"),
    ImageSpec("deid", base="base-light", command="deid"),
    ImageSpec("radiomics", base="base-light", command="radiomics"),
    ImageSpec("prognosis", base="base-heavy", command="prognosis"),
    ImageSpec("segment", base="base-heavy", command="segment"),
    ImageSpec("segment-train", base="base-heavy", command="segment-train"),
    ImageSpec("model-train", base="base-heavy", command="model-train"),
    ImageSpec("fl-client", base="base-heavy", command="fl-client", local_wheels=True),
)


@dataclass(frozen=True)
class BuiltImage:
    """A built image: tag, size in bytes and build seconds."""

    name: str
    tag: str
    size: int
    seconds: float


def image_tag(name: str, version: str = __version__) -> str:
    """Return the tag of a suite image, e.g. ``sarcoma-xnat/base-light:0.1.0``."""
    return f"sarcoma-xnat/{name}:{version}"


def build_wheel(root: Path, dest: Path) -> Path:
    """Build this project's wheel into ``dest`` and return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "--disable-pip-version-check", "-w", str(dest), str(root)],
                          capture_output=True, text=True)
    wheels = sorted(dest.glob("sarcoma_xnat-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise ContainerError(f"building the sarcoma-xnat wheel failed: {proc.stderr[-2000:]}")
    return wheels[-1]


def _local_wheels() -> list[Path]:
    dirs = os.environ.get("PIP_FIND_LINKS", "").split()
    return [Path(p) for d in dirs for p in sorted(glob.glob(os.path.join(d, "*.whl")))]


def _context(root: Path, spec: ImageSpec, wheel: Path, dest: Path) -> Path:
    """Assemble the build context of one image in ``dest``."""
    dockerfile = root / "containers" / spec.name / "Dockerfile"
    if not dockerfile.is_file():
        raise ContainerError(f"no Dockerfile for image {spec.name!r}", file=dockerfile)
    shutil.copytree(dockerfile.parent, dest)
    (dest / "build" / "wheels").mkdir(parents=True)
    (dest / "build" / "certs").mkdir()
    shutil.copy2(wheel, dest / "build" / "wheels" / wheel.name)
    if spec.local_wheels:
        for extra in _local_wheels():
            shutil.copy2(extra, dest / "build" / "wheels" / extra.name)
    ca = dest / "build" / "certs" / "ca.crt"
    ca.write_bytes(CA_BUNDLE.read_bytes() if CA_BUNDLE.is_file() else b"")
    return dest


def _build_one(engine: DockerEngine, root: Path, spec: ImageSpec, wheel: Path,
               buildargs: dict[str, str], sink: Callable[[str], None], nocache: bool) -> BuiltImage:
    tag = image_tag(spec.name)
    if spec.command:
        command = check_command(load_command(root / "xnat-commands" / f"{spec.command}.json"))
        tag = command.image
        if not tag.endswith(f":{__version__}"):
            raise ContainerError(f"command {command.name!r} names image {tag}; its tag must be "
                                 f"the package version {__version__}", file=command.source)
        buildargs = {**buildargs, "COMMANDS_LABEL": command_label(command)}
    buildargs = {**buildargs, "IMAGE_NAME": tag, "VERSION": __version__}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"sarcoma-xnat-ctx-{spec.name}-") as tmp:
        ctx = _context(root, spec, wheel, Path(tmp) / "ctx")
        sink(f"building {tag}")
        for chunk in engine.client.api.build(path=str(ctx), tag=tag, buildargs=buildargs,
                                             rm=True, forcerm=True, decode=True,
                                             nocache=nocache):
            if "error" in chunk:
                raise ContainerError(f"building {tag} failed: {chunk['error'].strip()}")
            text = str(chunk.get("stream", "")).rstrip()
            if text:
                sink(text)
    size = engine.image_size(tag)
    seconds = time.monotonic() - started
    sink(f"built {tag}: {size / 1e6:.0f} MB in {seconds:.0f} s")
    return BuiltImage(spec.name, tag, size, seconds)


def build_images(engine: DockerEngine, root: Path, names: Sequence[str] | None = None,
                 base_image: str | None = None, sink: Callable[[str], None] = print,
                 nocache: bool = False) -> list[BuiltImage]:
    """Build the named images (default: all) and the bases they need, in order.

    ``base_image`` replaces the Dockerfiles' default ``BASE_IMAGE`` (an official slim
    Python image) for ``base-light``, e.g. the offline Debian base. ``nocache``
    rebuilds every layer.
    """
    by_name = {spec.name: spec for spec in IMAGES}
    wanted = list(names or by_name)
    unknown = sorted(set(wanted) - set(by_name))
    if unknown:
        raise ContainerError(f"unknown images {unknown}; known: {sorted(by_name)}")
    order: list[str] = []

    def need(name: str) -> None:
        base = by_name[name].base
        if base:
            need(base)
        if name not in order:
            order.append(name)

    for name in wanted:
        need(name)
    if not (root / "pyproject.toml").is_file():  # e.g. the copy packaged in a wheel
        raise ContainerError(f"building images needs a source checkout of sarcoma-xnat (each "
                             f"image installs the package's wheel, built from it); {root} is "
                             "not one: clone the repository and pass --root")
    built = []
    with tempfile.TemporaryDirectory(prefix="sarcoma-xnat-wheel-") as tmp:
        wheel = build_wheel(root, Path(tmp))
        for name in [n for n in (spec.name for spec in IMAGES) if n in order]:
            spec = by_name[name]
            args = {"BASE": image_tag(spec.base)} if spec.base else {}
            if base_image and not spec.base:
                args["BASE_IMAGE"] = base_image
            built.append(_build_one(engine, root, spec, wheel, args, sink, nocache))
    return built

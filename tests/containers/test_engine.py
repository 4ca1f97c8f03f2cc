"""Images built from scratch and run through the Docker API give what the in-process run gives.

Needs a Docker-compatible engine: ``DOCKER_HOST`` or a Docker/Podman socket, else root with
Debian's podman (a private ``podman system service`` is started for these tests), and
debootstrap plus the Debian mirror for the offline base image. Takes a few minutes.

The deid image imports into an XNAT: the emulator on loopback, reached from the
container through the command's ``network`` set to ``host`` (what the Container Service
passes as ``HostConfig.NetworkMode``, container-service ``api/DockerControlApi.java``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sarcoma_xnat import __version__
from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.cli import main
from sarcoma_xnat.containers.command import load_command
from sarcoma_xnat.containers.engines import DockerEngine, InProcessEngine, docker_url
from sarcoma_xnat.containers.label import LABEL_KEY
from sarcoma_xnat.containers.podman import PodmanService, podman_available
from sarcoma_xnat.containers.runner import run_command
from sarcoma_xnat.xnat import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ holds xnat_emulator
from xnat_emulator import XnatEmulator  # noqa: E402

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "synthetic-site-secret-for-tests-0002"
LIGHT_LIMIT = 700e6
VOLATILE = {"time", "started", "ended", "seconds", "timings", "container_image", "libraries"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """A Docker API: the one running, or a private Podman service started for this module."""
    saved = os.environ.get("DOCKER_HOST")
    service = None
    if docker_url() is None:
        if not (podman_available() and os.geteuid() == 0):
            pytest.skip("no container engine: no DOCKER_HOST or socket, and no podman as root")
        service = PodmanService(tmp_path_factory.mktemp("engine"))
        os.environ["DOCKER_HOST"] = service.start()
    try:
        yield DockerEngine()
    finally:
        if service is not None:
            service.stop()
            if saved is None:
                os.environ.pop("DOCKER_HOST", None)
            else:
                os.environ["DOCKER_HOST"] = saved


@pytest.fixture(scope="module")
def images(engine: DockerEngine) -> dict[str, str]:
    """Build the offline base, the light base and the preprocess and deid images."""
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed")
    started = time.monotonic()
    assert main(["images", "build", "--debian-base", "preprocess", "deid"]) == 0
    print(f"image build took {time.monotonic() - started:.0f} s")
    return {name: f"sarcoma-xnat/{name}:{__version__}" for name in ("base-light", "preprocess", "deid")}


def test_light_images_are_small_and_labelled(engine: DockerEngine, images: dict[str, str]) -> None:
    for name, tag in images.items():
        size = engine.image_size(tag)
        assert 0 < size < LIGHT_LIMIT, f"{tag} is {size / 1e6:.0f} MB"
    for step in ("preprocess", "deid"):
        label = engine.image_labels(images[step])[LABEL_KEY]
        assert json.loads(label) == [json.loads((ROOT / "xnat-commands" / f"{step}.json").read_text())]


def _comparable(folder: Path) -> dict[str, Any]:
    """Files of a resource; JSON records without the fields that name a time or a machine."""
    out: dict[str, Any] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if path.suffix in (".json", ".jsonl"):
            records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] \
                if path.suffix == ".jsonl" else [json.loads(path.read_text())]
            out[rel] = [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]
        else:
            out[rel] = path.read_bytes()
    return out


def _run(archive: LocalArchive, engine_kind: str, how: list[str], target: str, *params: str) -> int:
    argv = ["run", "--engine", engine_kind, *how, "--archive", str(archive.root), "--target", target]
    for param in params:
        argv += ["--param", param]
    return main(argv)


def test_images_store_what_the_in_process_run_stores(images: dict[str, str], small_cohort: Any,
                                                     tmp_path: Path) -> None:
    archive, manifest = small_cohort
    twin = LocalArchive(shutil.copytree(archive.root, tmp_path / "twin"))
    session: ObjectRef = manifest.sessions[0]
    roi = session.child(assessor=f"{session.session}_SEG")
    runs = [  # (command source, wrapper, target, params): the command JSON and the image label
        (["--command", "preprocess"], "sarcoma-preprocess-roi", roi, ["grid=box"]),
        (["--image", images["preprocess"]], "sarcoma-preprocess-session", session, []),
    ]
    for how, wrapper, target, params in runs:
        assert _run(archive, "docker", [*how, "--wrapper", wrapper], target.uri, *params) == 0
        in_process = ["--command", "preprocess"] if how[0] == "--image" else how
        assert _run(twin, "inprocess", [*in_process, "--wrapper", wrapper], target.uri, *params) == 0
        in_container = _comparable(archive.resource_path(session, "PREPROCESSED"))
        in_process_files = _comparable(twin.resource_path(session, "PREPROCESSED"))
        assert sorted(in_container) == sorted(in_process_files)
        assert in_container == in_process_files, f"PREPROCESSED of {wrapper} differs"
    provenance = json.loads((archive.resource_path(session, "PREPROCESSED") / "provenance.json").read_text())
    assert provenance["container_image"] == images["preprocess"]


def _dicom(folder: Path) -> dict[str, bytes]:
    import pydicom

    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and pydicom.misc.is_dicom(p)}


@pytest.mark.parametrize("wrapper, scan", [("sarcoma-deid-session", None), ("sarcoma-deid-scan", "2")])
def test_deid_image_imports_what_the_in_process_run_imports(
        images: dict[str, str], engine: DockerEngine, small_cohort: Any, tmp_path: Path,
        wrapper: str, scan: str | None) -> None:
    """The deid image, given the site secret as a Container Service secret, imports into a
    study project of an XNAT (the emulator on loopback) what the in-process run imports."""
    archive, manifest = small_cohort
    session: ObjectRef = manifest.sessions[0]
    target = session.child(scan=scan) if scan else session
    command = load_command(ROOT / "xnat-commands" / "deid.json")
    command.data["network"] = "host"  # the emulator listens on this machine's loopback
    properties = {"sarcoma.xnat.site-secret": SECRET}
    imported = []
    for name, how in (("image", engine), ("inprocess", InProcessEngine())):
        emu = XnatEmulator(tmp_path / name, users={"admin": "admin-pass"}).start()
        try:
            with connect(emu.url, "admin", "admin-pass", backoff=0.01) as client:
                client.objects.create(ObjectRef("STUDY"), "xnat:projectData")
            env = {"XNAT_HOST": emu.url, "XNAT_USER": "admin", "XNAT_PASS": "admin-pass"}
            result = run_command(command, archive, target.uri, wrapper, {"study_project": "STUDY"},
                                 how, env, properties=properties)
            assert result.exit_code == 0
            assert SECRET not in "\n".join(result.log)
            imported.append(_dicom(emu.archive.root / "projects" / "STUDY"))
        finally:
            emu.stop()
    assert imported[0] and sorted(imported[0]) == sorted(imported[1])
    assert imported[0] == imported[1]
    assert not (archive.root / "projects" / "STUDY").exists()  # the source archive is untouched


def test_failing_container_stores_nothing(images: dict[str, str], small_cohort: Any) -> None:
    archive, manifest = small_cohort
    before = sorted(p.relative_to(archive.root) for p in archive.root.rglob("*"))
    code = _run(archive, "docker", ["--command", "preprocess", "--wrapper",
                                    "sarcoma-preprocess-session"],
                manifest.sessions[0].uri, "size=1.5")  # the step's CLI refuses it: exit 2
    assert code != 0
    assert sorted(p.relative_to(archive.root) for p in archive.root.rglob("*")) == before

"""The local Container Service: resolve, stage mounts, launch, and store the outputs.

:func:`run_command` does for a local archive what XNAT does for "Run container":
it resolves the wrapper on the object, copies each input mount's files into a build
folder in the Container Service's layout, with XNAT's catalog XML in every resource
folder (mounted read-only; :mod:`sarcoma_xnat.containers.mounts`), gives every output
mount a fresh empty folder writable by its owner only, sets
``XNAT_HOST``/``XNAT_USER``/``XNAT_PASS``, launches the image through an engine as
the container user, and on exit 0 stores the outputs through the handlers. On a
non-zero exit nothing is stored.

As on XNAT (``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/CommandResolutionServiceImpl.java``,
where the output mount's build folder gets ``setWritable(true)``, i.e. owner-only),
the output folder is mode 0700, and the container runs as the docker server's
``container-user`` setting (``DockerControlApi`` passes it as the container's
``User``) or else as the image's ``USER``. The local runner's ``container_user``
defaults to the calling user's ``uid:gid``, as on a site that sets ``container-user``
to the owner of its build folders; ``""`` runs as the image's ``USER``.

A command's ``secrets`` are resolved from the runner's ``properties`` (what XNAT's
JVM system properties are to the Container Service; see
:mod:`sarcoma_xnat.containers.secrets`): the value reaches the container's
environment only, never the resolved command, the log or the :class:`RunResult`.
The command's ``network`` becomes the container's network mode, as
``DockerControlApi`` sets ``HostConfig.NetworkMode``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.containers.command import Command
from sarcoma_xnat.containers.engines import DockerEngine, Engine, InProcessEngine, LaunchSpec, docker_url
from sarcoma_xnat.containers.finalize import StoredOutput, store_outputs
from sarcoma_xnat.containers.mounts import write_catalogs
from sarcoma_xnat.containers.objects import XnatObject
from sarcoma_xnat.containers.resolve import ResolvedCommand, resolve
from sarcoma_xnat.containers.secrets import secret_values
from sarcoma_xnat.errors import ConfigurationError, ContainerError
from sarcoma_xnat.steps.base import stage_session

__all__ = ["OUTPUT_MODE", "RunResult", "available_engine", "container_user", "open_engine",
           "run_command", "run_step", "stage_object"]

log = logging.getLogger(__name__)
ENGINES = ("auto", "docker", "inprocess")
#: mode of an output mount's folder: owner-writable only, as the Container Service makes it
OUTPUT_MODE = 0o700
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")


def container_user(value: str | None = None) -> str:
    """Return the user a container runs as: ``value`` checked, or the caller's ``uid:gid``.

    ``value`` is ``UID[:GID]`` (numbers or names), as the docker server's
    ``container-user`` setting; ``""`` means the image's own ``USER``.
    """
    if value is None:
        return f"{os.getuid()}:{os.getgid()}"
    if value and not _USER.match(value):
        raise ConfigurationError(f"container user must be UID[:GID], got {value!r}")
    return value


@dataclass
class RunResult:
    """Outcome of one launch: engine used, exit status, stored outputs and the log."""

    engine: str
    exit_code: int
    stored: list[StoredOutput] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    resolved: ResolvedCommand | None = None


def stage_object(archive: Archive, obj: XnatObject, dest: Path, attempts: int = 3) -> Path:
    """Copy an object's files into ``dest`` the way XNAT lays out its mount, catalogs included.

    XNAT mounts the archive folder itself, so a launch sees the archive as it is when the
    container starts. A copy can instead race a concurrent change (the ROI plugin
    re-saving a collection deletes and rewrites its files): a file that vanishes mid-copy
    restarts the staging from scratch, a few times, so the mount is one consistent state.
    """
    for attempt in range(1, attempts + 1):
        try:
            return _stage_once(archive, obj, dest)
        except FileNotFoundError:
            if attempt == attempts:
                raise ContainerError(f"the files of {obj.uri} kept changing while they were "
                                     f"staged for the launch ({attempts} tries)") from None
            shutil.rmtree(dest, ignore_errors=True)
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def _stage_once(archive: Archive, obj: XnatObject, dest: Path) -> Path:
    """Stage ``obj`` into ``dest`` once (see :func:`stage_object`)."""
    if obj.type == "Session":
        stage_session(archive, obj.ref, dest, scans=True, assessors=True, resources=True)
    else:
        dest.mkdir(parents=True, exist_ok=True)
        if obj.type == "Resource":
            archive.fetch_resource(obj.ref, obj.resource or "", dest)
        elif obj.type in ("Scan", "Assessor"):
            for res in archive.resources(obj.ref):
                archive.fetch_resource(obj.ref, res.label, dest / res.label)
        else:
            raise ContainerError(f"the local runner cannot mount a {obj.type} ({obj.uri})")
    write_catalogs(archive, obj.type, obj.ref, dest, obj.resource)
    return dest


@contextlib.contextmanager
def open_engine(kind: str = "auto", image: str | None = None,
                sink: Callable[[str], None] = print) -> Iterator[Engine]:
    """Yield an engine: ``docker`` (Docker API), ``inprocess``, or ``auto``.

    ``auto`` uses a running Docker API (``DOCKER_HOST``, Docker's or Podman's socket),
    else starts a private Podman service for the duration, and falls back to the
    in-process engine when there is no engine or ``image`` is not on it, saying why.
    """
    if kind not in ENGINES:
        raise ContainerError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")
    if kind == "inprocess":
        yield InProcessEngine()
        return
    from sarcoma_xnat.containers.podman import PodmanService, podman_available

    with contextlib.ExitStack() as stack:
        url = docker_url()
        if url is None and podman_available():
            url = stack.enter_context(PodmanService()).url
        if url is None:
            if kind == "docker":
                raise ContainerError("no container engine: no DOCKER_HOST, no Docker or Podman socket, "
                                     "no podman to start")
            sink("engine: none found; running in-process")
            yield InProcessEngine()
            return
        try:
            engine = DockerEngine(url)
            if image is not None:
                engine.image_labels(image)
        except ContainerError as exc:
            if kind == "docker":
                raise
            sink(f"engine: {exc}; running in-process")
            yield InProcessEngine()
            return
        sink(f"engine: Docker API at {url}")
        yield engine


def _xnat_env(env: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(env or {})
    for key, default in (("XNAT_HOST", "http://localhost"), ("XNAT_USER", ""), ("XNAT_PASS", "")):
        env.setdefault(key, os.environ.get(key, default))
    return env


def run_command(command: Command, archive: Archive, target: str | None = None,
                wrapper: str | None = None, params: Mapping[str, str] | None = None,
                engine: Engine | None = None, environment: Mapping[str, str] | None = None,
                sink: Callable[[str], None] | None = None,
                user: str | None = None,
                properties: Mapping[str, str] | None = None) -> RunResult:
    """Resolve and launch ``wrapper`` of ``command`` on ``target``; store outputs on exit 0.

    ``user`` is the container user (``UID[:GID]``; default the caller's, see
    :func:`container_user`). ``properties`` are the system properties the command's
    secrets come from (:func:`~sarcoma_xnat.containers.secrets.runner_properties`).
    Raises :class:`ContainerError` when the container exits non-zero (nothing is
    stored) and :class:`ConfigurationError` when the wrapper or a secret does not
    resolve.
    """
    run_as = container_user(user)
    lines: list[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        (sink or log.info)(line)

    resolved = resolve(command, archive, target, wrapper, params)
    hidden = secret_values(resolved.secrets, properties or {})  # before any staging, as XNAT
    engine = engine or InProcessEngine()
    with tempfile.TemporaryDirectory(prefix="sarcoma-xnat-build-") as build:
        hosts: dict[str, Path] = {}
        mounts = []
        for m in resolved.mounts:
            host = Path(build) / m.name
            if m.source is not None:
                stage_object(archive, m.source, host)
            else:
                host.mkdir()
                os.chmod(host, OUTPUT_MODE)  # as CommandResolutionServiceImpl: owner only
            hosts[m.name] = host
            mounts.append((str(host), m.path, m.writable or m.source is None))
        env = {**resolved.environment, **_xnat_env(environment), **hidden}
        spec = LaunchSpec(resolved.image, resolved.command_line, resolved.override_entrypoint,
                          env, tuple(mounts), resolved.working_directory,
                          {"XNAT_WRAPPER": str(resolved.wrapper.get("name"))}, run_as or None,
                          command.data.get("network") or None)
        emit(f"launching {resolved.image} ({engine.name}): {resolved.command_line}")
        code = engine.run(spec, emit)
        result = RunResult(engine.name, code, [], lines, resolved)
        if code != 0:
            raise ContainerError(f"{command.name}: container exited with status {code}; "
                                 f"nothing was stored. Last log lines:\n  " + "\n  ".join(lines[-15:]))
        result.stored = store_outputs(archive, resolved, hosts)
    for item in result.stored:
        emit(f"stored {item.handler}: {item.ref.uri}" + (f" resource {item.label}" if item.label else ""))
    return result


def available_engine() -> str | None:
    """Say which container engine ``auto`` would use, without starting anything.

    Returns ``"docker <url>"`` for a running Docker API, ``"podman"`` when a private
    Podman service can be started (podman installed, running as root), else ``None``.
    """
    from sarcoma_xnat.containers.podman import podman_available

    url = docker_url()
    if url is not None:
        return f"docker {url}"
    if podman_available() and os.geteuid() == 0:
        return "podman"
    return None


def run_step(step: str, archive: Archive, target: str, wrapper: str | None = None,
             params: Mapping[str, str] | None = None, engine: str = "auto",
             sink: Callable[[str], None] = print, user: str | None = None,
             properties: Mapping[str, str] | None = None) -> RunResult:
    """Run step ``step``'s command (``xnat-commands/<step>.json``) on ``target``.

    With ``engine="auto"`` the step's image runs when an engine and the image are
    there, else the same command line runs in-process; the sink is told which.
    """
    from sarcoma_xnat.containers.command import find_command_file, load_command
    from sarcoma_xnat.containers.validate import check_command

    command = check_command(load_command(find_command_file(step)))
    with open_engine(engine, command.image, sink) as chosen:
        return run_command(command, archive, target, wrapper, params, chosen, sink=sink, user=user,
                           properties=properties)

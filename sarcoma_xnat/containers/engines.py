"""Engines that launch a resolved command: a Docker-API engine and an in-process one.

``DockerEngine`` talks the Docker API through the ``docker`` SDK, the way XNAT's
Container Service does (Docker, or Podman's Docker-compatible service).
``InProcessEngine`` runs the same resolved command line through
:func:`sarcoma_xnat.cli.main`, with container mount paths mapped to host folders,
for machines without an engine. Environment, standard streams and working folder
belong to the whole process, so in-process runs take turns (one lock); everything
around them (staging, upload) still runs concurrently.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shlex
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sarcoma_xnat.errors import ContainerError

__all__ = ["DockerEngine", "Engine", "InProcessEngine", "LaunchSpec", "docker_url"]

log = logging.getLogger(__name__)
LogSink = Callable[[str], None]


@dataclass(frozen=True)
class LaunchSpec:
    """What to launch: image, command line, entrypoint mode, environment and bind mounts."""

    image: str
    command_line: str
    override_entrypoint: bool = False
    environment: dict[str, str] = field(default_factory=dict)
    mounts: tuple[tuple[str, str, bool], ...] = ()  # (host path, container path, writable)
    working_directory: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    #: ``UID[:GID]`` the container runs as (XNAT's ``container-user``); None: the image's USER
    user: str | None = None
    #: the command's ``network`` (``HostConfig.NetworkMode`` in container-service
    #: ``api/DockerControlApi.java``); None: the engine's default network
    network: str | None = None


class Engine(Protocol):
    """Runs a :class:`LaunchSpec` and returns the exit status, sending log lines to ``sink``."""

    name: str

    def run(self, spec: LaunchSpec, sink: LogSink) -> int:
        """Run the launch to completion and return its exit status."""
        ...


def docker_url() -> str | None:
    """Return the Docker API address to use: ``DOCKER_HOST``, else a local socket that exists."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    for sock in ("/var/run/docker.sock", "/run/podman/podman.sock"):
        if Path(sock).is_socket():
            return f"unix://{sock}"
    return None


class DockerEngine:
    """Launch containers through the Docker API (Docker, or ``podman system service``).

    Parameters
    ----------
    base_url : str, optional
        Docker API address; default :func:`docker_url`.
    """

    name = "docker"

    def __init__(self, base_url: str | None = None, timeout: int = 600) -> None:
        import docker

        url = base_url or docker_url()
        if url is None:
            raise ContainerError("no Docker API found: set DOCKER_HOST, start Docker, or run "
                                 "`sarcoma-xnat engine start`")
        try:
            self.client = docker.DockerClient(base_url=url, timeout=timeout)
            self.client.ping()
        except Exception as exc:  # the SDK raises several unrelated types here
            raise ContainerError(f"cannot reach the Docker API at {url}: {exc}") from exc
        self.base_url = url

    def image_labels(self, image: str) -> dict[str, str]:
        """Return the labels of a local image."""
        return dict(self._image(image).labels or {})

    def image_size(self, image: str) -> int:
        """Return the size of a local image in bytes."""
        return int(self._image(image).attrs.get("Size") or 0)

    def _image(self, image: str) -> Any:
        import docker.errors

        try:
            return self.client.images.get(image)
        except docker.errors.ImageNotFound:
            raise ContainerError(f"image {image} is not on the engine; build it with "
                                 f"`sarcoma-xnat images build`") from None

    def run(self, spec: LaunchSpec, sink: LogSink) -> int:
        """Create, start and follow a container; remove it when done."""
        self._image(spec.image)
        if spec.override_entrypoint:  # as XNAT: no image entrypoint, the line goes to a shell
            entrypoint, command = ["/bin/sh", "-c"], [spec.command_line]
        else:
            entrypoint, command = None, shlex.split(spec.command_line)
        volumes = {host: {"bind": path, "mode": "rw" if rw else "ro"}
                   for host, path, rw in spec.mounts}
        extra = {"network_mode": spec.network} if spec.network else {}
        container = self.client.containers.create(
            spec.image, command=command, entrypoint=entrypoint, environment=spec.environment,
            volumes=volumes, working_dir=spec.working_directory, labels=spec.labels,
            user=spec.user or None, detach=True, **extra)
        try:
            container.start()
            pending = ""
            for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                pending += chunk.decode("utf-8", "replace")
                *lines, pending = pending.split("\n")
                for line in lines:
                    sink(line)
            if pending:
                sink(pending)
            return int(container.wait().get("StatusCode", 1))
        finally:
            container.remove(force=True)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class _LineWriter(io.TextIOBase):
    """A text stream that hands each complete line of a step's stdout/stderr to a sink.

    The sink runs with the real streams back in place, and a line written while the
    sink runs (a logging handler bound to this stream) goes straight to real stderr.
    """

    def __init__(self, sink: LogSink) -> None:
        self.sink, self.pending, self.busy = sink, "", False
        self.real = (sys.stdout, sys.stderr)

    def write(self, text: str) -> int:
        if self.busy:
            return self.real[1].write(text)
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        saved = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = self.real
        self.busy = True
        try:
            self.sink(line)
        finally:
            self.busy = False
            sys.stdout, sys.stderr = saved

    def flush(self) -> None:
        if self.pending and not self.busy:
            line, self.pending = self.pending, ""
            self._emit(line)


_IN_PROCESS = threading.Lock()  # os.environ, sys.stdout and the cwd are process-wide


class InProcessEngine:
    """Run a ``sarcoma-xnat ...`` command line in this process, mounts mapped to host folders."""

    name = "inprocess"

    @staticmethod
    def argv(spec: LaunchSpec) -> list[str]:
        """Return the argument list for :func:`sarcoma_xnat.cli.main` (mount paths mapped)."""
        args = shlex.split(spec.command_line)
        if not args or Path(args[0]).name != "sarcoma-xnat":
            raise ContainerError(f"the in-process engine runs only sarcoma-xnat command lines, "
                                 f"not {spec.command_line!r}")
        mapping = sorted(((path.rstrip("/"), host) for host, path, _ in spec.mounts),
                         key=lambda p: len(p[0]), reverse=True)

        def translate(arg: str) -> str:
            prefix, value = "", arg
            if arg.startswith("-") and "=" in arg:
                flag, _, value = arg.partition("=")
                prefix = flag + "="
            for path, host in mapping:
                if value == path or value.startswith(path + "/"):
                    return prefix + host + value[len(path):]
            return arg

        return [translate(a) for a in args[1:]]

    def run(self, spec: LaunchSpec, sink: LogSink) -> int:
        """Run the command line through the CLI; exceptions become exit status 1."""
        argv = self.argv(spec)
        sink("in-process: sarcoma-xnat " + " ".join(shlex.quote(a) for a in argv))
        with _IN_PROCESS:
            return self._run(argv, spec, sink)

    @staticmethod
    def _run(argv: list[str], spec: LaunchSpec, sink: LogSink) -> int:
        from sarcoma_xnat.cli import main

        cwd = os.getcwd()
        writer = _LineWriter(sink)
        try:
            with _environment(spec.environment), contextlib.redirect_stdout(writer), \
                    contextlib.redirect_stderr(writer):
                return int(main(argv) or 0)
        except SystemExit as exc:  # argparse refusing the command line
            return exc.code if isinstance(exc.code, int) else 1
        except Exception:  # a crash in a step is the container's non-zero exit
            for line in traceback.format_exc().splitlines():
                sink(line)
            return 1
        finally:
            writer.flush()
            os.chdir(cwd)

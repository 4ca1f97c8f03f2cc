"""Tag the built step images for a registry and push them through the Docker API.

``sarcoma-xnat images push --registry 111122223333.dkr.ecr.eu-west-2.amazonaws.com`` tags
``sarcoma-xnat/<name>:<version>`` as ``<registry>/sarcoma-xnat/<name>:<version>`` and pushes
it. The repository path is the image name the command JSON uses, so the site's Docker host
(``terraform/modules/container_service``) pulls ``<registry>/sarcoma-xnat/<name>:<tag>`` and
tags it back to the name the Container Service launches.

The Docker Engine API answers ``POST /images/{name}/push`` with 200 and reports a failed push
(denied, unknown repository, immutable tag already present) only inside the JSON progress
stream (``errorDetail``), so every stream is read to its end and its errors raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from sarcoma_xnat import __version__
from sarcoma_xnat.containers.images import IMAGES, image_tag
from sarcoma_xnat.errors import ConfigurationError, ContainerError

if TYPE_CHECKING:
    from sarcoma_xnat.containers.engines import DockerEngine

__all__ = ["PushedImage", "push_images", "remote_ref", "step_image_names"]

# host[:port][/path] as a Docker reference's registry part (no scheme, no tag)
_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9._-]+)*$")


@dataclass(frozen=True)
class PushedImage:
    """One pushed image: local tag, remote reference and the digest the registry reported."""

    name: str
    local: str
    remote: str
    digest: str | None


def step_image_names() -> list[str]:
    """Return the images that a command runs (the bases are not pushed by default)."""
    return [spec.name for spec in IMAGES if spec.command]


def remote_ref(registry: str, name: str, tag: str = __version__) -> tuple[str, str]:
    """Return ``(repository, tag)`` of a suite image in ``registry``.

    Raises
    ------
    ConfigurationError
        When ``registry`` is not a bare ``host[:port][/path]``.
    """
    if not _REGISTRY.match(registry or ""):
        raise ConfigurationError(f"--registry must be host[:port][/path] without scheme or tag, got {registry!r}")
    return f"{registry}/{image_tag(name, tag).rsplit(':', 1)[0]}", tag


def _read_stream(stream: Any, ref: str) -> str | None:
    """Consume a push progress stream; return the digest, raise on an error entry."""
    digest = None
    for event in stream:
        if not isinstance(event, dict):
            continue
        if "error" in event or "errorDetail" in event:
            detail = event.get("errorDetail") or {}
            message = detail.get("message") or event.get("error") or "unknown error"
            raise ContainerError(f"push of {ref} failed: {message}")
        aux = event.get("aux") or {}
        digest = aux.get("Digest", digest)
    return digest


def push_images(engine: "DockerEngine", registry: str, names: Sequence[str] | None = None,
                tag: str = __version__, auth: dict[str, str] | None = None) -> list[PushedImage]:
    """Tag each built image for ``registry`` and push it; return what was pushed.

    Parameters
    ----------
    engine : DockerEngine
        The Docker API the images were built with.
    registry : str
        Registry host and optional path, e.g. ``111122223333.dkr.ecr.eu-west-2.amazonaws.com``.
    names : sequence of str, optional
        Images to push (default: every step image, see :func:`step_image_names`).
    tag : str
        Tag to push (default: the suite's version, as ``images build`` tags).
    auth : dict, optional
        ``{"username", "password"}`` for the registry; default: the Docker client's own
        login (``docker login`` / ``~/.docker/config.json``).
    """
    import docker

    known = {spec.name for spec in IMAGES}
    wanted = list(names) if names else step_image_names()
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise ConfigurationError(f"unknown image(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    pushed = []
    for name in wanted:
        local = image_tag(name, tag)
        repository, remote_tag = remote_ref(registry, name, tag)
        remote = f"{repository}:{remote_tag}"
        try:
            image = engine.client.images.get(local)
        except docker.errors.ImageNotFound:
            raise ContainerError(f"{local} is not built here: run `sarcoma-xnat images build {name}` first") from None
        if not image.tag(repository, remote_tag):
            raise ContainerError(f"could not tag {local} as {remote}")
        try:
            stream = engine.client.images.push(repository, tag=remote_tag, stream=True, decode=True,
                                               auth_config=auth)
            digest = _read_stream(stream, remote)
        except docker.errors.APIError as exc:
            raise ContainerError(f"push of {remote} failed: {exc.explanation or exc}") from exc
        pushed.append(PushedImage(name=name, local=local, remote=remote, digest=digest))
    return pushed

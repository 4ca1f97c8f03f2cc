"""Container Service admin: commands, wrapper enablement, launch, bulk launch, status and logs."""

from __future__ import annotations

import json
import time
from typing import Any

from sarcoma_xnat.errors import ConfigurationError, ContainerError, XnatError, XnatNotFoundError
from sarcoma_xnat.xnat.session import XnatSession

__all__ = [
    "ContainersApi",
    "TERMINAL_STATUSES",
    "find_wrapper",
    "is_terminal",
]

#: prefixes of the container statuses after which nothing changes any more: the Container
#: Service calls a status terminal when it *starts with* one of these, so ``Failed (Staging)``,
#: ``Failed (Upload)``, ``Killed (Out of Memory)``... are terminal too
#: (container-service ``src/main/java/org/nrg/containers/utils/ContainerUtils.java``
#: ``statusIsTerminal``; ``docs/container-statuses.md``)
TERMINAL_STATUSES = ("Complete", "Failed", "Killed")


def is_terminal(status: str | None) -> bool:
    """Return whether a container status is terminal (it starts with a terminal prefix)."""
    return status is not None and str(status).startswith(TERMINAL_STATUSES)


def find_wrapper(command: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the wrapper ``name`` of an installed command, or raise naming the command."""
    for wrapper in command.get("xnat", []):
        if wrapper.get("name") == name:
            return wrapper
    raise ConfigurationError(f"command {command.get('name')!r} has no wrapper {name!r}")


class ContainersApi:
    """The Container Service's ``/xapi`` endpoints; reached as ``client.containers``."""

    def __init__(self, session: XnatSession) -> None:
        self.session = session

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, path, **kwargs)
        return self.session.decode_json(response, method) if response.content else None

    # -- commands ----------------------------------------------------------------
    def commands(self, name: str | None = None) -> list[dict[str, Any]]:
        """List installed commands (with their wrappers and ids), optionally by name."""
        params = {"name": name} if name else None
        return list(self._json("GET", "/xapi/commands", params=params) or [])

    def command(self, command_id: int) -> dict[str, Any]:
        """Return one installed command."""
        return dict(self._json("GET", f"/xapi/commands/{command_id}"))

    def find_command(self, name: str, version: str | None = None,
                     image: str | None = None) -> dict[str, Any] | None:
        """Return the installed command with this name (and version/image), or None."""
        for cmd in self.commands(name):
            if cmd.get("name") == name and version in (None, cmd.get("version")) \
                    and image in (None, cmd.get("image")):
                return cmd
        return None

    def install_command(self, command: dict[str, Any]) -> int:
        """POST a command JSON; return its new id (XNAT answers the id as a bare number)."""
        try:
            created = self._json("POST", "/xapi/commands", json=command, ok=(200, 201))
        except XnatError as exc:
            if exc.status == 400:
                raise ConfigurationError(f"XNAT refused command {command.get('name')!r}: {exc}") from None
            raise
        return int(created)

    def update_command(self, command_id: int, command: dict[str, Any]) -> None:
        """Replace an installed command's JSON (keeps its id and wrapper ids)."""
        self.session.post(f"/xapi/commands/{command_id}", json=command, idempotent=True)

    def install_from_image(self, image: str) -> list[dict[str, Any]]:
        """Install the commands of an image's ``org.nrg.commands`` label (image on the docker host)."""
        saved = self._json("POST", "/xapi/docker/images/save", params={"image": image},
                           ok=(200, 201), idempotent=True)
        return list(saved or [])

    def delete_command(self, command_id: int) -> None:
        """Delete an installed command."""
        self.session.delete(f"/xapi/commands/{command_id}")

    # -- enablement ----------------------------------------------------------------
    @staticmethod
    def _enable_path(command_id: int, wrapper: str, project: str | None) -> str:
        prefix = f"/xapi/projects/{project}" if project else "/xapi"
        return f"{prefix}/commands/{command_id}/wrappers/{wrapper}"

    def enable(self, command_id: int, wrapper: str, project: str | None = None) -> None:
        """Enable a wrapper site-wide, or for ``project``."""
        self.session.put(self._enable_path(command_id, wrapper, project) + "/enabled")

    def disable(self, command_id: int, wrapper: str, project: str | None = None) -> None:
        """Disable a wrapper site-wide, or for ``project``."""
        self.session.put(self._enable_path(command_id, wrapper, project) + "/disabled")

    def is_enabled(self, command_id: int, wrapper: str, project: str | None = None) -> bool:
        """Return whether a wrapper is enabled site-wide (or for ``project``).

        container-service ``rest/CommandConfigurationRestApi.java``: the site route
        answers a bare ``true``/``false``; the project route a ``ProjectEnabledReport``
        (``model/configuration/ProjectEnabledReport.java``) ``{"enabled-for-site": …,
        "enabled-for-project": …, "project": …}``, whose ``enabled-for-project`` is
        false while the site enablement is off (``ContainerConfigServiceImpl``).
        """
        text = self.session.get(self._enable_path(command_id, wrapper, project) + "/enabled").text
        try:
            answer = json.loads(text)
        except ValueError:
            answer = text.strip().lower() == "true"
        if isinstance(answer, dict):
            answer = answer.get("enabled-for-project")
        return answer is True

    # -- launch --------------------------------------------------------------------
    @staticmethod
    def _launch_path(project: str | None, wrapper_id: int, root: str, bulk: bool) -> str:
        prefix = f"/xapi/projects/{project}" if project else "/xapi"
        return f"{prefix}/wrappers/{wrapper_id}/root/{root}/" + ("bulklaunch" if bulk else "launch")

    def launch(self, wrapper_id: int, root: str, value: str, project: str | None = None,
               **params: str) -> dict[str, Any]:
        """Launch a wrapper on one object (``value`` is its archive URI); return the launch report.

        Raises ``ContainerError`` with XNAT's message when the launch fails.
        """
        body = {root: value, **params}
        try:
            report = self._json("POST", self._launch_path(project, wrapper_id, root, False), json=body)
        except XnatError as exc:
            raise ContainerError(f"launch of wrapper {wrapper_id} on {value} failed: {exc}") from None
        if report.get("status") != "success":
            raise ContainerError(f"launch of wrapper {wrapper_id} on {value} failed: "
                                 f"{report.get('message', report)}")
        return dict(report)

    def bulk_launch(self, wrapper_id: int, root: str, values: list[str],
                    project: str | None = None, **params: str) -> dict[str, Any]:
        """Launch a wrapper on many objects at once; return the bulk launch report."""
        body = {root: json.dumps(list(values)), **params}
        return dict(self._json("POST", self._launch_path(project, wrapper_id, root, True), json=body))

    # -- containers ----------------------------------------------------------------
    def containers(self, project: str | None = None) -> list[dict[str, Any]]:
        """List containers (all, or one project's)."""
        path = f"/xapi/projects/{project}/containers" if project else "/xapi/containers"
        return list(self._json("GET", path) or [])

    def container(self, container_id: str | int) -> dict[str, Any]:
        """Return one container record (``status``, ``exit-code``, ``history``...)."""
        return dict(self._json("GET", f"/xapi/containers/{container_id}"))

    def find_by_workflow(self, workflow_id: str) -> dict[str, Any] | None:
        """Return the container started for a launch's ``workflow-id``, or None (still queued)."""
        for record in self.containers():
            if str(record.get("workflow-id")) == str(workflow_id):
                return record
        return None

    def workflow(self, workflow_id: str) -> dict[str, Any] | None:
        """Return a launch's workflow (``status``, ``details``), or None when XNAT has none.

        xnat-web ``src/main/java/org/nrg/xapi/rest/workflow/WorkflowApi.java``
        (``GET /xapi/workflows/{workflowId}``).
        """
        try:
            return dict(self._json("GET", f"/xapi/workflows/{workflow_id}") or {})
        except XnatError:
            return None

    def wait(self, report: dict[str, Any], timeout: float = 600.0, poll: float = 2.0) -> dict[str, Any]:
        """Poll until a launched container reaches a terminal status; return its record.

        A launch that fails before a container exists (command resolution, e.g. a
        secret whose system property is not set) leaves only its workflow ``Failed (...)``
        (container-service ``services/impl/ContainerServiceImpl.java``
        ``consumeResolveCommandAndLaunchContainer``): that raises with the workflow's details.
        """
        deadline = time.monotonic() + timeout
        while True:
            if report.get("container-id"):
                record: dict[str, Any] | None = self.container(report["container-id"])
            else:
                record = self.find_by_workflow(str(report.get("workflow-id")))
            if record is not None and is_terminal(record.get("status")):
                return record
            flow = self.workflow(str(report.get("workflow-id"))) if record is None else None
            if flow is not None and str(flow.get("status", "")).startswith(("Failed", "Killed")):
                raise ContainerError(f"launch {report.get('workflow-id')} {flow.get('status')}: "
                                     f"{flow.get('details') or 'no container was made'}")
            if time.monotonic() > deadline:
                state = record.get("status") if record else "queued"
                raise ContainerError(f"container for workflow {report.get('workflow-id')} still "
                                     f"{state} after {timeout:.0f}s")
            time.sleep(poll)

    def logs(self, container_id: str | int, stream: str = "stdout") -> str:
        """Return a container's stdout or stderr log ('' when it wrote nothing)."""
        try:
            return self.session.get(f"/xapi/containers/{container_id}/logs/{stream}").text
        except XnatNotFoundError:
            return ""

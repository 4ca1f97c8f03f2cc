"""Run one wrapper over every session of a project through the Container Service's bulk launch.

``POST …/wrappers/{id}/root/{root}/bulklaunch`` takes the root input's values as a
JSON array encoded as a string and only *queues* each launch: every success in
its ``BulkLaunchReport`` has ``workflow-id`` "To be assigned" (container-service
``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/ContainerServiceImpl.java``
``bulkLaunch``, ``TO_BE_ASSIGNED``). The containers it starts are therefore found
as the project's new containers of that wrapper, and a container record does not
name its inputs (``model/container/auto/Container.java``: ``inputs`` is
``@JsonIgnore``). A session's value is its URI ``/archive/experiments/{ID}``, the
form the Container Service itself gives (``model/xnat/Session.java``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.progress import progress
from sarcoma_xnat.xnat.client import XnatClient
from sarcoma_xnat.xnat.refs import resultset_rows

__all__ = ["BulkPlan", "BulkResult", "plan_bulk", "run_bulk"]


def is_terminal(status: object) -> bool:
    """Return whether a container status is final: it *starts with* Complete, Failed or Killed.

    (container-service ``src/main/java/org/nrg/containers/utils/ContainerUtils.java``;
    there are many ``Failed (…)`` variants.)
    """
    return status is not None and str(status).startswith(("Complete", "Failed", "Killed"))


@dataclass
class BulkPlan:
    """What a bulk run will do: the wrapper, its root input and the sessions to launch on."""

    command_id: int
    wrapper_id: int
    wrapper: str
    root: str
    resource: str | None
    targets: dict[str, str] = field(default_factory=dict)  # session label -> URI
    skipped: list[str] = field(default_factory=list)  # labels that already have the output


@dataclass
class BulkResult:
    """How a bulk run went: the bulk id, launch refusals and containers that did not complete."""

    bulk_id: str
    launched: int
    refused: list[str] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    unfinished: int = 0

    @property
    def ok(self) -> bool:
        """Return whether every session was launched and every container completed."""
        return not self.refused and not self.failed and not self.unfinished


def _find_wrapper(client: XnatClient, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for command in client.containers.commands():
        for wrapper in command.get("xnat", []):
            if wrapper.get("name") == name:
                return command, wrapper
    raise ConfigurationError(f"no installed wrapper {name!r} (run 'sarcoma-xnat xnat install')")


def plan_bulk(client: XnatClient, project: str, wrapper_name: str, missing: bool = False,
              resource: str | None = None) -> BulkPlan:
    """List the project's image sessions and keep those the wrapper should run on.

    With ``missing``, sessions that already hold the wrapper's output resource
    (``resource``, default: the label of its first ``Resource`` output handler on
    the session) are skipped.
    """
    command, wrapper = _find_wrapper(client, wrapper_name)
    roots = [i for i in wrapper.get("external-inputs", []) if i.get("type") == "Session"]
    if len(wrapper.get("external-inputs", [])) != 1 or not roots:
        raise ConfigurationError(f"wrapper {wrapper_name!r} does not take one Session; a bulk "
                                 "run over a project's sessions needs a session wrapper")
    root = str(roots[0]["name"])
    if resource is None:
        resource = next((str(h["label"]) for h in wrapper.get("output-handlers", [])
                         if h.get("type", "Resource") == "Resource" and h.get("as-a-child-of") == root
                         and h.get("label")), None)
    if missing and not resource:
        raise ConfigurationError(f"wrapper {wrapper_name!r} stores no resource on the session; "
                                 "give --resource LABEL to tell which sessions lack its output")
    plan = BulkPlan(int(command["id"]), int(wrapper["id"]), wrapper_name, root, resource)
    for row in sorted(client.objects.sessions(project), key=lambda r: str(r.get("label"))):
        if "SessionData" not in str(row.get("xsiType", "xnat:imageSessionData")):
            continue
        label, ident = str(row["label"]), str(row["ID"])
        if missing:
            path = f"/data/experiments/{ident}/resources"
            labels = {r.get("label") for r in resultset_rows(client.session.get_json(path), path)}
            if resource in labels:
                plan.skipped.append(label)
                continue
        plan.targets[label] = f"/archive/experiments/{ident}"
    return plan


def _new_terminal(client: XnatClient, project: str, wrapper_id: int, before: set[str],
                  expected: int, timeout: float, poll: float,
                  sleep: Callable[[float], None]) -> Iterator[dict[str, Any]]:
    """Yield the wrapper's new containers in the project as each reaches a terminal status."""
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while len(seen) < expected and time.monotonic() < deadline:
        for record in client.containers.containers(project):
            key = str(record.get("id"))
            if key in before or key in seen or int(record.get("wrapper-id") or -1) != wrapper_id:
                continue
            if is_terminal(record.get("status")):
                seen.add(key)
                yield record
        if len(seen) < expected:
            sleep(poll)


def run_bulk(client: XnatClient, plan: BulkPlan, project: str,
             params: dict[str, str] | None = None, timeout: float = 3600.0, poll: float = 5.0,
             wait: bool = True, sleep: Callable[[float], None] = time.sleep) -> BulkResult:
    """Bulk-launch ``plan`` on ``project``, then wait for its containers with a progress display."""
    if not plan.targets:
        return BulkResult("", 0)
    before = {str(r.get("id")) for r in client.containers.containers(project)}
    report = client.containers.bulk_launch(plan.wrapper_id, plan.root, list(plan.targets.values()),
                                           project=project, **(params or {}))
    by_uri = {uri: label for label, uri in plan.targets.items()}
    refused = [f"{by_uri.get((f.get('params') or {}).get(plan.root), '?')}: {f.get('message')}"
               for f in report.get("failures", [])]
    result = BulkResult(str(report.get("bulk-launch-id", "")), len(report.get("successes", [])),
                        refused)
    if not wait or not result.launched:
        return result
    done = 0
    for record in progress(_new_terminal(client, project, plan.wrapper_id, before,
                                         result.launched, timeout, poll, sleep),
                           desc=f"{plan.wrapper} containers", total=result.launched):
        done += 1
        if not str(record.get("status")).startswith("Complete"):
            result.failed.append(record)
    result.unfinished = result.launched - done
    return result

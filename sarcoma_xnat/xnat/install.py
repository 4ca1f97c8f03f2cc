"""Install the suite into an XNAT: commands, wrapper enablement, and the ROI-save subscriptions.

:func:`install_suite` is idempotent: it compares what is on the server with what
``xnat-commands/`` says and changes only the difference, so a second run changes
nothing. With ``dry_run=True`` it only reports what it would change.

The subscriptions launch every ROI-collection wrapper of the triggered commands
(by default the preprocessing command) when an annotator saves an ROI collection
in OHIF: one subscription per wrapper, on ImageAssessorEvent **UPDATED** only.
The OHIF plugin saves the assessor several times per upload
(``DefaultCollectionStorage.storeImpl`` in the ICR OHIF-XNAT plugin, e.g.
``nekoaimo/neko-ohif-xnat:src/main/java/org/nrg/xnatx/roi/process/DefaultCollectionStorage.java``):
CREATED before any resource exists (a launch could never match the wrapper's
SEG/RTSTRUCT matcher), UPDATED once the catalog exists but before the file is
written, UPDATED again with the file, and for RTSTRUCT two more for the AIM copy
(``OhifRoiApi.storeAlternateTypes``). The preprocess step itself exits cleanly
without writing when the annotation file is not there yet and skips a run whose
inputs are already recorded in the session's output, so one save gives one result.

Prerequisites on the server: the Event Service enabled (checked first, see
:meth:`~sarcoma_xnat.xnat.events.EventsApi.require_enabled`). Subscription names are
not unique in XNAT; the installer recognises its own by name, event filter and action
key, and removes duplicates and stale ones it made.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sarcoma_xnat.errors import CommandValidationError
from sarcoma_xnat.xnat.client import XnatClient
from sarcoma_xnat.xnat.events import action_key, subscription_body
from sarcoma_xnat.xnat.roi import ROI_XSI_TYPE

__all__ = [
    "Change",
    "ROI_PAYLOAD_FILTER",
    "ROI_STATUS",
    "install_suite",
    "load_suite_commands",
]

#: only ROI collections trigger the subscriptions; the predicate only, as XNAT wraps it
#: as ``$[?( … )]`` itself and refuses a ``$``-rooted filter with 424
#: (xnat-web ``eventservice/services/impl/EventSubscriptionEntityServiceImpl.java``)
ROI_PAYLOAD_FILTER = f'@.xsiType == "{ROI_XSI_TYPE}"'
#: the assessor save that carries the annotation file (see the module docstring)
ROI_STATUS = "UPDATED"


@dataclass(frozen=True)
class Change:
    """One change the installer made (or would make)."""

    action: str
    target: str

    def __str__(self) -> str:
        return f"{self.action}: {self.target}"


def load_suite_commands(directory: str | Path | None = None) -> list[dict[str, Any]]:
    """Load and validate every command JSON of ``xnat-commands/`` (sorted by file name)."""
    from sarcoma_xnat.containers.command import commands_dir, load_command
    from sarcoma_xnat.containers.validate import command_errors

    folder = Path(directory) if directory else commands_dir()
    out = []
    for path in sorted(folder.glob("*.json")):
        command = load_command(path)
        errors = command_errors(command)
        if errors:
            raise CommandValidationError(f"{path.name} would be refused by XNAT", errors,
                                         file=str(path))
        out.append(command.data)
    return out


def _strip_ids(command: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in command.items() if k not in ("id", "hash")}
    clean["xnat"] = [{k: v for k, v in w.items() if k != "id"} for w in command.get("xnat", [])]
    return clean


def _subset(local: Any, remote: Any) -> bool:
    """Return whether everything ``local`` says is also in ``remote`` (XNAT adds defaults)."""
    if isinstance(local, dict):
        return isinstance(remote, dict) and all(
            k in ("id", "hash") or _subset(v, remote.get(k)) for k, v in local.items())
    if isinstance(local, list):
        return isinstance(remote, list) and len(local) == len(remote) and all(
            _subset(a, b) for a, b in zip(local, remote))
    return bool(json.dumps(local) == json.dumps(remote))


def _same(installed: dict[str, Any], command: dict[str, Any]) -> bool:
    return _subset(_strip_ids(command), installed)


def _triggered(command: dict[str, Any], names: Sequence[str]) -> list[dict[str, Any]]:
    """Return the ROI-collection wrappers of a command that subscriptions should launch."""
    if not any(n in str(command.get("name")) for n in names):
        return []
    return [w for w in command.get("xnat", [])
            if ROI_XSI_TYPE in w.get("contexts", []) and len(w.get("external-inputs", [])) == 1]


def install_suite(
    client: XnatClient,
    project: str,
    commands: list[dict[str, Any]] | None = None,
    dry_run: bool = False,
    triggered: Sequence[str] = ("preprocess",),
    sink: Callable[[str], None] = print,
) -> list[Change]:
    """Install the suite's commands, enable them site-wide and for ``project``, subscribe.

    Returns the changes made (or, with ``dry_run``, the changes that would be made).
    """
    commands = load_suite_commands() if commands is None else commands
    changes: list[Change] = []
    if any(_triggered(c, triggered) for c in commands):
        client.events.require_enabled()  # else no subscription can be made or fire

    def change(action: str, target: str) -> None:
        changes.append(Change(action, target))
        sink(("would " if dry_run else "") + f"{action}: {target}")

    cs = client.containers
    for command in commands:
        name = str(command["name"])
        installed = cs.find_command(name)
        if installed is None:
            change("install command", f"{name} {command.get('version', '')}".strip())
            installed = None if dry_run else cs.command(cs.install_command(command))
        elif not _same(installed, command):
            change("update command", f"{name} (id {installed['id']})")
            if not dry_run:
                cs.update_command(int(installed["id"]), _strip_ids(command))
                installed = cs.command(int(installed["id"]))
        for wrapper in command.get("xnat", []):
            wname = str(wrapper["name"])
            cid = int(installed["id"]) if installed else None
            for scope in (None, project):
                if cid is None or not cs.is_enabled(cid, wname, scope):
                    change("enable wrapper", f"{name}/{wname} " + (f"for project {scope}" if scope else "site-wide"))
                    if cid is not None and not dry_run:
                        cs.enable(cid, wname, scope)
            if wrapper in _triggered(command, triggered):
                wid = next((w.get("id") for w in (installed or {}).get("xnat", [])
                            if w.get("name") == wname), None)
                _subscribe(client, project, wname, wid, dry_run, change)
    return changes


def _subscribe(client: XnatClient, project: str, wrapper: str, wrapper_id: Any,
               dry_run: bool, change: Callable[[str, str], None]) -> None:
    """Make sure exactly one UPDATED subscription of ours launches this wrapper, and that it resolves."""
    events = client.events
    prefix = f"sarcoma-xnat {project}: {wrapper} on ROI collection"
    name = f"{prefix} saved"
    body = subscription_body(name, "ImageAssessorEvent", ROI_STATUS,
                             action_key(wrapper_id) if wrapper_id is not None else "?",
                             project_ids=[project], payload_filter=ROI_PAYLOAD_FILTER)
    # names are not unique (xnat-web EventServiceRestApi.createSubscription checks none):
    # ours are those named by this installer for this project and wrapper
    ours = sorted((s for s in events.subscriptions() if str(s.get("name", "")).startswith(prefix)),
                  key=lambda s: int(s.get("id") or 0))
    wanted = {k: body[k] for k in ("action-key", "event-filter", "active")}
    keep = next((s for s in ours if s.get("name") == name and s.get("valid") is not False
                 and all(_subset(v, s.get(k)) for k, v in wanted.items())), None)
    for sub in ours:
        if sub is keep:
            continue
        same_name = sub.get("name") == name
        change("remove duplicate subscription" if same_name and keep is not None
               else "remove stale subscription", f"{sub.get('name')} (id {sub.get('id')})")
        if not dry_run:
            events.delete(int(sub["id"]))
    if keep is not None:
        if not dry_run:
            events.verify(int(keep["id"]))
        return
    change("create subscription", name)
    if not dry_run:
        events.verify(events.create(body))

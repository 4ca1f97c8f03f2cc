"""Emulated Container Service: commands, wrapper enablement, (bulk) launch, containers, logs.

Launches are queued on a pool of :data:`LAUNCH_WORKERS` background workers and run
concurrently, as the real service's JMS staging queue is consumed by 10-20 listeners
(container-service ``src/main/java/org/nrg/containers/config/ContainersConfig.java``,
``QUEUE_MIN_CONCURRENCY_DFLT``/``QUEUE_MAX_CONCURRENCY_DFLT``; ``jms/preferences/QueuePrefsBean.java``).
They are run by ``emu.launcher`` (default: the package's local runner with the
in-process engine, on the emulator's own archive, as XNAT mounts its archive; the
runner mounts archive folders with their catalogs and makes output mounts
owner-writable only, as ``CommandResolutionServiceImpl`` does).

Command ``secrets`` are resolved from ``emu.system_properties``, the model of XNAT's
JVM system properties (``-Dname=value``): container-service
``src/main/java/org/nrg/containers/secrets/SystemPropertySecretSource.java`` reads
``System.getProperty(identifier)``. A property that is not set fails command
resolution (``secrets/ResolvedSecret.java`` ``WithValue``; ``CommandResolutionServiceImpl.resolveSecrets``):
``ContainerServiceImpl.consumeResolveCommandAndLaunchContainer`` then marks the
launch's workflow ``Failed (Command resolution)`` and no container is made. A value
reaches only the container's environment (``secrets/ContainerPropertiesWithSecretValues.java``);
container records show the ordinary ``env`` (``model/container/auto/Container.java``,
``XNAT_PASS`` scrubbed by ``rest/ContainerRestApi.java``) and the ``secrets``
declarations, never a value (``ResolvedSecret`` serialises as ``Secret``). Workflows
are read at ``/xapi/workflows/{id}`` (xnat-web ``src/main/java/org/nrg/xapi/rest/workflow/WorkflowApi.java``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from xnat_emulator.server import Request, Response, XnatEmulator


@dataclass
class LaunchContext:
    """Everything a launcher needs for one container."""

    emulator: XnatEmulator
    command: dict[str, Any]
    wrapper: dict[str, Any]
    project: str | None
    root: str
    value: str
    params: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    #: XNAT's JVM system properties, where the command's secrets come from
    properties: dict[str, str] = field(default_factory=dict)


Launcher = Callable[[LaunchContext], tuple[int, str]]

#: launches that run at once (the Container Service's default minimum staging concurrency)
LAUNCH_WORKERS = 10


def runner_launcher(ctx: LaunchContext) -> tuple[int, str]:
    """Run a launch with the package's local runner and in-process engine; return (exit, log)."""
    from sarcoma_xnat.containers.command import load_command
    from sarcoma_xnat.containers.engines import InProcessEngine
    from sarcoma_xnat.containers.runner import run_command
    from sarcoma_xnat.errors import SarcomaXnatError

    lines: list[str] = []
    try:
        run_command(load_command(ctx.command), ctx.emulator.archive, ctx.value,
                    ctx.wrapper["name"], ctx.params, InProcessEngine(), ctx.env, lines.append,
                    properties=ctx.properties)
    except SarcomaXnatError as exc:
        lines.append(f"ERROR: {exc}")
        return 1, "\n".join(lines)
    return 0, "\n".join(lines)


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    """Return a command as ``/xapi/commands`` shows it: the JSON plus ids."""
    out = json.loads(json.dumps(entry["json"]))
    out["id"] = entry["id"]
    for wrapper in out.get("xnat", []):
        wrapper["id"] = entry["wrappers"][wrapper["name"]]
    return out


def _unresolved_secret(command: dict[str, Any], properties: dict[str, str]) -> str | None:
    """Return CS's failure message for the first secret without a value, else None."""
    for secret in command.get("secrets") or []:
        source, dest = secret.get("source") or {}, secret.get("destination") or {}
        if source.get("type") == "system-property" and source.get("identifier") in properties:
            continue  # SystemPropertySecretSource.ValueObtainer: System.getProperty
        # Secret.toString / SystemPropertySecretSource.toString / EnvironmentVariableSecretDestination.toString
        text = (f'Secret{{source=SystemProperty{{"{source.get("identifier")}"}}, '
                f'destination=EnvironmentVariable{{name="{dest.get("identifier")}"}}}}')
        return ("Submitted data does not match command resolution requirements. "
                f"Could not resolve secret {text}")
    return None


def register(emu: XnatEmulator) -> None:
    """Add the Container Service routes."""
    cs: dict[str, Any] = {"commands": {}, "site": set(), "project": set(), "containers": {},
                          "next": 1, "images": {}, "workflows": {}}
    emu.cs = cs  # type: ignore[attr-defined]
    emu.system_properties = {}  # type: ignore[attr-defined]  # XNAT's JVM -D properties
    emu.launcher = runner_launcher  # type: ignore[attr-defined]
    emu.launch_pool = ThreadPoolExecutor(max_workers=LAUNCH_WORKERS,  # type: ignore[attr-defined]
                                         thread_name_prefix="cs-launch")
    lock = threading.Lock()

    def next_id() -> int:
        with lock:
            cs["next"] += 1
            return int(cs["next"])

    def add_command(body: dict[str, Any]) -> tuple[int, str | None]:
        from sarcoma_xnat.containers.validate import command_errors

        errors = command_errors(body, strict=False)
        if errors:
            return 0, "Invalid command:\n\t" + "\n\t".join(errors)
        cid = next_id()
        cs["commands"][cid] = {"id": cid, "json": body,
                               "wrappers": {w["name"]: next_id() for w in body.get("xnat", [])}}
        return cid, None

    def find_wrapper(wid: int) -> tuple[dict[str, Any], str] | None:
        for entry in cs["commands"].values():
            for name, ident in entry["wrappers"].items():
                if ident == wid:
                    return entry, name
        return None

    emu.cs_find_wrapper = find_wrapper  # type: ignore[attr-defined]

    def commands_get(req: Request, m: Any) -> Response:
        rows = [_public(e) for e in cs["commands"].values()]
        for key in ("name", "version", "image"):
            if req.query.get(key):
                rows = [r for r in rows if r.get(key) == req.query[key]]
        return Response.json(rows)

    def commands_post(req: Request, m: Any) -> Response:
        cid, error = add_command(req.json())
        return Response.error(400, error) if error else Response.json(cid, 201)

    def command_get(req: Request, m: Any) -> Response:
        entry = cs["commands"].get(int(m.group(1)))
        return Response.json(_public(entry)) if entry else Response.error(404, "No such command")

    def command_update(req: Request, m: Any) -> Response:
        entry = cs["commands"].get(int(m.group(1)))
        if entry is None:
            return Response.error(404, "No such command")
        from sarcoma_xnat.containers.validate import command_errors

        body = req.json()
        body.pop("id", None)
        for w in body.get("xnat", []):
            w.pop("id", None)
        errors = command_errors(body, strict=False)
        if errors:
            return Response.error(400, "Invalid command:\n\t" + "\n\t".join(errors))
        entry["json"] = body
        entry["wrappers"] = {w["name"]: entry["wrappers"].get(w["name"]) or next_id()
                             for w in body.get("xnat", [])}
        return Response.text("")

    def command_delete(req: Request, m: Any) -> Response:
        if cs["commands"].pop(int(m.group(1)), None) is None:
            return Response.error(404, "No such command")
        return Response.text("", 204)

    def enabled(req: Request, m: Any) -> Response:
        project, cid, wname, verb = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        entry = cs["commands"].get(cid)
        if entry is None or wname not in entry["wrappers"]:
            return Response.error(404, f"No wrapper {wname} on command {cid}")
        key = (project, cid, wname) if project else (cid, wname)
        bucket = cs["project"] if project else cs["site"]
        if req.method == "GET":
            # container-service CommandConfigurationRestApi.isConfigurationEnabled: a bare
            # Boolean for the site; for a project a ProjectEnabledReport
            # (model/configuration/ProjectEnabledReport.java), whose enabled-for-project
            # needs the site enablement too (ContainerConfigServiceImpl.isEnabledForProject)
            site = (cid, wname) in cs["site"]
            if verb != "enabled":
                return Response.error(405, "Request method 'GET' not supported")
            if not project:
                return Response.json(site)
            return Response.json({"enabled-for-site": site,
                                  "enabled-for-project": site and key in bucket, "project": project})
        (bucket.add if verb == "enabled" else bucket.discard)(key)
        return Response.text("")

    def images_save(req: Request, m: Any) -> Response:
        image = req.query.get("image", "")
        labels = cs["images"].get(image)
        if labels is None:
            return Response.error(404, f"No image {image} on the docker server")
        from sarcoma_xnat.containers.label import commands_from_label

        saved = []
        for command in commands_from_label(labels.get("org.nrg.commands"), image):
            body = command.data if hasattr(command, "data") else dict(command)  # type: ignore[arg-type]
            cid, error = add_command(dict(body, image=image))
            if error:
                return Response.error(400, error)
            saved.append(_public(cs["commands"][cid]))
        return Response.json(saved)

    def launch(req: Request, m: Any, bulk: bool) -> Response:
        project, wid, root = m.group(1), int(m.group(2)), m.group(3)
        params = {k: str(v) for k, v in req.json().items()} if req.length else dict(req.query)
        if bulk:
            targets = json.loads(params.pop(root, "[]"))
            report: dict[str, Any] = {"bulk-launch-id": f"bulk-{req.user}{int(time.time() * 1000)}",
                                      "pipeline-name": str(wid), "successes": [], "failures": []}
            for target in targets:
                single = emu.cs_launch(project, wid, root, {**params, root: target}, req.user)  # type: ignore[attr-defined]
                if single["status"] == "success":  # only queued: ContainerServiceImpl.bulkLaunch
                    single = {**single, "workflow-id": "To be assigned"}  # TO_BE_ASSIGNED
                report["successes" if single["status"] == "success" else "failures"].append(single)
            return Response.json(report)
        single = emu.cs_launch(project, wid, root, params, req.user)  # type: ignore[attr-defined]
        return Response.json(single, 200 if single["status"] == "success" else 500)

    def cs_launch(project: str | None, wid: int, root: str, params: dict[str, str],
                  user: str | None) -> dict[str, Any]:
        found = find_wrapper(wid)
        base = {"params": params, "id": None, "wrapper-id": wid}
        if found is None:
            return {**base, "status": "failure", "message": f"No wrapper with id {wid}"}
        entry, wname = found
        base["command-id"] = entry["id"]
        if (entry["id"], wname) not in cs["site"] or (
                project and (project, entry["id"], wname) not in cs["project"]):
            return {**base, "status": "failure",
                    "message": f"Wrapper {wname} is not enabled" + (f" for project {project}" if project else "")}
        wrapper = next(w for w in entry["json"]["xnat"] if w["name"] == wname)
        value = params.get(root, "")
        workflow = str(next_id() + 100000)
        flow = {"wrk_workflowData_id": workflow, "ID": value, "ExternalID": project,
                "pipeline_name": wname, "status": "Queued", "details": "", "comments": ""}
        cs["workflows"][workflow] = flow
        properties = dict(emu.system_properties)  # type: ignore[attr-defined]
        failure = _unresolved_secret(entry["json"], properties)
        if failure is not None:  # resolution fails on the queue: workflow only, no container
            flow.update(status="Failed (Command resolution)", details=failure)
            return {**base, "status": "success", "workflow-id": workflow}
        alias, secret = emu.issue_token(user or "admin")
        ctx = LaunchContext(emu, entry["json"], wrapper, project, root, value,
                            {k: v for k, v in params.items() if k != root},
                            {"XNAT_HOST": emu.url, "XNAT_USER": alias, "XNAT_PASS": secret},
                            properties)
        db_id = next_id()
        record = {"id": db_id, "container-id": uuid.uuid4().hex, "status": "Created",
                  "workflow-id": workflow, "command-id": entry["id"], "wrapper-id": wid,
                  "project": project, "user-id": user, "exit-code": None,
                  "env": {"XNAT_HOST": emu.url, "XNAT_USER": alias, "XNAT_PASS": "******"},
                  "secrets": json.loads(json.dumps(entry["json"].get("secrets") or [])),
                  "history": [{"status": "Created", "time-recorded": int(time.time() * 1000)}],
                  "logs": {"stdout": "", "stderr": ""}}
        cs["containers"][db_id] = record
        flow["comments"] = record["container-id"]
        emu.launch_pool.submit(_run, emu, record, ctx, alias)
        return {**base, "status": "success", "workflow-id": workflow}

    emu.cs_launch = cs_launch  # type: ignore[attr-defined]
    p = r"/xapi(?:/projects/([^/]+))?"
    emu.route("GET", r"/xapi/commands", commands_get)
    emu.route("POST", r"/xapi/commands", commands_post)
    emu.route("GET", r"/xapi/commands/(\d+)", command_get)
    emu.route("POST", r"/xapi/commands/(\d+)", command_update)
    emu.route("DELETE", r"/xapi/commands/(\d+)", command_delete)
    for method in ("GET", "PUT"):
        emu.route(method, p + r"/commands/(\d+)/wrappers/([^/]+)/(enabled|disabled)", enabled)
    emu.route("POST", r"/xapi/docker/images/save", images_save)
    emu.route("POST", p + r"/wrappers/(\d+)/root/([^/]+)/launch", lambda r, m: launch(r, m, False))
    emu.route("POST", p + r"/wrappers/(\d+)/root/([^/]+)/bulklaunch", lambda r, m: launch(r, m, True))
    emu.route("GET", r"/xapi/containers", lambda r, m: Response.json(
        [_show(c) for c in cs["containers"].values()]))
    emu.route("GET", r"/xapi/projects/([^/]+)/containers", lambda r, m: Response.json(
        [_show(c) for c in cs["containers"].values() if c["project"] == m.group(1)]))
    emu.route("GET", r"/xapi/containers/([^/]+)", lambda r, m: _container(cs, m.group(1)))
    emu.route("GET", r"/xapi/containers/([^/]+)/logs/(stdout|stderr)",
              lambda r, m: _logs(cs, m.group(1), m.group(2)))
    emu.route("GET", r"/xapi/workflows/([^/]+)", lambda r, m: (
        Response.json(cs["workflows"][m.group(1)]) if m.group(1) in cs["workflows"]
        else Response.error(404, f"No workflow {m.group(1)}")))


def _show(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "logs"}


def _lookup(cs: dict[str, Any], key: str) -> dict[str, Any] | None:
    for record in cs["containers"].values():
        if key in (str(record["id"]), record["container-id"]):
            return record
    return None


def _container(cs: dict[str, Any], key: str) -> Response:
    record = _lookup(cs, key)
    return Response.json(_show(record)) if record else Response.error(404, f"No container {key}")


def _logs(cs: dict[str, Any], key: str, stream: str) -> Response:
    record = _lookup(cs, key)
    if record is None or not record["logs"][stream]:
        return Response.error(404, f"No {stream} log for container {key}")
    return Response.text(record["logs"][stream])


def _run(emu: XnatEmulator, record: dict[str, Any], ctx: LaunchContext, alias: str) -> None:
    """Run one queued launch and finalise its record (the token dies with the container)."""
    flow = emu.cs["workflows"].get(record["workflow-id"], {})  # type: ignore[attr-defined]

    def status(value: str, message: str = "") -> None:
        record["status"] = flow["status"] = value  # the workflow follows its container
        record["history"].append({"status": value, "message": message,
                                  "time-recorded": int(time.time() * 1000)})

    status("Running")
    try:
        code, log = emu.launcher(ctx)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - any launcher crash is a failed container
        code, log = 1, f"{type(exc).__name__}: {exc}"
    record["exit-code"] = code
    record["logs"]["stdout"] = log
    status("Complete" if code == 0 else "Failed",
           "" if code == 0 else "Non-zero exit code and/or failure status from container")
    emu.tokens.pop(alias, None)

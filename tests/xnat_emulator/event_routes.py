"""Emulated Event Service: event types, actions, subscriptions, and firing them.

As in XNAT, a subscription naming an unknown event type or action is stored
(201, ``valid: true``) and then simply never fires; only reading it back against
``/xapi/events/events`` and ``/xapi/events/allactions`` reveals the mistake.
"""

from __future__ import annotations

import time
from typing import Any

from sarcoma_xnat.archive import ObjectRef
from xnat_emulator.archive_routes import rest_uri
from xnat_emulator.server import Request, Response, XnatEmulator

PREFIX = "org.nrg.xnat.eventservice.events."
PROVIDER = "org.nrg.containers.services.CommandActionProvider"
EVENTS = {
    "ProjectEvent": (["CREATED", "DELETED"], "xnat:projectData"),
    "SubjectEvent": (["CREATED", "DELETED"], "xnat:subjectData"),
    "SessionEvent": (["CREATED", "DELETED", "MERGED"], "xnat:imageSessionData"),
    "ScanEvent": (["CREATED"], "xnat:imageScanData"),
    "ImageAssessorEvent": (["CREATED", "UPDATED"], "xnat:imageAssessorData"),
    "ResourceEvent": (["CREATED", "UPDATED"], "xnat:resourceCatalog"),
    "ScheduledEvent": (["SCHEDULED"], "xnat:projectData"),
}


def _payload_matches(payload_filter: str | None, payload: dict[str, Any]) -> bool:
    if not payload_filter:
        return True
    from sarcoma_xnat.containers.matchers import matches

    text = payload_filter.strip()
    if text.startswith("$[?(") and text.endswith(")]"):
        text = text[4:-2]
    try:
        return matches(text, payload)
    except Exception:  # noqa: BLE001 - an unreadable filter matches nothing
        return False


def register(emu: XnatEmulator) -> None:
    """Add the Event Service routes and ``emu.fire_assessor_event``."""
    subs: dict[int, dict[str, Any]] = {}
    state = {"next": 0, "roi_delay": 0.0}
    emu.subscriptions = subs  # type: ignore[attr-defined]
    emu.deliveries = []  # type: ignore[attr-defined]
    emu.event_state = state  # type: ignore[attr-defined]
    emu.roi_store_delay = lambda: time.sleep(state["roi_delay"])  # type: ignore[attr-defined]

    def actions(project: str | None = None, xnat_type: str | None = None) -> list[dict[str, Any]]:
        out = []
        for entry in emu.cs["commands"].values():  # type: ignore[attr-defined]
            for wrapper in entry["json"].get("xnat", []):
                if xnat_type and xnat_type not in wrapper.get("contexts", []):
                    continue
                if project and (project, entry["id"], wrapper["name"]) not in emu.cs["project"]:  # type: ignore[attr-defined]
                    continue
                wid = entry["wrappers"][wrapper["name"]]
                out.append({"id": str(wid), "action-key": f"{PROVIDER}:{wid}",
                            "display-name": wrapper.get("label") or wrapper["name"],
                            "description": wrapper.get("description", ""), "provider": PROVIDER,
                            "attributes": {}})
        return out

    def events(req: Request, m: Any) -> Response:
        return Response.json([{"type": PREFIX + name, "statuses": statuses,
                               "display-name": name, "description": f"{name} (emulated)",
                               "xnat-type": xnat_type, "is-xsi-type": True}
                              for name, (statuses, xnat_type) in EVENTS.items()])

    def create(req: Request, m: Any) -> Response:
        body = req.json()
        if not body.get("name") or not body.get("action-key") or not body.get("event-filter"):
            return Response.error(424, "Subscription format failed to validate")
        if any(s["name"] == body["name"] for s in subs.values()):
            return Response.error(424, f"Subscription name {body['name']} already exists")
        state["next"] += 1
        sid = state["next"]
        subs[sid] = {**body, "id": sid, "active": body.get("active", True), "valid": True,
                     "validation-message": None, "subscription-owner": req.user,
                     "registration-key": f"emu-{sid}", "created": int(time.time() * 1000)}
        return Response.text(f"{body['name']}:{sid}", 201)

    def one(req: Request, m: Any) -> Response:
        sid = int(m.group(1))
        if sid not in subs:
            return Response.error(404, f"No subscription {sid}")
        if req.method == "DELETE":
            subs.pop(sid)
            return Response.text("", 204)
        return Response.json(subs[sid])

    def fire(event: str, status: str, project: str, payload: dict[str, Any]) -> None:
        for sub in list(subs.values()):
            flt = sub.get("event-filter") or {}
            if not sub.get("active") or flt.get("event-type") != PREFIX + event:
                continue
            if flt.get("status") and flt["status"] != status:
                continue
            projects = flt.get("project-ids") or []
            if projects and project not in projects:
                continue
            if not _payload_matches(flt.get("payload-filter"), payload):
                continue
            key = str(sub.get("action-key", ""))
            delivery = {"subscription": sub["id"], "event": event, "status": status,
                        "uri": payload["uri"], "launch": None}
            emu.deliveries.append(delivery)  # type: ignore[attr-defined]
            if not key.startswith(PROVIDER + ":"):
                continue
            found = emu.cs_find_wrapper(int(key.split(":", 1)[1]))  # type: ignore[attr-defined]
            if found is None:
                continue
            entry, wname = found
            wrapper = next(w for w in entry["json"]["xnat"] if w["name"] == wname)
            external = wrapper.get("external-inputs", [])
            if len(external) != 1:
                continue
            params = {**(sub.get("attributes") or {}), external[0]["name"]: payload["uri"]}
            launch_project = projects[0] if len(projects) == 1 else project
            delivery["launch"] = emu.cs_launch(  # type: ignore[attr-defined]
                launch_project, entry["wrappers"][wname], external[0]["name"], params,
                sub.get("subscription-owner"))

    def fire_assessor_event(ref: ObjectRef, status: str) -> None:
        archive = emu.archive
        obj = archive.get(ref)
        session = archive.get(ref.session_ref)
        payload = {"id": obj.id, "label": obj.label, "xsiType": obj.xsi_type,
                   "uri": ref.uri,  # label form: the local runner resolves label URIs
                   "project-id": ref.project, "session-id": session.id,
                   "directory": str(archive.path(ref)),
                   "resources": [{"label": r.label} for r in archive.resources(ref)],
                   "props": {k.lower(): v for k, v in obj.attrs.items() if not isinstance(v, list)}}
        payload["rest-uri"] = rest_uri(archive, ref)
        fire("ImageAssessorEvent", status, ref.project, payload)

    emu.fire_assessor_event = fire_assessor_event  # type: ignore[attr-defined]
    emu.route("GET", r"/xapi/events/events", events)
    emu.route("GET", r"/xapi/events/allactions", lambda r, m: Response.json(actions()))
    emu.route("GET", r"/xapi/events/actions", lambda r, m: Response.json(
        actions(r.query.get("project"), r.query.get("xnattype"))))
    emu.route("GET", r"/xapi/events/subscriptions", lambda r, m: Response.json(list(subs.values())))
    emu.route("POST", r"/xapi/events/subscription", create)
    emu.route("GET", r"/xapi/events/subscription/(\d+)", one)
    emu.route("DELETE", r"/xapi/events/subscription/(\d+)", one)

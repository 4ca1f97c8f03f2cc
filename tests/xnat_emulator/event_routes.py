"""Emulated Event Service: preferences, event types, actions, subscriptions, and firing them.

Modelled on xnat-web's Event Service (``NrgXnat/xnat-web``):

* ``src/main/java/org/nrg/xnat/eventservice/rest/EventServiceRestApi.java``: routes;
  a ``SubscriptionValidationException`` becomes HTTP 424 "Subscription format failed to
  validate"; creation does not check names, so names are not unique.
* ``src/main/java/org/nrg/xnat/eventservice/services/impl/EventSubscriptionEntityServiceImpl.java``
  (``validate``): refuses, with 424, an unknown event class (``Class.forName``), a payload
  filter that starts with ``$`` or contains ``$[?`` ("Filter string should include only
  predicate path") or does not compile once wrapped as ``$[?( … )]``, an unknown action
  provider, and an action the provider does not validate for the subscribed projects;
  ``getSubscription`` re-validates on every read (``valid``/``validation-message``);
  ``SubscriptionPredicate`` matches type, status, project and the wrapped payload filter.
* ``src/main/java/org/nrg/xnat/eventservice/services/impl/EventServiceImpl.java``: with the
  ``enabled`` preference off, ``getSubscriptions`` returns null (an empty 200 body),
  create/read/delete throw "Event Service disabled." and no event is triggered.
* ``src/main/java/org/nrg/xnat/eventservice/model/xnat/Assessor.java``: the assessor payload
  (``uri`` ``/experiments/{sessionId}/assessors/{assessorId}``, ``resources``, ``props``…).
* container-service ``src/main/java/org/nrg/containers/services/CommandActionProvider.java``
  (``isActionAvailable``: the wrapper is enabled for the site, or for the project;
  ``processEvent``: launch project, attributes, and the external input set to
  ``UriParserUtils.getArchiveUri(eventObject)``, for an image assessor (an
  ``xnat:derivedData``) ``/archive/experiments/{assessorId}``).
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


TERMINAL = ("Complete", "Failed", "Killed")


def _payload_matches(payload_filter: str | None, payload: dict[str, Any]) -> bool:
    """Apply a stored predicate as XNAT does: wrapped as ``$[?( … )]`` around the payload."""
    if not payload_filter:
        return True
    from sarcoma_xnat.containers.matchers import matches

    try:
        return matches(payload_filter, payload)
    except Exception:  # noqa: BLE001 - Option.SUPPRESS_EXCEPTIONS: an unreadable filter matches nothing
        return False


def _enabled(emu: XnatEmulator, entry: dict[str, Any], wrapper: str, project: str | None) -> bool:
    """Return whether a wrapper is enabled for the site or (site and) a project.

    container-service ``ContainerConfigServiceImpl.isEnabledForProject``: a project
    enablement counts only while the wrapper is enabled for the site.
    """
    site = (entry["id"], wrapper) in emu.cs["site"]  # type: ignore[attr-defined]
    return site and (project is None or (project, entry["id"], wrapper) in emu.cs["project"])  # type: ignore[attr-defined]


def _refusal(emu: XnatEmulator, body: dict[str, Any]) -> str | None:
    """Return why ``EventSubscriptionEntityServiceImpl.validate`` refuses ``body``, or None."""
    from sarcoma_xnat.containers.matchers import matches

    flt = body.get("event-filter")
    if not isinstance(flt, dict):
        return "Missing Event Filter"
    event_type = str(flt.get("event-type") or "")
    if not event_type.startswith(PREFIX) or event_type[len(PREFIX):] not in EVENTS:
        # the Java message is `"Could not load Event class: " + type != null ? type : …`,
        # which evaluates to the bare type name
        return event_type
    predicate = flt.get("payload-filter")
    if predicate:
        if predicate.startswith("$") or "$[?" in predicate:
            return ('Could not compile jsonPath filter. "Payload JsonPath filter contains $ or $[?. '
                    'Filter string should include only predicate path."')
        try:
            matches(predicate, {})
        except Exception as exc:  # noqa: BLE001 - JsonPath.compile fails
            return f"Could not compile jsonPath filter. {exc}"
    key = str(body.get("action-key") or "")
    provider, _, action = key.partition(":")
    if provider != PROVIDER:
        return f"Could not validate Action: {key}\nCould not load Action Provider for key:{key}"
    found = emu.cs_find_wrapper(int(action)) if action.isdigit() else None  # type: ignore[attr-defined]
    projects = flt.get("project-ids") or [None]
    if found is not None and all(_enabled(emu, found[0], found[1], p) for p in projects):
        return None
    return f"Could not validate Action: {key}\n{key}"  # same precedence slip as above


def register(emu: XnatEmulator) -> None:
    """Add the Event Service routes and ``emu.fire_assessor_event``."""
    subs: dict[int, dict[str, Any]] = {}
    state: dict[str, Any] = {"next": 0, "roi_delay": 0.0, "enabled": True, "settle": False}
    emu.subscriptions = subs  # type: ignore[attr-defined]
    emu.deliveries = []  # type: ignore[attr-defined]
    emu.event_state = state  # type: ignore[attr-defined]
    emu.roi_store_delay = lambda: time.sleep(state["roi_delay"])  # type: ignore[attr-defined]

    def disabled() -> Response | None:
        # EventServiceImpl.throwIfDisabled (a SubscriptionAccessException, not a 424)
        return None if state["enabled"] else Response.error(500, "Event Service disabled.")

    def actions(project: str | None = None, xnat_type: str | None = None) -> list[dict[str, Any]]:
        out = []
        for entry in emu.cs["commands"].values():  # type: ignore[attr-defined]
            for wrapper in entry["json"].get("xnat", []):
                if xnat_type and xnat_type not in wrapper.get("contexts", []):
                    continue
                if project and not _enabled(emu, entry, wrapper["name"], project):
                    continue
                wid = entry["wrappers"][wrapper["name"]]
                out.append({"id": str(wid), "action-key": f"{PROVIDER}:{wid}",
                            "display-name": wrapper.get("label") or wrapper["name"],
                            "description": wrapper.get("description", ""), "provider": PROVIDER,
                            "attributes": {}})
        return out

    def events(req: Request, m: Any) -> Response:
        return Response.json([{"id": PREFIX + name, "type": PREFIX + name, "statuses": statuses,
                               "display-name": name, "description": f"{name} (emulated)",
                               "xnat-type": xnat_type, "is-xsi-type": True}
                              for name, (statuses, xnat_type) in EVENTS.items()])

    def prefs(req: Request, m: Any) -> Response:
        if req.method == "PUT":
            body = req.json()
            if body.get("enabled") is not None:
                state["enabled"] = bool(body["enabled"])
            return Response.text("")
        return Response.json({"enabled": state["enabled"]})

    def shown(sid: int) -> dict[str, Any]:
        # EventSubscriptionEntityServiceImpl.getSubscription re-validates on every read
        why = _refusal(emu, subs[sid])
        return {**subs[sid], "valid": why is None, "validation-message": why}

    def listing(req: Request, m: Any) -> Response:
        if not state["enabled"]:
            return Response(200, b"", "application/json")  # a null list: no body at all
        return Response.json([shown(sid) for sid in sorted(subs)])

    def create(req: Request, m: Any) -> Response:
        refused = disabled()
        if refused is not None:
            return refused
        body = req.json()
        why = _refusal(emu, body)
        if why is not None:
            return Response.text(f"Subscription format failed to validate.\n{why}", 424)
        state["next"] += 1
        sid = state["next"]
        flt = body["event-filter"]
        name = body.get("name") or (f"{body['action-key']} on {flt['event-type'].rsplit('.', 1)[-1]}"
                                    f" {flt.get('status', '')} for {','.join(flt.get('project-ids') or ['Site'])}")
        subs[sid] = {**body, "name": name, "id": sid, "active": body.get("active", True),
                     "subscription-owner": req.user, "registration-key": f"emu-{sid}",
                     "created": int(time.time() * 1000)}
        return Response.text(f"{name}:{sid}", 201)

    def one(req: Request, m: Any) -> Response:
        refused = disabled()
        if refused is not None:
            return refused
        sid = int(m.group(1))
        if sid not in subs:
            return Response.error(404, f"No subscription {sid}")
        if req.method == "DELETE":
            subs.pop(sid)
            return Response.text("", 204)
        return Response.json(shown(sid))

    def fire(event: str, status: str, project: str, payload: dict[str, Any], value: str) -> list[dict[str, Any]]:
        fired: list[dict[str, Any]] = []
        if not state["enabled"]:  # EventServiceImpl.triggerEvent skips when disabled
            return fired
        for sub in [subs[s] for s in sorted(subs)]:
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
            delivery = {"subscription": sub["id"], "event": event, "status": status,
                        "uri": payload["uri"], "value": value,
                        "resources": [r["label"] for r in payload.get("resources", [])], "launch": None}
            emu.deliveries.append(delivery)  # type: ignore[attr-defined]
            fired.append(delivery)
            key = str(sub.get("action-key", ""))
            action = key.split(":", 1)[1] if key.startswith(PROVIDER + ":") else ""
            found = emu.cs_find_wrapper(int(action)) if action.isdigit() else None  # type: ignore[attr-defined]
            if found is None:
                continue
            entry, wname = found
            wrapper = next(w for w in entry["json"]["xnat"] if w["name"] == wname)
            external = wrapper.get("external-inputs", [])
            if len(external) != 1:
                continue
            params = {**(sub.get("attributes") or {}), external[0]["name"]: value}
            launch_project = projects[0] if len(projects) == 1 else project
            delivery["launch"] = emu.cs_launch(  # type: ignore[attr-defined]
                launch_project, entry["wrappers"][wname], external[0]["name"], params,
                sub.get("subscription-owner"))
        return fired

    def settle(fired: list[dict[str, Any]], timeout: float = 300.0) -> None:
        """Wait until the containers these deliveries launched are finished (``state['settle']``)."""
        flows = {str(d["launch"].get("workflow-id")) for d in fired
                 if d["launch"] and d["launch"].get("status") == "success"}
        deadline = time.monotonic() + timeout
        while flows and time.monotonic() < deadline:
            records = [r for r in list(emu.cs["containers"].values())  # type: ignore[attr-defined]
                       if str(r.get("workflow-id")) in flows]
            if len(records) == len(flows) and all(str(r.get("status", "")).startswith(TERMINAL)
                                                  for r in records):
                return
            time.sleep(0.02)

    def fire_assessor_event(ref: ObjectRef, status: str) -> list[dict[str, Any]]:
        """Fire ImageAssessorEvent ``status`` for an assessor as it is on disk now."""
        archive = emu.archive
        obj = archive.get(ref)
        session = archive.get(ref.session_ref)
        uri = f"/experiments/{session.id}/assessors/{obj.id}"  # eventservice model/xnat/Assessor.java
        payload = {"id": obj.id, "label": obj.label, "xsiType": obj.xsi_type, "uri": uri,
                   "project-id": ref.project, "session-id": session.id,
                   "directory": str(archive.path(ref)),
                   "resources": [{"label": r.label, "xsiType": "xnat:resourceCatalog",
                                  "format": r.format, "uri": f"{uri}/resources/{r.label}"}
                                 for r in archive.resources(ref)],
                   "props": {k.lower(): v for k, v in obj.attrs.items() if not isinstance(v, list)}}
        payload["rest-uri"] = rest_uri(archive, ref)
        # CommandActionProvider.processEvent: UriParserUtils.getArchiveUri(assessor)
        # (NrgXnat/xnat-reboot src/main/java/org/nrg/xnat/helpers/uri/UriParserUtils.java:
        # an xnat:derivedData alone gives /archive/experiments/{ID})
        fired = fire("ImageAssessorEvent", status, ref.project, payload, f"/archive/experiments/{obj.id}")
        if state["settle"]:
            settle(fired)
        return fired

    emu.fire_assessor_event = fire_assessor_event  # type: ignore[attr-defined]
    emu.route("GET", r"/xapi/events/events", events)
    emu.route("GET", r"/xapi/events/prefs", prefs)
    emu.route("PUT", r"/xapi/events/prefs", prefs)
    emu.route("GET", r"/xapi/events/allactions", lambda r, m: Response.json(actions()))
    emu.route("GET", r"/xapi/events/actions", lambda r, m: Response.json(
        actions(r.query.get("project"), r.query.get("xnattype"))))
    emu.route("GET", r"/xapi/events/subscriptions", listing)
    emu.route("POST", r"/xapi/events/subscription", create)
    emu.route("GET", r"/xapi/events/subscription/(\d+)", one)
    emu.route("DELETE", r"/xapi/events/subscription/(\d+)", one)

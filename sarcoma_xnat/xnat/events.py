"""Event Service subscriptions: preferences, create, read back and verify, list, delete.

What XNAT does (``NrgXnat/xnat-web``, files under ``src/main/java/org/nrg/xnat/eventservice/``):

* ``services/impl/EventSubscriptionEntityServiceImpl.java`` (``validate``) refuses, and
  ``rest/EventServiceRestApi.java`` answers 424 "Subscription format failed to validate",
  a subscription whose event class is unknown, whose payload filter starts with ``$`` or
  contains ``$[?`` (the filter is the predicate only; XNAT wraps it as ``$[?( … )]``), or
  whose action is unknown or not enabled for the subscribed projects. :meth:`EventsApi.create`
  turns that answer into a ``ConfigurationError`` carrying XNAT's reason.
* The same service re-validates a subscription on every read (``valid`` and
  ``validation-message``): a wrapper disabled or deleted later leaves a stored subscription
  that never fires. :meth:`EventsApi.verify` reads one back and checks it against what the
  server offers now.
* Names are not unique (``EventServiceRestApi.createSubscription`` does not check them), so
  callers find their own subscriptions by name, event filter and action key.
* With the Event Service disabled (``services/impl/EventServiceImpl.java``, preference
  ``enabled``) the subscription list is an empty body and creation fails: check
  :meth:`EventsApi.enabled` first.
"""

from __future__ import annotations

from typing import Any

from sarcoma_xnat.errors import ConfigurationError, XnatError, XnatNotFoundError
from sarcoma_xnat.xnat.session import XnatSession

__all__ = [
    "CS_ACTION_PROVIDER",
    "EVENT_PREFIX",
    "EventsApi",
    "action_key",
    "subscription_body",
]

EVENT_PREFIX = "org.nrg.xnat.eventservice.events."
#: the Container Service's action provider; its action id is a wrapper id
CS_ACTION_PROVIDER = "org.nrg.containers.services.CommandActionProvider"
_DISABLED = ("the XNAT Event Service is disabled on this site: a site admin must enable it "
             "(Administer > Event Service, or PUT /xapi/events/prefs {\"enabled\": true}) "
             "before ROI saves can start containers")


def action_key(wrapper_id: int | str) -> str:
    """Return the Event Service action key that launches a Container Service wrapper."""
    return f"{CS_ACTION_PROVIDER}:{wrapper_id}"


def subscription_body(
    name: str,
    event_type: str,
    status: str,
    action: str,
    project_ids: list[str] | None = None,
    payload_filter: str | None = None,
    attributes: dict[str, str] | None = None,
    act_as_event_user: bool = False,
) -> dict[str, Any]:
    """Return the JSON of a subscription (``event_type`` short names get the package prefix).

    ``payload_filter`` is a JSONPath predicate such as ``@.xsiType == "icr:roiCollectionData"``;
    a ``$``-rooted filter is refused here as XNAT would refuse it
    (``EventSubscriptionEntityServiceImpl.validate``).
    """
    if payload_filter and (payload_filter.lstrip().startswith("$") or "$[?" in payload_filter):
        raise ConfigurationError(f"payload filter {payload_filter!r} must be the predicate only "
                                 f"(e.g. '@.xsiType == \"icr:roiCollectionData\"'): XNAT wraps it "
                                 f"as $[?( ... )] itself and refuses a filter starting with '$'")
    if "." not in event_type:
        event_type = EVENT_PREFIX + event_type
    event_filter: dict[str, Any] = {"event-type": event_type, "status": status}
    if project_ids:
        event_filter["project-ids"] = list(project_ids)
    if payload_filter:
        event_filter["payload-filter"] = payload_filter
    return {"name": name, "active": True, "action-key": action,
            "attributes": dict(attributes or {}), "event-filter": event_filter,
            "act-as-event-user": act_as_event_user}


class EventsApi:
    """The Event Service; reached as ``client.events``."""

    def __init__(self, session: XnatSession) -> None:
        self.session = session

    def _json(self, path: str, **params: Any) -> Any:
        return self.session.decode_json(self.session.get(path, params=params or None), "GET")

    def event_types(self) -> dict[str, list[str]]:
        """Return the event types the server offers, each with its statuses."""
        out = {}
        for event in self._json("/xapi/events/events") or []:
            ident = event.get("type") or event.get("id")
            if ident:
                out[str(ident)] = [str(s) for s in event.get("statuses", [])]
        return out

    def actions(self, project: str | None = None, xnat_type: str | None = None) -> list[dict[str, Any]]:
        """Return the actions available (for a project and object type, or all of them)."""
        if project is None and xnat_type is None:
            return list(self._json("/xapi/events/allactions") or [])
        params = {k: v for k, v in (("project", project), ("xnattype", xnat_type)) if v}
        return list(self._json("/xapi/events/actions", **params) or [])

    def prefs(self) -> dict[str, Any]:
        """Return the Event Service preferences (``{"enabled": …}``)."""
        return dict(self._json("/xapi/events/prefs") or {})

    def enabled(self) -> bool:
        """Return whether the site's Event Service is enabled (it is off on some sites)."""
        try:
            return self.prefs().get("enabled") is True
        except XnatNotFoundError:
            raise ConfigurationError(f"{self.session.base_url} has no Event Service "
                                     f"(/xapi/events/prefs not found; it needs XNAT 1.8 or later)") from None

    def require_enabled(self) -> None:
        """Raise ``ConfigurationError`` saying how to enable the Event Service when it is off."""
        if not self.enabled():
            raise ConfigurationError(_DISABLED)

    def subscriptions(self) -> list[dict[str, Any]]:
        """List all subscriptions (none while the Event Service is disabled: an empty body)."""
        response = self.session.get("/xapi/events/subscriptions")
        if not response.content.strip():
            return []
        return list(self.session.decode_json(response, "GET") or [])

    def subscription(self, subscription_id: int) -> dict[str, Any]:
        """Return one subscription."""
        return dict(self._json(f"/xapi/events/subscription/{subscription_id}"))

    def find(self, name: str) -> dict[str, Any] | None:
        """Return the first subscription called ``name`` (names are not unique), or None."""
        return next(iter(self.find_all(name)), None)

    def find_all(self, name: str, event_filter: dict[str, Any] | None = None,
                 action: str | None = None) -> list[dict[str, Any]]:
        """Return the subscriptions called ``name`` (oldest first), optionally also with this
        action key and every key of ``event_filter`` equal."""
        out = []
        for sub in self.subscriptions():
            flt = sub.get("event-filter") or {}
            if sub.get("name") != name or (action is not None and sub.get("action-key") != action):
                continue
            if event_filter and any(flt.get(k) != v for k, v in event_filter.items()):
                continue
            out.append(sub)
        return sorted(out, key=lambda s: int(s.get("id") or 0))

    def create(self, body: dict[str, Any]) -> int:
        """Create a subscription (see :func:`subscription_body`); return its id.

        XNAT's refusal (HTTP 424, ``EventSubscriptionEntityServiceImpl.validate``) and a
        disabled Event Service are raised as ``ConfigurationError`` with XNAT's reason.
        """
        try:
            response = self.session.post("/xapi/events/subscription", json=body, ok=(200, 201))
        except XnatError as exc:
            if exc.status == 424:
                raise ConfigurationError(
                    f"XNAT refused subscription {body.get('name')!r} (it refuses an unknown event "
                    f"type, a '$'-rooted payload filter, and an action that is unknown or not "
                    f"enabled for the subscribed project): {exc.message}") from None
            if exc.status is not None and exc.status >= 500:
                self.require_enabled()
            raise
        text = response.text.strip().strip('"')
        try:  # "<name>:<id>" (EventServiceRestApi.createSubscription); names may hold ':'
            return int(text.rsplit(":", 1)[-1])
        except ValueError:
            found = self.find_all(str(body.get("name")), body.get("event-filter"),
                                  body.get("action-key"))
            if not found:
                raise ConfigurationError(f"XNAT did not say which id subscription "
                                         f"{body.get('name')!r} got: {text[:80]!r}") from None
            return int(found[-1]["id"])

    def delete(self, subscription_id: int) -> None:
        """Delete a subscription; a missing one is not an error."""
        try:
            self.session.delete(f"/xapi/events/subscription/{subscription_id}")
        except XnatNotFoundError:
            pass

    def verify(self, subscription_id: int) -> dict[str, Any]:
        """Read a subscription back and check that it can fire; return it or raise.

        XNAT refuses an invalid subscription at creation, but one stored earlier can stop
        working (its wrapper disabled or deleted; XNAT then reads it back ``valid: false``).
        Checks that it is active and valid, that its event type exists with the
        requested status, and that its action key is one the server offers.
        """
        sub = self.subscription(subscription_id)
        name = sub.get("name", subscription_id)
        problems = []
        if not sub.get("active", False):
            problems.append("it is not active")
        if sub.get("valid") is False:
            problems.append(f"XNAT marks it invalid: {sub.get('validation-message')}")
        flt = sub.get("event-filter") or {}
        event_type, status = flt.get("event-type"), flt.get("status")
        known = self.event_types()
        if event_type not in known:
            problems.append(f"event type {event_type!r} is unknown to this XNAT")
        elif status and known[event_type] and status not in known[event_type]:
            problems.append(f"event {event_type} has no status {status!r} "
                            f"(has {', '.join(known[event_type])})")
        keys = {a.get("action-key") for a in self.actions()}
        if sub.get("action-key") not in keys:
            problems.append(f"action {sub.get('action-key')!r} is not offered (is the wrapper installed?)")
        if problems:
            raise ConfigurationError(f"subscription {name!r} would never fire: " + "; ".join(problems))
        return sub

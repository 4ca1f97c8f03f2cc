"""Event Service subscriptions: create, read back and verify, list, delete.

A subscription that names an event type or an action XNAT does not know is
stored without complaint and then silently never fires; :meth:`EventsApi.verify`
reads a subscription back and checks both against what the server offers.
"""

from __future__ import annotations

from typing import Any

from sarcoma_xnat.errors import ConfigurationError, XnatNotFoundError
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
    """Return the JSON of a subscription (``event_type`` short names get the package prefix)."""
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

    def subscriptions(self) -> list[dict[str, Any]]:
        """List all subscriptions."""
        return list(self._json("/xapi/events/subscriptions") or [])

    def subscription(self, subscription_id: int) -> dict[str, Any]:
        """Return one subscription."""
        return dict(self._json(f"/xapi/events/subscription/{subscription_id}"))

    def find(self, name: str) -> dict[str, Any] | None:
        """Return the subscription called ``name``, or None."""
        return next((s for s in self.subscriptions() if s.get("name") == name), None)

    def create(self, body: dict[str, Any]) -> int:
        """Create a subscription (see :func:`subscription_body`); return its id."""
        response = self.session.post("/xapi/events/subscription", json=body, ok=(200, 201))
        text = response.text.strip().strip('"')
        try:
            return int(text.rsplit(":", 1)[-1])
        except ValueError:
            found = self.find(str(body.get("name")))
            if found is None:
                raise ConfigurationError(f"XNAT did not say which id subscription "
                                         f"{body.get('name')!r} got: {text[:80]!r}") from None
            return int(found["id"])

    def delete(self, subscription_id: int) -> None:
        """Delete a subscription; a missing one is not an error."""
        try:
            self.session.delete(f"/xapi/events/subscription/{subscription_id}")
        except XnatNotFoundError:
            pass

    def verify(self, subscription_id: int) -> dict[str, Any]:
        """Read a subscription back and check that it can fire; return it or raise.

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

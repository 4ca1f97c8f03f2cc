"""What the preprocess container learns from XNAT and tells it, through the REST API.

The Container Service gives every container ``XNAT_HOST``, ``XNAT_USER`` (an alias
token) and ``XNAT_PASS`` in its environment
(``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/ContainerServiceImpl.java``,
where the launch adds them to the container's environment), and the command's
``session_uri`` input comes from the session's ``uri`` property (a derived input; the
value is ``/archive/experiments/{ID}``:
``NrgXnat/container-service:src/main/java/org/nrg/containers/model/xnat/Session.java``).
The mounted session folder holds files only, so with both the step reads through the
API what the mount lacks:

* the XNAT scan type of each scan (``scans[].scan-type`` of the session XNAT resolves
  the command against; series rules match it together with the SeriesDescription);
* the project's series rules file (resource ``SERIES_RULES``), unless the run names one;

and after a successful run it sets the measurement fields on the session
(:func:`sarcoma_xnat.steps.measurement_fields.publish`), as ``run_on_archive`` does in
process. Without the environment the URI is ignored (one log line) and the step works
on the mount alone, as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sarcoma_xnat.archive.base import Archive, locate
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ConfigurationError, ObjectNotFoundError

__all__ = ["ENV", "XnatSession", "connect_session", "push_measurements"]

#: the environment the Container Service gives a container (all three are needed)
ENV = ("XNAT_HOST", "XNAT_USER", "XNAT_PASS")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class XnatSession:
    """The run's session on XNAT and what was read from it."""

    archive: Archive
    session: ObjectRef
    scan_types: dict[str, str]
    series_rules: dict[str, Any] | None


def connect_session(uri: str | None, env: Mapping[str, str] | None = None,
                    read_rules: bool = True) -> XnatSession | None:
    """Log in with the container's credentials and read the session's scan types (and rules).

    Returns ``None`` when ``uri`` is empty or the environment lacks :data:`ENV`.
    """
    env = os.environ if env is None else env
    if not uri:
        return None
    missing = [k for k in ENV if not env.get(k)]
    if missing:
        log.info("preprocess: %s not set; the session URI is not used (no scan types from XNAT, "
                 "no session fields)", "/".join(missing))
        return None
    from sarcoma_xnat.archive.xnat import XnatArchive
    from sarcoma_xnat.steps.series_rules import project_rules
    from sarcoma_xnat.xnat.client import connect

    archive = XnatArchive(connect(env["XNAT_HOST"], env["XNAT_USER"], env["XNAT_PASS"]))
    try:
        session, resource = locate(archive, uri, "session")
    except ObjectNotFoundError:
        # a local run (``sarcoma-xnat run`` on a folder archive) in a shell that has XNAT_*
        # set: the local session is not on that XNAT; work on the mount alone
        log.warning("preprocess: the session URI is not on %s; no scan types from XNAT, no "
                    "session fields", env["XNAT_HOST"])
        return None
    if session.kind != "session" or resource is not None:
        raise ConfigurationError(f"the session URI {uri} names a {session.kind}, not a session")
    types = {s.label: str(s.attrs.get("type", "") or "") for s in archive.children(session, "scan")}
    rules = project_rules(archive, session.project) if read_rules else None
    return XnatSession(archive, session, types, rules)


def push_measurements(link: XnatSession, measurements: dict[str, Any]) -> dict[str, str]:
    """Set the measurement fields on the session (PUT ``?xnat:mrSessionData/fields/field[...]``)."""
    from sarcoma_xnat.steps.measurement_fields import publish

    return publish(link.archive, link.session, measurements)

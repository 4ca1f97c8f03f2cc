"""Tumour measurements of a project's sessions as REDCap records (``clinical send-measurements``).

Each session's ``PREPROCESSED`` result is read only through its manifest
(:func:`sarcoma_xnat.steps.manifest.verified_files`, as :mod:`sarcoma_xnat.fl.dataset`
and :mod:`sarcoma_xnat.export.cohort` read it): a result whose ``measurements.json`` is
not listed, or whose files do not match their checksums (XNAT merges re-runs into one
resource: ``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/ContainerFinalizeServiceImpl.java``),
is skipped and reported. The fields are those ``preprocess`` puts on the session
(:func:`sarcoma_xnat.steps.measurement_fields.session_fields`, with the check against
the subject's clinical size), restricted to :data:`~sarcoma_xnat.clinical.dictionary.MEASUREMENT_FIELDS`.

One record per subject, keyed by the subject's pseudonym (its XNAT label) in the
REDCap project's record ID field: original IDs never leave XNAT. When a subject has
several usable sessions, the last by label is sent and the others are reported.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.clinical.dictionary import MEASUREMENT_FIELDS, SIZE_CHECK_CHOICES
from sarcoma_xnat.errors import ConfigurationError, InputDataError, ObjectNotFoundError
from sarcoma_xnat.steps.manifest import consistent, read_manifest, verified_files
from sarcoma_xnat.steps.measurement_fields import clinical_check, session_fields

__all__ = ["MeasurementReport", "collect_measurements", "send_records"]

_RESOURCE = "PREPROCESSED"
_CODES = {text: code for code, text in SIZE_CHECK_CHOICES.items()}


@dataclass
class MeasurementReport:
    """The records to send (pseudonym → fields, session sent) and every skipped session, with why."""

    records: dict[str, dict[str, str]] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _session_fields(archive: Archive, subject: ObjectRef, session: ObjectRef, work: Path,
                    ctx: dict[str, str]) -> dict[str, str]:
    """Return the measurement fields of one session (an InputDataError when unusable)."""
    if _RESOURCE not in {r.label for r in archive.resources(session)}:
        raise InputDataError(f"no {_RESOURCE} resource", **ctx)
    archive.fetch_resource(session, _RESOURCE, work)
    path = verified_files(work, ["measurements.json"], "preprocess", ctx)["measurements.json"]
    problems = consistent(work, read_manifest(work, "preprocess", ctx))
    if problems:
        raise InputDataError(f"the preprocess result is inconsistent: {'; '.join(problems)}", **ctx)
    measurements = json.loads(path.read_text())
    check = clinical_check(measurements, archive.get(subject).fields)
    fields = session_fields(measurements, check)
    if not fields:
        raise InputDataError("no tumour was measured (preprocess ran without an ROI)", **ctx)
    out = {name: fields[name] for name, _, _ in MEASUREMENT_FIELDS if name in fields}
    if "tumour_size_check" in out:
        out["tumour_size_check"] = _CODES[out["tumour_size_check"]]
    return out


def collect_measurements(archive: Archive, project: str) -> MeasurementReport:
    """Return one record per subject of ``project`` with a consistent ``PREPROCESSED`` result."""
    if not archive.exists(ObjectRef(project)):
        raise ObjectNotFoundError(f"no project {project!r} in the archive", project=project)
    report = MeasurementReport()
    with tempfile.TemporaryDirectory(prefix="sarcoma-measurements-") as tmp:
        for subject in sorted(archive.children(ObjectRef(project), "subject"), key=lambda o: o.label):
            for sess in sorted(archive.children(subject.ref, "session"), key=lambda o: o.label):
                name = f"{subject.label}/{sess.label}"
                ctx = {"project": project, "subject": subject.label, "session": sess.label}
                try:
                    fields = _session_fields(archive, subject.ref, sess.ref,
                                             Path(tmp) / subject.label / sess.label, ctx)
                except InputDataError as exc:
                    report.skipped[name] = exc.message
                    continue
                earlier = report.sessions.get(subject.label)
                if earlier is not None:
                    report.skipped[f"{subject.label}/{earlier}"] = \
                        f"a later session of the subject ({sess.label}) is sent"
                report.records[subject.label] = fields
                report.sessions[subject.label] = sess.label
    return report


def send_records(url: str, token: str, records: dict[str, dict[str, str]],
                 verify_ssl: bool | str = True) -> int:
    """Import ``records`` (pseudonym → fields) into REDCap; return the count REDCap reports."""
    from redcap import Project, RedcapError

    if not url.rstrip().endswith("/api/"):
        raise ConfigurationError(f"a REDCap API URL ends with /api/, got {url!r}")
    try:
        project = Project(url, token, verify_ssl=verify_ssl)
        key = project.def_field  # the record ID field: the first field of the project's metadata
        answer = project.import_records([{key: pseudonym, **fields}
                                         for pseudonym, fields in records.items()])
    except RedcapError as exc:  # PyCap's RedcapError is requests' RequestException
        reply = exc.args[0] if exc.args else None
        if isinstance(reply, dict):  # REDCap answered {"error": "..."}: field names, never tokens
            raise InputDataError(f"REDCap at {url} refused the records import: "
                                 f"{reply.get('error', reply)}") from None
        raise ConfigurationError(f"cannot reach REDCap at {url}: {type(exc).__name__}") from None
    if not isinstance(answer, dict) or "count" not in answer:
        raise InputDataError(f"REDCap at {url} answered the import without a record count")
    return int(answer["count"])

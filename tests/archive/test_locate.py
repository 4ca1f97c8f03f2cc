"""Finding objects from the values XNAT's Container Service accepts: ID-form, label-form URIs, IDs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.archive.base import locate
from sarcoma_xnat.errors import ConfigurationError, ObjectNotFoundError


@pytest.fixture
def archive(tmp_path: Path) -> LocalArchive:
    a = LocalArchive(tmp_path / "a")
    session = ObjectRef("P", "S1", "S1_MR")
    for ref, xsi in ((ObjectRef("P"), None), (session.parent, None), (session, None),
                     (session.child(scan="3"), None),
                     (session.child(assessor="S1_SEG"), "icr:roiCollectionData")):
        a.create(ref, xsi)
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "x.dcm").write_bytes(b"x")
    a.store_resource(session.child(scan="3"), "DICOM", tmp_path / "files")
    return a


def _id(archive: LocalArchive, ref: ObjectRef) -> str:
    # read the ID straight from the metadata file, not through the code under test
    return json.loads((archive.path(ref) / {"session": "experiment.json", "subject": "subject.json",
                                            "assessor": "assessor.json"}[ref.kind]).read_text())["ID"]


def test_every_form_the_container_service_accepts(archive: LocalArchive) -> None:
    session = ObjectRef("P", "S1", "S1_MR")
    eid, sid = _id(archive, session), _id(archive, session.parent)
    aid = _id(archive, session.child(assessor="S1_SEG"))
    cases = {
        f"/archive/experiments/{eid}": (session, None),
        f"/experiments/{eid}": (session, None),  # CS prefixes /archive
        f"/data/experiments/{eid}": (session, None),
        f"/archive/experiments/{eid}/scans/3": (session.child(scan="3"), None),
        f"/archive/experiments/{eid}/scans/3/resources/DICOM/files/x.dcm": (session.child(scan="3"), "DICOM"),
        f"/archive/experiments/{eid}/assessors/{aid}": (session.child(assessor="S1_SEG"), None),
        f"/archive/experiments/{eid}/assessors/S1_SEG/out/resources/SEG": (session.child(assessor="S1_SEG"), "SEG"),
        f"/archive/subjects/{sid}": (session.parent, None),
        "/archive/projects/P": (ObjectRef("P"), None),
        "/archive/projects/P/experiments/S1_MR": (session, None),
        f"/archive/projects/P/subjects/{sid}/experiments/{eid}": (session, None),
        session.uri: (session, None),
        eid: (session, None),
        sid: (session.parent, None),
        aid: (session.child(assessor="S1_SEG"), None),
    }
    for value, expected in cases.items():
        assert locate(archive, value) == expected, value
    assert locate(archive, "P", "project") == (ObjectRef("P"), None)


def test_find_id_and_failures(archive: LocalArchive) -> None:
    session = ObjectRef("P", "S1", "S1_MR")
    assert archive.find_id("session", _id(archive, session)) == session
    with pytest.raises(ObjectNotFoundError):
        archive.find_id("session", _id(archive, session.parent))  # a subject's ID is not a session's
    with pytest.raises(ObjectNotFoundError):
        locate(archive, "/archive/experiments/XNAT_E99999")
    with pytest.raises(ObjectNotFoundError):
        locate(archive, f"/archive/experiments/{_id(archive, session)}/scans/9")
    with pytest.raises(ConfigurationError, match="no site-wide XNAT ID"):
        locate(archive, "3", "scan")
    with pytest.raises(ConfigurationError, match="not an archive URI"):
        locate(archive, "/archive/things/x")

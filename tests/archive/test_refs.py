from __future__ import annotations

import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.errors import ConfigurationError


def test_uri_round_trip_for_every_kind() -> None:
    refs = [ObjectRef("P"), ObjectRef("P", "S"), ObjectRef("P", "S", "E"),
            ObjectRef("P", "S", "E", scan="3"), ObjectRef("P", "S", "E", assessor="A_1")]
    for ref in refs:
        assert ObjectRef.parse(ref.uri) == ref
        assert ObjectRef.parse("/data" + ref.uri) == ref
    assert [r.kind for r in refs] == ["project", "subject", "session", "scan", "assessor"]


def test_parent_and_session_ref() -> None:
    scan = ObjectRef.parse("/archive/projects/P/subjects/S/experiments/E/scans/3")
    assert scan.parent == ObjectRef("P", "S", "E")
    assert scan.session_ref == ObjectRef("P", "S", "E")
    assert ObjectRef("P").parent == ObjectRef("P")
    with pytest.raises(ConfigurationError):
        ObjectRef("P", "S").session_ref


@pytest.mark.parametrize("bad", ["", "has space", "a/b", "../up", "x" * 65])
def test_invalid_labels_are_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid"):
        ObjectRef("P", bad)


def test_structure_errors() -> None:
    with pytest.raises(ConfigurationError):
        ObjectRef("P", None, "E")  # session without subject
    with pytest.raises(ConfigurationError):
        ObjectRef("P", "S", "E", scan="1", assessor="A")
    with pytest.raises(ConfigurationError):
        ObjectRef.parse("/archive/projects/P/things/x")


@pytest.mark.parametrize("uri", ["/archive/experiments/XNAT_E00001", "/experiments/XNAT_E00001/scans/3",
                                 "/data/subjects/XNAT_S00002"])
def test_id_form_uris_say_to_resolve_through_the_archive(uri: str) -> None:
    # XNAT gives a session as /archive/experiments/{ID} (container-service model/xnat/Session.java);
    # only the archive knows which labels an ID stands for.
    with pytest.raises(ConfigurationError, match="XNAT ID; resolve it through the archive"):
        ObjectRef.parse(uri)

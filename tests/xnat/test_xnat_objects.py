"""Objects: create, list and read subjects, sessions, scans; custom fields; the JSON shapes."""

from __future__ import annotations

import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.errors import ConfigurationError, ObjectNotFoundError


def test_subject_with_clinical_fields_round_trips(xnat, unique):
    objs = xnat.client.objects
    item = objs.create_subject(xnat.project, unique, fields={"age": 63, "grade": "G3"})
    assert item.xsi_type == "xnat:subjectData"
    ref = ObjectRef(xnat.project, unique)
    assert objs.fields(ref) == {"age": "63", "grade": "G3"}
    objs.set_fields(ref, {"os_months": 41.5, "grade": "G2"})
    assert objs.fields(ref) == {"age": "63", "grade": "G2", "os_months": "41.5"}
    assert unique in [r["label"] for r in objs.subjects(xnat.project)]
    objs.delete(ref)
    assert not objs.exists(ref)


def test_session_and_scans_listing(xnat, unique):
    objs = xnat.client.objects
    objs.create_subject(xnat.project, unique)
    session = objs.create_session(xnat.project, unique, f"{unique}_MR1",
                                  attrs={"modality": "MR", "date": "2024-03-01"})
    assert session.xsi_type == "xnat:mrSessionData" and session.data["ID"]
    sref = ObjectRef(xnat.project, unique, f"{unique}_MR1")
    for scan_id, kind in (("2", "T2"), ("10", "T1")):
        objs.create(sref.child(scan=scan_id), "xnat:mrScanData",
                    attrs={"type": kind, "series_description": f"{kind} AX"})
    rows = objs.scans(sref)
    assert sorted((r["ID"], r["type"]) for r in rows) == [("10", "T1"), ("2", "T2")]
    assert all({"ID", "xsiType", "type", "series_description", "URI"} <= set(r) for r in rows)
    by_project = [r["label"] for r in objs.sessions(xnat.project)]
    assert f"{unique}_MR1" in by_project
    assert objs.accession_id(sref) == session.data["ID"]
    objs.delete(ObjectRef(xnat.project, unique))


def test_listing_uses_resultset_with_string_counts(emulator, client):
    client.objects.create(ObjectRef("P1"), "xnat:projectData")
    raw = client.session.get_json("/data/projects")
    assert raw["ResultSet"]["totalRecords"] == "1"
    item = client.session.get_json("/data/projects/P1")
    assert item["items"][0]["meta"]["xsi:type"] == "xnat:projectData"
    assert item["items"][0]["data_fields"]["ID"] == "P1"


def test_unknown_parent_is_not_found(xnat):
    with pytest.raises(ObjectNotFoundError) as info:
        xnat.client.objects.scans(ObjectRef(xnat.project, "NOSUBJ", "NOSESS"))
    assert info.value.context["session"] == "NOSESS"


def test_list_attributes_are_refused_not_dropped(xnat, unique):
    xnat.client.objects.create_subject(xnat.project, unique)
    with pytest.raises(ConfigurationError, match="references"):
        xnat.client.objects.create(ObjectRef(xnat.project, unique, "S"), "xnat:mrSessionData",
                                   attrs={"references": ["1.2.3"]})
    xnat.client.objects.delete(ObjectRef(xnat.project, unique))


def test_scan_quality_is_set_listed_and_read_back(xnat, unique):
    """A scan marked unusable in XNAT is seen as such by the curated cohort's QC rule (issue 16)."""
    from sarcoma_xnat.archive.xnat import XnatArchive
    from sarcoma_xnat.fl.cohort_rules import scan_quality_problem

    objs = xnat.client.objects
    objs.create_subject(xnat.project, unique)
    objs.create_session(xnat.project, unique, f"{unique}_MR1", attrs={"modality": "MR"})
    sref = ObjectRef(xnat.project, unique, f"{unique}_MR1")
    archive = XnatArchive(xnat.client)
    archive.create(sref.child(scan="1"), "xnat:mrScanData", attrs={"type": "T1", "quality": "usable"})
    archive.create(sref.child(scan="2"), "xnat:mrScanData", attrs={"type": "T2", "quality": "usable"})
    assert scan_quality_problem(archive, sref, None) is None
    # what XNAT's scan editor sends: the ``quality`` short name of a scan PUT
    xnat.client.session.put(f"/data/projects/{xnat.project}/subjects/{unique}/experiments/"
                            f"{unique}_MR1/scans/2?quality=unusable")
    assert {r["ID"]: r["quality"] for r in objs.scans(sref)} == {"1": "usable", "2": "unusable"}
    assert archive.get(sref.child(scan="2")).attrs["quality"] == "unusable"
    assert scan_quality_problem(archive, sref, {"1"}) is None
    assert scan_quality_problem(archive, sref, {"1", "2"}) == "used scan(s) 2 marked quality 'unusable' in XNAT"
    objs.delete(ObjectRef(xnat.project, unique))

""""Run container" de-identification: a pseudonymised copy in a study project, the secret hidden.

The emulator resolves the command's ``secrets`` from its model of XNAT's JVM system
properties (``emu.system_properties``) as container-service
``secrets/SystemPropertySecretSource.java`` does, and its launches run the local runner
with the in-process engine, ``XNAT_HOST`` pointing back at the emulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydicom
import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.errors import ContainerError
from sarcoma_xnat.synthetic import generate_cohort

ROOT = Path(__file__).resolve().parents[2]
SECRET = "jvm-property-secret-0123456789abcdef"
SESSION = ObjectRef("SYNTH", "SYN001", "SYN001_MR1")
PROPERTY = "sarcoma.xnat.site-secret"


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _install(client: Any, wrapper_name: str) -> int:
    command = json.loads((ROOT / "xnat-commands" / "deid.json").read_text())
    cid = client.containers.install_command(command)
    client.containers.enable(cid, wrapper_name)
    client.containers.enable(cid, wrapper_name, "SYNTH")
    return next(int(w["id"]) for w in client.containers.command(cid)["xnat"]
                if w["name"] == wrapper_name)


@pytest.fixture
def site(emulator: Any, client: Any) -> Any:
    """One synthetic identified subject in SYNTH and an empty study project STUDY."""
    generate_cohort(emulator.archive, project="SYNTH", n_subjects=1, seed=0, preset="small")
    client.objects.create(ObjectRef("STUDY"), "xnat:projectData")
    return emulator


@pytest.mark.parametrize("wrapper, root, scans", [
    ("sarcoma-deid-session", "session", ["1", "2"]),
    ("sarcoma-deid-scan", "scan", ["2"]),
])
def test_run_container_puts_a_pseudonymised_copy_into_the_study_project(
        site: Any, client: Any, wrapper: str, root: str, scans: list[str]) -> None:
    site.system_properties[PROPERTY] = SECRET  # -Dsarcoma.xnat.site-secret=... on XNAT's JVM
    projects = site.archive.root / "projects"
    source_before = _tree(projects / "SYNTH")
    eid = site.archive.get(SESSION).id
    target = f"/archive/experiments/{eid}" + ("/scans/2" if root == "scan" else "")
    report = client.containers.launch(_install(client, wrapper), root, target, project="SYNTH",
                                      study_project="STUDY")
    record = client.containers.wait(report, timeout=120, poll=0.1)
    stdout = client.containers.logs(record["id"])
    assert record["status"] == "Complete", stdout
    (row,) = client.objects.sessions("STUDY")
    study = ObjectRef("STUDY", str(row["subject_label"]), str(row["label"]))
    assert study.subject.startswith("SXN") and "SYN001" not in study.subject + study.session
    assert [s["ID"] for s in client.objects.scans(study)] == scans
    original = next((projects / "SYNTH").rglob("*.dcm"))
    copy = next(p for p in (projects / "STUDY").rglob("*") if p.is_file() and p.suffix != ".xml"
                and pydicom.misc.is_dicom(p))
    identified, pseudonymised = (pydicom.dcmread(p, stop_before_pixels=True) for p in (original, copy))
    assert str(pseudonymised.PatientID) == study.subject != str(identified.PatientID)
    assert str(pseudonymised.StudyInstanceUID) != str(identified.StudyInstanceUID)
    assert _tree(projects / "SYNTH") == source_before  # nothing new beside the original
    assert sorted(p.name for p in projects.iterdir()) == ["STUDY", "SYNTH"]


def test_the_secret_is_in_no_record_report_or_log(site: Any, client: Any) -> None:
    site.system_properties[PROPERTY] = SECRET
    eid = site.archive.get(SESSION).id
    report = client.containers.launch(_install(client, "sarcoma-deid-session"), "session",
                                      f"/archive/experiments/{eid}", project="SYNTH",
                                      study_project="STUDY")
    record = client.containers.wait(report, timeout=120, poll=0.1)
    assert record["status"] == "Complete"
    shown = [json.dumps(report), client.session.get("/xapi/containers").text,
             client.session.get(f"/xapi/containers/{record['id']}").text,
             client.session.get("/xapi/projects/SYNTH/containers").text,
             client.session.get(f"/xapi/workflows/{report['workflow-id']}").text,
             client.containers.logs(record["id"], "stdout"),
             client.containers.logs(record["id"], "stderr")]
    assert all(SECRET not in text for text in shown)
    assert "SARCOMA_XNAT_SITE_SECRET" not in record["env"]
    assert record["secrets"] == [{"source": {"type": "system-property", "identifier": PROPERTY},
                                  "destination": {"type": "environment-variable",
                                                  "identifier": "SARCOMA_XNAT_SITE_SECRET"}}]
    assert client.objects.sessions("STUDY")  # it did run with the secret


def test_a_launch_without_the_system_property_fails_clearly(site: Any, client: Any) -> None:
    """CommandResolutionServiceImpl.resolveSecrets: no value fails command resolution; the
    workflow is Failed (Command resolution) and no container is made."""
    eid = site.archive.get(SESSION).id
    report = client.containers.launch(_install(client, "sarcoma-deid-session"), "session",
                                      f"/archive/experiments/{eid}", project="SYNTH",
                                      study_project="STUDY")
    with pytest.raises(ContainerError, match=r'Failed \(Command resolution\).*Could not resolve '
                                             r'secret .*SystemProperty\{"sarcoma.xnat.site-secret"\}'):
        client.containers.wait(report, timeout=10, poll=0.05)
    assert client.containers.containers() == []
    assert client.objects.sessions("STUDY") == []


def test_the_site_wrapper_uses_the_projects_deid_site_resource(site: Any, client: Any,
                                                                tmp_path: Path) -> None:
    """The project resource DEID_SITE reaches ``deid import --site-config /site``: a site
    configuration that keeps ContributionDescription (a Clean Descriptors "C" attribute
    the package removes) keeps it in the imported copy; the plain wrapper removes it."""
    site.system_properties[PROPERTY] = SECRET
    folder = tmp_path / "deid-site"
    folder.mkdir()
    (folder / "deid-site.toml").write_text('kept_descriptors = ["ContributionDescription"]\n'
                                           '[review]\nby = "PACS team"\ndate = "2026-01-05"\n')
    site.archive.store_resource(ObjectRef("SYNTH"), "DEID_SITE", folder)
    eid = site.archive.get(SESSION).id
    kept = {}
    for wrapper, study in (("sarcoma-deid-session", "STUDY"),
                           ("sarcoma-deid-session-site", "STUDY2")):
        client.objects.create(ObjectRef(study), "xnat:projectData")
        report = client.containers.launch(_install(client, wrapper), "session",
                                          f"/archive/experiments/{eid}", project="SYNTH",
                                          study_project=study, jobs="1")
        record = client.containers.wait(report, timeout=120, poll=0.1)
        assert record["status"] == "Complete", client.containers.logs(record["id"])
        copies = [pydicom.dcmread(p, stop_before_pixels=True)
                  for p in (site.archive.root / "projects" / study).rglob("*")
                  if p.is_file() and p.suffix != ".xml" and pydicom.misc.is_dicom(p)]
        assert copies
        kept[wrapper] = sum(any(e.keyword == "ContributionDescription" for e in ds.iterall())
                            for ds in copies)  # at any depth
    assert kept["sarcoma-deid-session"] == 0 and kept["sarcoma-deid-session-site"] > 0

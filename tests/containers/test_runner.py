"""The local Container Service with the in-process engine: stores what the step makes, or nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.cli import main
from sarcoma_xnat.containers.command import Command, load_command
from sarcoma_xnat.containers.engines import InProcessEngine
from sarcoma_xnat.containers.finalize import store_outputs
from sarcoma_xnat.containers.resolve import resolve
from sarcoma_xnat.containers.runner import run_command
from sarcoma_xnat.errors import ConfigurationError, ContainerError
from sarcoma_xnat.steps.base import stage_session

ROOT = Path(__file__).resolve().parents[2]
SECRET = "synthetic-site-secret-for-tests-0001"


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _archive_state(archive: LocalArchive) -> dict[str, bytes]:
    return _tree(archive.root)


class _Recorder:
    """An engine that keeps the launch it is asked for and exits with ``code``."""

    name = "recorder"

    def __init__(self, code: int = 0) -> None:
        self.code, self.spec = code, None

    def run(self, spec, sink) -> int:
        self.spec = spec
        sink("step output")
        return self.code


def test_deid_secret_reaches_only_the_container_environment(small_cohort: Any) -> None:
    """CS 3.3+ secrets: the system property's value goes into the container's environment
    (ContainerPropertiesWithSecretValues), not into the command line, log or result."""
    archive, manifest = small_cohort
    scan = manifest.sessions[0].child(scan="2")
    command = load_command(ROOT / "xnat-commands" / "deid.json")
    lines: list[str] = []
    engine = _Recorder()
    result = run_command(command, archive, scan.uri, "sarcoma-deid-scan", {"study_project": "STUDY"},
                         engine, sink=lines.append,
                         properties={"sarcoma.xnat.site-secret": SECRET})
    assert engine.spec.environment["SARCOMA_XNAT_SITE_SECRET"] == SECRET
    assert engine.spec.command_line == ("sarcoma-xnat deid import --input /input --project STUDY "
                                        " --jobs 4 --site-config /site")
    assert [m[1] for m in engine.spec.mounts] == ["/input", "/site"] and result.stored == []
    assert SECRET not in repr(result) and SECRET not in "\n".join(lines)
    assert "SARCOMA_XNAT_SITE_SECRET" not in result.resolved.environment
    failing = _Recorder(3)
    with pytest.raises(ContainerError) as info:
        run_command(command, archive, scan.uri, "sarcoma-deid-scan", {"study_project": "STUDY"},
                    failing, properties={"sarcoma.xnat.site-secret": SECRET})
    assert SECRET not in str(info.value)


def test_deid_without_the_system_property_does_not_launch(small_cohort: Any) -> None:
    archive, manifest = small_cohort
    engine = _Recorder()
    with pytest.raises(ConfigurationError, match=r'Could not resolve secret .*"sarcoma.xnat.site-secret"'
                                                 r'.*--secret sarcoma.xnat.site-secret=FILE'):
        run_command(load_command(ROOT / "xnat-commands" / "deid.json"), archive,
                    manifest.sessions[0].uri, "sarcoma-deid-session", {"study_project": "STUDY"},
                    engine, properties={})
    assert engine.spec is None


def test_run_cli_takes_secrets_from_files_and_refuses_the_old_param(
        small_cohort: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import sarcoma_xnat.containers.runner as runner

    archive, manifest = small_cohort
    session = manifest.sessions[0].uri
    key = tmp_path / "site.key"
    key.write_text(SECRET + "\n")
    seen: dict[str, Any] = {}
    monkeypatch.setattr(runner, "run_command", lambda *a, **k: seen.update(k) or runner.RunResult("x", 0))
    monkeypatch.delenv("SARCOMA_XNAT_SITE_SECRET", raising=False)
    base = ["run", "--engine", "inprocess", "--command", "deid", "--archive", str(archive.root),
            "--wrapper", "sarcoma-deid-session", "--target", session, "--param", "study_project=S"]
    assert main([*base, "--secret", f"sarcoma.xnat.site-secret={key}"]) == 0
    assert seen["properties"] == {"sarcoma.xnat.site-secret": SECRET}
    assert main([*base, "--secret-file", str(key)]) == 0
    assert seen["properties"] == {"sarcoma.xnat.site-secret": SECRET}
    monkeypatch.setenv("SARCOMA_XNAT_SITE_SECRET", SECRET)
    assert main(base) == 0
    assert seen["properties"] == {"sarcoma.xnat.site-secret": SECRET}
    monkeypatch.undo()
    capsys.readouterr()
    code = main([*base, "--param", f"site_secret={SECRET}", "--secret-file", str(key)])
    out = capsys.readouterr()
    assert code != 0
    assert "no longer a parameter" in out.err and "-Dsarcoma.xnat.site-secret" in out.err
    assert "--secret sarcoma.xnat.site-secret=FILE" in out.err
    assert SECRET not in out.out + out.err


def test_an_input_may_not_name_a_secret_destination(small_cohort: Any) -> None:
    """CommandResolutionServiceImpl.ensureInputsDoNotUseSecrets."""
    archive, manifest = small_cohort
    with pytest.raises(ConfigurationError, match="refers to secret destination"):
        resolve(load_command(ROOT / "xnat-commands" / "deid.json"), archive,
                manifest.sessions[0].uri, "sarcoma-deid-session",
                {"study_project": "S", "prefix": "$SARCOMA_XNAT_SITE_SECRET"})


def test_preprocess_session_in_process_stores_the_step_output(small_cohort: Any, tmp_path: Path) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    code = main(["run", "--engine", "inprocess", "--command", str(ROOT / "xnat-commands" / "preprocess.json"),
                 "--wrapper", "sarcoma-preprocess-session", "--archive", str(archive.root),
                 "--target", session.uri])
    assert code == 0
    stored = _tree(archive.resource_path(session, "PREPROCESSED"))
    stage_session(archive, session, tmp_path / "in")
    assert main(["preprocess", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                 "--session-label", session.session]) == 0
    direct = _tree(tmp_path / "out")
    assert {"t1.nii.gz", "t2.nii.gz", "mask.nii.gz", "provenance.json"} <= set(stored)
    assert sorted(stored) == sorted(direct)
    assert {k: v for k, v in stored.items() if k != "provenance.json"} == \
        {k: v for k, v in direct.items() if k != "provenance.json"}
    params = [json.loads(d["provenance.json"])["parameters"] for d in (stored, direct)]
    assert params[0] == params[1]


def test_non_zero_exit_stores_nothing(small_cohort: Any) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    before = _archive_state(archive)
    with pytest.raises(ContainerError, match="exited with status 2; nothing was stored") as info:
        run_command(load_command(ROOT / "xnat-commands" / "preprocess.json"), archive, session.uri,
                    "sarcoma-preprocess-session", {"size": "1.5"}, InProcessEngine())
    assert "invalid int value: '1.5'" in str(info.value)  # the log tail says why
    assert _archive_state(archive) == before
    code = main(["run", "--engine", "inprocess", "--command", "preprocess", "--archive",
                 str(archive.root), "--wrapper", "sarcoma-preprocess-session", "--target",
                 session.uri, "--param", "size=1.5"])
    assert code != 0 and _archive_state(archive) == before


def test_missing_required_output_stores_nothing(small_cohort: Any) -> None:
    archive, manifest = small_cohort
    command = load_command(ROOT / "xnat-commands" / "preprocess.json")
    command.data["outputs"][0]["required"] = True
    command.data["command-line"] = "sarcoma-xnat --version"  # exits 0, writes nothing
    before = _archive_state(archive)
    with pytest.raises(ContainerError, match="required output 'preprocessed' is empty"):
        run_command(command, archive, manifest.sessions[0].uri, "sarcoma-preprocess-session",
                    {}, InProcessEngine())
    assert _archive_state(archive) == before


def test_assessor_handler_then_resource_on_it(small_cohort: Any, tmp_path: Path) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    command = Command({
        "name": "qc", "image": "qc:1", "command-line": "qc",
        "mounts": [{"name": "out", "writable": True, "path": "/output"}],
        "outputs": [{"name": "xml", "required": True, "mount": "out", "path": "assessor.xml"},
                    {"name": "data", "required": True, "mount": "out", "path": "DATA"}],
        "xnat": [{"name": "w", "contexts": ["xnat:imageSessionData"],
                  "external-inputs": [{"name": "session", "type": "Session", "required": True}],
                  "output-handlers": [
                      {"name": "assessor", "accepts-command-output": "xml", "as-a-child-of": "session",
                       "type": "Assessor"},
                      {"name": "files", "accepts-command-output": "data", "as-a-child-of": "assessor",
                       "type": "Resource", "label": "DATA"}]}]})
    resolved = resolve(command, archive, session.uri)
    out = tmp_path / "out"
    (out / "DATA").mkdir(parents=True)
    (out / "DATA" / "report.txt").write_text("ok\n")
    (out / "assessor.xml").write_text(
        '<?xml version="1.0"?>\n<xnat:QCAssessment xmlns:xnat="http://nrg.wustl.edu/xnat" '
        'label="QC_1" project="SYNTH"><xnat:rating>pass</xnat:rating></xnat:QCAssessment>\n')
    stored = store_outputs(archive, resolved, {"out": out})
    ref = session.child(assessor="QC_1")
    assert [s.ref for s in stored] == [ref, ref]
    assert archive.get(ref).xsi_type == "xnat:QCAssessment"
    assert archive.get(ref).attrs["rating"] == "pass"
    assert (archive.resource_path(ref, "DATA") / "report.txt").read_text() == "ok\n"


def test_in_process_engine_refuses_other_programs() -> None:
    from sarcoma_xnat.containers.engines import LaunchSpec

    with pytest.raises(ContainerError, match="only sarcoma-xnat"):
        InProcessEngine.argv(LaunchSpec("x:1", "python -c 'print(1)'"))
    argv = InProcessEngine.argv(LaunchSpec("x:1", "sarcoma-xnat a --in=/input/x /output /inputs",
                                           mounts=(("/h/in", "/input", False), ("/h/out", "/output", True))))
    assert argv == ["a", "--in=/h/in/x", "/h/out", "/inputs"]


class _Probe:
    """An engine that records what it is asked to launch, and the mounts as they are then."""

    name = "probe"

    def __init__(self) -> None:
        self.spec: Any = None
        self.modes: dict[str, int] = {}

    def run(self, spec: Any, sink: Any) -> int:
        import os
        import stat

        self.spec = spec
        self.modes = {path: stat.S_IMODE(os.stat(host).st_mode) for host, path, _ in spec.mounts}
        return 5


def test_output_mount_is_owner_only_and_container_user(small_cohort: Any, monkeypatch) -> None:
    """CommandResolutionServiceImpl makes the output folder owner-writable; the container runs
    as the docker server's container-user (default here: the caller's uid:gid)."""
    import os

    from sarcoma_xnat.errors import ConfigurationError

    archive, manifest = small_cohort
    command = load_command(ROOT / "xnat-commands" / "preprocess.json")
    session = manifest.sessions[0].uri
    for user, expected in ((None, f"{os.getuid()}:{os.getgid()}"), ("1234:5678", "1234:5678"),
                           ("", None)):
        probe = _Probe()
        with pytest.raises(ContainerError, match="status 5"):
            run_command(command, archive, session, "sarcoma-preprocess-session", {}, probe, user=user)
        assert probe.modes["/output"] == 0o700 and probe.spec.user == expected
    with pytest.raises(ConfigurationError, match="UID\\[:GID\\]"):
        run_command(command, archive, session, "sarcoma-preprocess-session", {}, _Probe(),
                    user="root; rm")
    seen: dict[str, Any] = {}
    import sarcoma_xnat.containers.runner as runner

    monkeypatch.setattr(runner, "run_command", lambda *a, **k: seen.update(k) or runner.RunResult("x", 0))
    assert main(["run", "--engine", "inprocess", "--command", "preprocess", "--archive",
                 str(archive.root), "--target", session, "--wrapper", "sarcoma-preprocess-session",
                 "--container-user", "42:42"]) == 0
    assert seen["user"] == "42:42"


def test_docker_engine_passes_the_container_user() -> None:
    from sarcoma_xnat.containers.engines import DockerEngine, LaunchSpec

    created: dict[str, Any] = {}

    class Container:
        def start(self) -> None: ...
        def logs(self, **kw: Any) -> list[bytes]: return [b"ok\n"]
        def wait(self) -> dict[str, int]: return {"StatusCode": 0}
        def remove(self, force: bool) -> None: ...

    class Client:
        class images:  # noqa: N801 - mimics the docker SDK's attribute
            @staticmethod
            def get(image: str) -> object: return object()

        class containers:  # noqa: N801
            @staticmethod
            def create(image: str, **kw: Any) -> Container:
                created.update(kw)
                return Container()

    engine = DockerEngine.__new__(DockerEngine)
    engine.client = Client()
    assert engine.run(LaunchSpec("x:1", "run", user="1000:1000"), lambda line: None) == 0
    assert created["user"] == "1000:1000"


def test_input_mounts_hold_xnat_catalogs(small_cohort: Any, tmp_path: Path) -> None:
    """XNAT mounts the archive folder itself: each resource folder has its catalog XML."""
    import xml.etree.ElementTree as ET

    import pydicom

    from sarcoma_xnat.containers.objects import describe
    from sarcoma_xnat.containers.runner import stage_object

    archive, manifest = small_cohort
    session = manifest.sessions[0]
    staged = stage_object(archive, describe(archive, session), tmp_path / "mount")
    cat = "{http://nrg.wustl.edu/catalog}"
    folder = staged / "SCANS" / "2" / "DICOM"
    root = ET.parse(folder / "scan_2_catalog.xml").getroot()
    assert root.tag == f"{cat}DCMCatalog" and root.get("ID") == "DICOM"
    entries = root.findall(f"{cat}entries/{cat}entry")
    dicom = sorted(p for p in folder.iterdir() if p.name != "scan_2_catalog.xml")
    assert sorted(e.get("URI") for e in entries) == [p.name for p in dicom]
    uids = {p.name: str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in dicom}
    assert {e.get("URI"): e.get("UID") for e in entries} == uids
    xsi = "{http://www.w3.org/2001/XMLSchema-instance}type"
    assert {e.get(xsi) for e in entries} == {"cat:dcmEntry"}
    seg_resources = archive.resources(session.child(assessor=f"{session.session}_SEG"))
    assert seg_resources
    for res in seg_resources:
        label = res.label
        seg = staged / "ASSESSORS" / f"{session.session}_SEG" / label / f"{label}_catalog.xml"
        assert ET.parse(seg).getroot().find(f"{cat}entries") is not None

"""Resolution of wrappers against a synthetic archive: matchers, derived inputs, keys, flags."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.cli import build_parser
from sarcoma_xnat.containers.command import Command, load_command
from sarcoma_xnat.containers.resolve import resolve
from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.synthetic import CohortManifest

ROOT = Path(__file__).resolve().parents[2]
COMMAND_FILES = sorted((ROOT / "xnat-commands").glob("*.json"))


@pytest.fixture
def cohort(small_cohort_template: tuple[Path, CohortManifest]) -> tuple[LocalArchive, Any]:
    """The shared small cohort (read only here) and its first session."""
    root, manifest = small_cohort_template
    return LocalArchive(root), manifest.sessions[0]


def scan_command(**changes: Any) -> Command:
    """A scan-level command that exercises keys, flags, booleans and derived values."""
    data: dict[str, Any] = {
        "name": "probe", "image": "probe:1", "type": "docker",
        "command-line": "probe #SCAN_ID# [FAST] #LEVEL# #NOTE# --type=#scan-type#",
        "mounts": [{"name": "in", "writable": False, "path": "/in/#SCAN_ID#"},
                   {"name": "out", "writable": True, "path": "/out"}],
        "environment-variables": {"PROBE_SCAN": "#SCAN_ID#", "PROBE_#SCAN_ID#": "yes",
                                  "PROBE_TYPE": "#scan-type#", "PROBE_FAST": "[FAST]"},
        "inputs": [
            {"name": "scan_id", "type": "string", "required": True, "replacement-key": "#SCAN_ID#",
             "command-line-flag": "--scan", "command-line-separator": "="},
            {"name": "fast", "type": "boolean", "default-value": "false", "replacement-key": "[FAST]",
             "true-value": "--fast", "false-value": "--thorough"},
            {"name": "level", "type": "number", "default-value": "3", "command-line-flag": "-l",
             "replacement-key": "#LEVEL#"},
            {"name": "note", "type": "string", "replacement-key": "#NOTE#", "command-line-flag": "--note"},
        ],
        "outputs": [{"name": "result", "required": True, "mount": "out", "path": "scan-#SCAN_ID#"}],
        "xnat": [{
            "name": "probe-scan", "contexts": ["xnat:imageScanData"],
            "external-inputs": [{"name": "scan", "type": "Scan", "required": True,
                                 "matcher": "'DICOM' in @.resources[*].label"}],
            "derived-inputs": [
                {"name": "dicom", "type": "Resource", "required": True, "derived-from-wrapper-input": "scan",
                 "matcher": "@.label == 'DICOM'", "provides-files-for-command-mount": "in"},
                {"name": "scan-id", "type": "string", "derived-from-wrapper-input": "scan",
                 "derived-from-xnat-object-property": "id", "provides-value-for-command-input": "scan_id"},
                {"name": "scan-type", "type": "string", "derived-from-wrapper-input": "scan",
                 "derived-from-xnat-object-property": "scan-type"},
            ],
            "output-handlers": [{"name": "res", "accepts-command-output": "result",
                                 "as-a-child-of": "scan", "label": "PROBE"}],
        }],
    }
    data.update(changes)
    return Command(data)


def test_keys_flags_booleans_and_derived_properties(cohort: tuple[LocalArchive, Any]) -> None:
    archive, session = cohort
    r = resolve(scan_command(), archive, session.child(scan="2").uri)
    # CommandResolutionServiceImpl.resolveCommandLine uses command-input keys only: a wrapper
    # input's key stays as written on the command line, but is substituted in the environment
    assert shlex.split(r.command_line) == ["probe", "--scan=2", "--thorough", "-l", "3",
                                           "--type=#scan-type#"]
    # env gets the value without its flag; a boolean's true-/false-value everywhere
    assert r.environment == {"PROBE_SCAN": "2", "PROBE_2": "yes", "PROBE_TYPE": "T2_AX_FS",
                             "PROBE_FAST": "--thorough"}
    assert [m.path for m in r.mounts] == ["/in/2", "/out"]
    assert r.mounts[0].source is not None and r.mounts[0].source.resource == "DICOM"
    assert r.outputs[0].path == "scan-2" and r.outputs[0].parent == "scan"
    r = resolve(scan_command(), archive, session.child(scan="1").uri,
                params={"fast": "true", "level": "5", "note": "two words"})
    assert shlex.split(r.command_line)[1:5] == ["--scan=1", "--fast", "-l", "5"]
    assert "--note two words" in r.command_line


def test_external_matcher_and_context_are_enforced(cohort: tuple[LocalArchive, Any]) -> None:
    archive, session = cohort
    cmd = scan_command()
    cmd.data["xnat"][0]["external-inputs"][0]["matcher"] = "@.scan-type == 'T2_AX_FS'"
    resolve(cmd, archive, session.child(scan="2").uri)
    with pytest.raises(ConfigurationError, match="does not match"):
        resolve(cmd, archive, session.child(scan="1").uri)
    with pytest.raises(ConfigurationError, match="expects a Scan"):
        resolve(cmd, archive, session.uri)


def test_bad_parameters_are_refused(cohort: tuple[LocalArchive, Any]) -> None:
    archive, session = cohort
    target = session.child(scan="1").uri
    with pytest.raises(ConfigurationError, match="must be a number"):
        resolve(scan_command(), archive, target, params={"level": "high"})
    with pytest.raises(ConfigurationError, match="unknown parameters"):
        resolve(scan_command(), archive, target, params={"levle": "2"})
    cmd = scan_command()
    cmd.data["xnat"][0]["derived-inputs"][1].pop("provides-value-for-command-input")
    with pytest.raises(ConfigurationError, match="required input 'scan_id'"):
        resolve(cmd, archive, target)


def _session_command(matcher: str, multiple: bool = False) -> Command:
    return Command({
        "name": "pick", "image": "pick:1", "command-line": "pick #SCANS#",
        "inputs": [{"name": "scans", "replacement-key": "#SCANS#", "command-line-flag": "--scan",
                    "multiple-delimiter": "flag"}],
        "mounts": [], "outputs": [],
        "xnat": [{"name": "w", "contexts": ["xnat:imageSessionData"],
                  "external-inputs": [{"name": "session", "type": "Session", "required": True}],
                  "derived-inputs": [{"name": "scan", "type": "Scan", "required": True,
                                      "derived-from-wrapper-input": "session", "matcher": matcher,
                                      "multiple": multiple},
                                     {"name": "scan-id", "type": "string",
                                      "derived-from-wrapper-input": "scan",
                                      "derived-from-xnat-object-property": "id",
                                      "provides-value-for-command-input": "scans"}],
                  "output-handlers": []}]})


def test_derived_scans_by_matcher(cohort: tuple[LocalArchive, Any]) -> None:
    archive, session = cohort
    r = resolve(_session_command("@.scan-type in ['T1_AX_POST']"), archive, session.uri)
    assert r.wrapper_values["scan"].ref == session.child(scan="1")
    assert r.command_line == "pick --scan 1"
    with pytest.raises(ConfigurationError, match="matches 2 Scans"):
        resolve(_session_command("'DICOM' in @.resources[*].label"), archive, session.uri)
    with pytest.raises(ConfigurationError, match="found no value"):
        resolve(_session_command("@.scan-type == 'FLAIR'"), archive, session.uri)


def test_preprocess_roi_wrapper_derives_the_session(cohort: tuple[LocalArchive, Any]) -> None:
    archive, session = cohort
    roi = session.child(assessor=f"{session.session}_SEG")
    r = resolve(load_command(ROOT / "xnat-commands" / "preprocess.json"), archive, roi.uri,
                "sarcoma-preprocess-roi")
    assert r.wrapper_values["session"].ref == session
    assert r.mounts[0].path == "/input" and r.mounts[0].source.ref == session
    args = shlex.split(r.command_line)
    assert args[args.index("--roi-collection") + 1] == f"{session.session}_SEG"
    assert args[args.index("--session-label") + 1] == session.session
    assert r.outputs[0].handler["label"] == "PREPROCESSED" and r.outputs[0].parent == "session"
    with pytest.raises(ConfigurationError, match="expects a Assessor"):
        resolve(load_command(ROOT / "xnat-commands" / "preprocess.json"), archive, session.uri,
                "sarcoma-preprocess-roi")


def _all_params(command: Command) -> dict[str, str]:
    """A value for every command input, so that every flag appears on the command line."""
    values = {}
    for inp in command.inputs:
        kind = inp.get("type", "string")
        values[inp["name"]] = {"number": "64", "boolean": "true"}.get(
            kind, str((inp.get("select-values") or ["x"])[-1]))
    return values


@pytest.fixture
def processed_cohort(small_cohort: tuple[LocalArchive, CohortManifest], tmp_path: Path
                     ) -> tuple[LocalArchive, Any]:
    """A writable cohort whose first session has step outputs and whose project has a model."""
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    for ref, label, name in ((session, "PREPROCESSED", "t1.nii.gz"),
                             (ObjectRef(session.project), "PROGNOSIS_MODEL", "model.pt"),
                             (ObjectRef(session.project), "SEGMENT_MODELS", "registry.json"),
                             (ObjectRef(session.project), "FL_KIT", "fed_client.json"),
                             (ObjectRef(session.project), "DEID_SITE", "deid-site.toml")):
        folder = tmp_path / label
        folder.mkdir()
        (folder / name).write_bytes(b"placeholder")
        archive.store_resource(ref, label, folder)
    return archive, session


def test_prognosis_wrapper_mounts_the_projects_model(processed_cohort: tuple[LocalArchive, Any]
                                                     ) -> None:
    archive, session = processed_cohort
    r = resolve(load_command(ROOT / "xnat-commands" / "prognosis.json"), archive, session.uri)
    assert [(m.path, m.source.ref) for m in r.mounts] == [("/model", ObjectRef(session.project))]
    # the Container Service gives a session's uri in ID form (container-service model/xnat/Session.java)
    session_id = archive.get(session).id
    assert shlex.split(r.command_line)[-4:] == ["--target", f"/archive/experiments/{session_id}",
                                                "--model", "/model"]
    archive.delete_resource(ObjectRef(session.project), "PROGNOSIS_MODEL")
    with pytest.raises(ConfigurationError, match="PROGNOSIS_MODEL"):
        resolve(load_command(ROOT / "xnat-commands" / "prognosis.json"), archive, session.uri)


@pytest.mark.parametrize("path", COMMAND_FILES, ids=[p.stem for p in COMMAND_FILES])
def test_command_lines_use_only_flags_the_cli_accepts(path: Path,
                                                      processed_cohort: tuple[LocalArchive, Any]
                                                      ) -> None:
    archive, session = processed_cohort
    command = load_command(path)
    targets = {"Session": session.uri, "Scan": session.child(scan="1").uri,
               "Assessor": session.child(assessor=f"{session.session}_SEG").uri,
               "Project": ObjectRef(session.project).uri}
    for wrapper in command.wrappers:
        external = wrapper["external-inputs"][0]
        for params in ({}, _all_params(command)):
            params = {k: v for k, v in params.items()
                      if not any(wi.get("provides-value-for-command-input") == k
                                 for wi in wrapper.get("derived-inputs", []))}
            params.update({i["name"]: "x" for i in command.inputs  # required, e.g. study_project
                           if i.get("required") and i.get("default-value") is None
                           and i["name"] not in params})
            r = resolve(command, archive, targets[external["type"]], wrapper["name"], params)
            argv = shlex.split(r.command_line)
            assert argv[0] == "sarcoma-xnat"
            try:
                build_parser().parse_args(argv[1:])
            except SystemExit:
                pytest.fail(f"{path.name} {wrapper['name']}: the CLI refuses {r.command_line!r}")


def test_object_uris_are_xnat_id_form(cohort: tuple[LocalArchive, Any]) -> None:
    """URIs as the Container Service gives them (container-service model/xnat/*.java)."""
    from sarcoma_xnat.containers.objects import describe

    archive, session = cohort
    eid, sid = archive.get(session).id, archive.get(session.parent).id
    roi = session.child(assessor=f"{session.session}_SEG")
    aid = archive.get(roi).id
    assert describe(archive, session).data["uri"] == f"/archive/experiments/{eid}"
    scan = describe(archive, session.child(scan="2")).data
    assert scan["uri"] == f"/archive/experiments/{eid}/scans/2"
    dicom = next(r for r in scan["resources"] if r["label"] == "DICOM")
    assert dicom["uri"] == f"/archive/experiments/{eid}/scans/2/resources/DICOM"
    assert dicom["parent-uri"] == scan["uri"]
    assert describe(archive, roi).data["uri"] == f"/archive/experiments/{eid}/assessors/{aid}"
    assert describe(archive, session.parent).data["uri"] == f"/archive/subjects/{sid}"
    assert describe(archive, ObjectRef(session.project)).data["uri"] == f"/archive/projects/{session.project}"
    listed = describe(archive, session).data
    assert [s["uri"] for s in listed["scans"]][:1] == [f"/archive/experiments/{eid}/scans/1"]


@pytest.mark.parametrize("form", ["archive", "bare", "label", "id"])
def test_launch_values_in_every_form_resolve_to_the_same_scan(cohort: tuple[LocalArchive, Any],
                                                               form: str) -> None:
    """CommandResolutionServiceImpl.resolveXnatObject: '/'-values are URIs (``/archive`` added)."""
    archive, session = cohort
    eid = archive.get(session).id
    value = {"archive": f"/archive/experiments/{eid}/scans/2", "bare": f"/experiments/{eid}/scans/2",
             "label": session.child(scan="2").uri, "id": None}[form]
    if value is None:  # a Session input given a bare ID
        r = resolve(_session_command("@.scan-type in ['T1_AX_POST']"), archive, eid)
        assert r.wrapper_values["session"].ref == session
        return
    r = resolve(scan_command(), archive, value)
    assert r.wrapper_values["scan"].ref == session.child(scan="2")
    assert r.wrapper_values["scan"].uri == f"/archive/experiments/{eid}/scans/2"

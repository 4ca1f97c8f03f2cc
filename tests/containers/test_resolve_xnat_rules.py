"""The local resolver follows the Container Service's rules (CommandResolutionServiceImpl, Command.java)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.containers.command import Command
from sarcoma_xnat.containers.resolve import resolve
from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.synthetic import CohortManifest


@pytest.fixture
def cohort(small_cohort_template: tuple[Path, CohortManifest]) -> tuple[LocalArchive, Any]:
    root, manifest = small_cohort_template
    return LocalArchive(root), manifest.sessions[0]


def _command(derived: list[dict[str, Any]], inputs: list[dict[str, Any]] | None = None,
             line: str = "run #X#", **extra: Any) -> Command:
    return Command({
        "name": "rules", "image": "rules:1", "command-line": line,
        "inputs": inputs if inputs is not None else [{"name": "x", "replacement-key": "#X#"}],
        "mounts": [{"name": "out", "writable": True, "path": "/out"}],
        "outputs": [{"name": "o", "mount": "out", "required": False}], **extra,
        "xnat": [{"name": "w", "contexts": ["xnat:imageSessionData"],
                  "external-inputs": [{"name": "session", "type": "Session"}],
                  "derived-inputs": derived,
                  "output-handlers": [{"name": "h", "accepts-command-output": "o",
                                       "as-a-child-of": "session", "label": "L_#X#"}]}]})


def test_wrapper_inputs_are_required_unless_they_say_not(cohort: tuple[LocalArchive, Any]) -> None:
    """Command.java: a wrapper input's ``required`` absent means true."""
    archive, session = cohort
    scan = {"name": "scan", "type": "Scan", "derived-from-wrapper-input": "session",
            "matcher": "@.scan-type == 'FLAIR'"}
    with pytest.raises(ConfigurationError, match="found no value for derived input 'scan'"):
        resolve(_command([scan]), archive, session.uri)
    r = resolve(_command([dict(scan, required=False)]), archive, session.uri)
    assert r.wrapper_values["scan"] is None


def test_several_matches_fail_only_a_required_input(cohort: tuple[LocalArchive, Any]) -> None:
    archive, session = cohort
    scan = {"name": "scan", "type": "Scan", "derived-from-wrapper-input": "session",
            "required": False}
    assert resolve(_command([scan]), archive, session.uri).wrapper_values["scan"] is None
    with pytest.raises(ConfigurationError, match="matches 2 Scans"):
        resolve(_command([dict(scan, required=True)]), archive, session.uri)


def test_a_launch_value_picks_a_child_by_id_and_must_match(cohort: tuple[LocalArchive, Any]) -> None:
    """matchChildFromParent: the value is matched against uri, id, label, directory, with the matcher."""
    archive, session = cohort
    scan = {"name": "scan", "type": "Scan", "derived-from-wrapper-input": "session",
            "matcher": "'DICOM' in @.resources[*].label"}
    r = resolve(_command([scan]), archive, session.uri, params={"scan": "2"})
    assert r.wrapper_values["scan"].ref == session.child(scan="2")
    elsewhere = session.child(scan="2").uri.replace(session.session, "NOT_THIS_ONE")
    with pytest.raises(ConfigurationError, match="found no value"):
        resolve(_command([scan]), archive, session.uri, params={"scan": elsewhere})


def test_upward_derivation_ignores_the_matcher(cohort: tuple[LocalArchive, Any]) -> None:
    """Session from Scan, Project from Session: the ancestor, whatever the matcher says."""
    archive, session = cohort
    project = {"name": "project", "type": "Project", "derived-from-wrapper-input": "session",
               "matcher": "@.label == 'SOME_OTHER_PROJECT'"}
    r = resolve(_command([project]), archive, session.uri)
    assert r.wrapper_values["project"].ref.project == session.project


def test_a_wrapper_value_wins_over_a_launch_value(cohort: tuple[LocalArchive, Any]) -> None:
    """resolveCommandInput: default, then the runtime value, then the provided value."""
    archive, session = cohort
    label = {"name": "label", "type": "string", "derived-from-wrapper-input": "session",
             "derived-from-xnat-object-property": "label", "provides-value-for-command-input": "x"}
    r = resolve(_command([label]), archive, session.uri, params={"x": "from-launch"})
    assert r.command_line == f"run {session.session}"
    r = resolve(_command([], [{"name": "x", "replacement-key": "#X#", "default-value": "d"}]),
                archive, session.uri, params={"x": ""})
    assert r.command_line == "run" and r.input_values["x"] == ""  # "" replaces the default


def test_derived_numbers_and_booleans_get_no_value(cohort: tuple[LocalArchive, Any]) -> None:
    archive, session = cohort
    n = {"name": "n", "type": "number", "derived-from-wrapper-input": "session",
         "derived-from-xnat-object-property": "id", "required": False,
         "provides-value-for-command-input": "x"}
    assert resolve(_command([n]), archive, session.uri).command_line == "run"


def test_booleans_as_xnat_reads_them(cohort: tuple[LocalArchive, Any]) -> None:
    """Boolean.parseBoolean, then true-/false-value only when they are set."""
    archive, session = cohort
    plain = [{"name": "x", "type": "boolean", "replacement-key": "#X#", "command-line-flag": "--x"}]
    mapped = [dict(plain[0], **{"true-value": "on", "false-value": "off"})]
    assert resolve(_command([], plain), archive, session.uri, params={"x": "TRUE"}).command_line \
        == "run --x TRUE"
    assert resolve(_command([], mapped), archive, session.uri, params={"x": "TRUE"}).command_line \
        == "run --x on"
    with pytest.raises(ConfigurationError, match="anything but 'true' as false"):
        resolve(_command([], mapped), archive, session.uri, params={"x": "1"})


def test_templates_in_paths_labels_and_working_directory(cohort: tuple[LocalArchive, Any]) -> None:
    archive, session = cohort
    cmd = _command([], [{"name": "x", "replacement-key": "#X#", "default-value": "v1"}],
                   line="run #session#", **{"working-directory": "/work/#X#"})
    r = resolve(cmd, archive, session.uri)
    assert r.working_directory == "/work/v1"
    assert r.outputs[0].handler["label"] == "L_v1"
    assert shlex.split(r.command_line) == ["run", "#session#"]

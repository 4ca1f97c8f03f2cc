"""A project's SERIES_RULES resource reaches the preprocess parameters."""

from __future__ import annotations

import json

import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.steps.preprocess_params import PreprocessParams
from sarcoma_xnat.steps.series_rules import project_rules


def test_project_rules_from_the_resource(tmp_path) -> None:
    archive = LocalArchive(tmp_path / "archive")
    archive.create(ObjectRef("P1"))
    assert project_rules(archive, "P1") is None
    src = tmp_path / "rules"
    src.mkdir()
    (src / "series_rules.json").write_text(json.dumps({"t2": {"include": r"\bPD\b"}}))
    archive.store_resource(ObjectRef("P1"), "SERIES_RULES", src)
    rules = PreprocessParams(series_rules=project_rules(archive, "P1")).rules()
    assert rules["t2"].include == r"\bPD\b" and "fat_saturated" in rules["t2"].prefer
    # an explicit pattern still wins over the project's file
    assert PreprocessParams(series_rules={"t2": {"include": "x"}}, t2_pattern="y").rules()["t2"].include == "y"
    (src / "series_rules.json").write_text(json.dumps({"t2": {"prefer": ["newest"]}}))
    archive.store_resource(ObjectRef("P1"), "SERIES_RULES", src)
    with pytest.raises(ConfigurationError, match="unknown preferences"):
        project_rules(archive, "P1")

"""The packaged PS3.15 Table E.1-1 and how options resolve it."""

from __future__ import annotations

from collections import Counter

import pytest

from sarcoma_xnat.deid.profile import Option, compile_profile, load_rows
from sarcoma_xnat.errors import ConfigurationError


def test_table_has_every_row_of_the_2024b_edition() -> None:
    rows = load_rows()
    assert len(rows) == 621
    # counts published for this edition's basic column (see data/README.md)
    assert Counter(r.basic for r in rows) == {"X": 384, "D": 92, "U": 54, "Z": 42, "X/D": 22,
                                              "X/Z": 11, "X/Z/D": 8, "Z/D": 6, "X/Z/U*": 2}


@pytest.mark.parametrize("keyword, basic", [
    ("PatientName", "Z"), ("PatientID", "Z/D"), ("PatientBirthDate", "Z"),
    ("SeriesDescription", "X"), ("StudyInstanceUID", "U"), ("InstitutionName", "X/Z/D"),
    ("OtherPatientIDsSequence", "X"), ("RequestAttributesSequence", "X"),
])
def test_known_rows(keyword: str, basic: str) -> None:
    assert {r.keyword: r.basic for r in load_rows()}[keyword] == basic


def test_default_options_resolve_as_the_study_needs() -> None:
    actions = compile_profile().actions
    assert actions[0x00101010] == "K"  # Patient's Age: Retain Patient Characteristics
    assert actions[0x00100040] == "K"  # Patient's Sex
    assert actions[0x00080020] == "C"  # Study Date: shifted (modified dates)
    assert actions[0x0008103E] == "C"  # Series Description: cleaned
    assert actions[0x00100030] == "Z"  # Birth Date: still emptied
    assert actions[0x00080080] == "Z"  # Institution Name: X/Z/D emptied, stays in the IOD
    assert actions[0x0020000D] == "U"


def test_basic_profile_alone_removes_characteristics() -> None:
    profile = compile_profile(())
    assert profile.actions[0x00101010] == "X"
    assert profile.private == "X"
    assert profile.codes == [("113100", "Basic Application Confidentiality Profile")]


def test_conflicting_or_unsupported_options_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        compile_profile((Option.RETAIN_LONG_FULL_DATES, Option.RETAIN_LONG_MODIFIED_DATES))
    with pytest.raises(ConfigurationError, match="not implemented"):
        compile_profile((Option.CLEAN_GRAPHICS,))

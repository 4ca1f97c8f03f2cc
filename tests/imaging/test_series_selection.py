"""Choosing the T1 and T2 series of a session by rules."""

from __future__ import annotations

import pytest

from sarcoma_xnat.errors import ConfigurationError, SeriesSelectionError
from sarcoma_xnat.imaging.selection import ScanCandidate, SeriesRule, rules_from_json, select_series

SCANS = [
    ScanCandidate("1", "LOCALIZER", "3-plane loc"),
    ScanCandidate("2", "T1_AX_POST", "T1 AX POST GD"),
    ScanCandidate("3", "", "t2_tse_fs_ax"),
    ScanCandidate("4", "", "T1 AX PRE"),
]


def test_default_rules_pick_t1_post_and_t2_in_channel_order():
    chosen = select_series(SCANS)
    assert list(chosen) == ["t1", "t2"]
    assert chosen["t1"].scan_id == "2" and chosen["t2"].scan_id == "3"


def test_ambiguity_lists_the_candidates():
    # equal on every preference (both fat-saturated, axial, thickness unknown): a real tie
    scans = SCANS + [ScanCandidate("5", "", "T2 AX STIR")]
    with pytest.raises(SeriesSelectionError, match="T2 series is ambiguous") as err:
        select_series(scans, context={"session": "S1_MR"})
    assert "scan 3" in str(err.value) and "scan 5" in str(err.value) and "S1_MR" in str(err.value)
    assert "scan 4" not in str(err.value)


def test_preferences_break_ties_in_order():
    pre, post = ScanCandidate("1", "", "AX T1 FSE"), ScanCandidate("2", "", "AX T1 FS POST GAD")
    assert select_series([pre, post, ScanCandidate("3", "", "Ax STIR")])["t1"] is post
    thick = ScanCandidate("4", "", "T2 AX FS", slice_thickness=6.0)
    thin = ScanCandidate("5", "", "T2 AX FS", slice_thickness=4.0)
    assert select_series([post, thick, thin])["t2"] is thin
    plain = ScanCandidate("6", "", "T2 AX TSE", slice_thickness=3.0)
    assert select_series([post, thick, plain])["t2"] is thick  # fat-saturated before thinner


def test_project_rules_file_replaces_patterns_and_preferences():
    scans = [ScanCandidate("1", "", "AX T1 FSE"), ScanCandidate("2", "", "AX T1 FS POST GAD"),
             ScanCandidate("3", "", "PD SPAIR AX")]
    rules = rules_from_json({"t1": {"prefer": ["fat_saturated"]},
                             "t2": {"include": r"\bPD\b"}})
    assert select_series(scans, rules)["t2"].scan_id == "3"
    rules = rules_from_json({"t1": {"exclude": r"\bPOST\b"}, "t2": {"include": r"\bPD\b"}})
    assert select_series(scans, rules)["t1"].scan_id == "1"
    with pytest.raises(ConfigurationError, match="unknown preferences"):
        rules_from_json({"t1": {"prefer": ["newest"]}})
    with pytest.raises(ConfigurationError, match="unknown keys"):
        rules_from_json({"t2": {"pattern": "x"}})


def test_missing_channel_lists_what_was_there():
    with pytest.raises(SeriesSelectionError, match="no T2 series") as err:
        select_series(SCANS[:2])
    assert "scan 1" in str(err.value) and "scan 2" in str(err.value)


def test_explicit_scan_id_and_custom_pattern_override():
    chosen = select_series(SCANS + [ScanCandidate("5", "", "T2 COR STIR")],
                           {"t2": SeriesRule(r"\bSTIR\b")})
    assert chosen["t2"].scan_id == "5"
    chosen = select_series(SCANS, {"t1": SeriesRule("unused", scan_id="4")})
    assert chosen["t1"].scan_id == "4"


def test_same_scan_for_two_channels_and_bad_patterns_are_refused():
    with pytest.raises(SeriesSelectionError, match="several channels"):
        select_series(SCANS, {"t2": SeriesRule("", scan_id="2")})
    with pytest.raises(ConfigurationError, match="invalid t1 selection pattern"):
        select_series(SCANS, {"t1": SeriesRule("(")})

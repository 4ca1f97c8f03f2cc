"""Choosing the T1 and T2 series of a session by rules."""

from __future__ import annotations

import pytest

from sarcoma_xnat.errors import ConfigurationError, SeriesSelectionError
from sarcoma_xnat.imaging.selection import ScanCandidate, SeriesRule, select_series

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
    scans = SCANS + [ScanCandidate("5", "", "T2 COR STIR")]
    with pytest.raises(SeriesSelectionError, match="T2 series is ambiguous") as err:
        select_series(scans, context={"session": "S1_MR"})
    assert "scan 3" in str(err.value) and "scan 5" in str(err.value) and "S1_MR" in str(err.value)


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

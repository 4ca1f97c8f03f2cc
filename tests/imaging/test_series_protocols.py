"""The default selection rules on real-world protocol names (tests/data/series_protocols.csv)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sarcoma_xnat.imaging.selection import ScanCandidate, select_series

TABLE = Path(__file__).resolve().parents[1] / "data" / "series_protocols.csv"


def _cases() -> list[dict[str, str]]:
    lines = [line for line in TABLE.read_text().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def _scans(text: str) -> list[ScanCandidate]:
    out = []
    for item in text.split(" ; "):
        scan_id, _, desc = item.partition("=")
        desc, _, thick = desc.partition("@")
        if scan_id.isdigit():
            out.append(ScanCandidate(scan_id, "", desc, slice_thickness=float(thick) if thick else None))
        else:  # the XNAT scan type is given instead of a description
            out.append(ScanCandidate(scan_id, desc, ""))
    return out


def test_table_is_large_and_cited() -> None:
    cases = _cases()
    assert len(cases) >= 30
    assert all(c["source"].strip() for c in cases)


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["case"])
def test_protocol_set(case: dict[str, str]) -> None:
    chosen = select_series(_scans(case["series"]))
    assert (chosen["t1"].scan_id, chosen["t2"].scan_id) == (case["expect_t1"], case["expect_t2"])

"""The PHI guard finds planted values in test output, and only those."""

from __future__ import annotations

import json
from pathlib import Path

from phi_guard import find_leaks, planted_values


def test_guard_finds_a_planted_name_in_any_case(tmp_path: Path) -> None:
    truth = tmp_path / "cohort" / "ground-truth"
    truth.mkdir(parents=True)
    (truth / "HOSP-phi.json").write_text(json.dumps(
        {"SYN001": ["QUINTERO^JEREMIAH", "Quintero", "MRN85921581", "M"]}))
    values = planted_values(tmp_path)
    assert values == {"QUINTERO^JEREMIAH", "Quintero", "MRN85921581"}  # initials are too short
    outputs = [("t1", "Captured log call", "skipped file #1a2b3c: not DICOM"),
               ("t2", "Captured stderr call", "error: bad file /export/quintero/IM0001"),
               ("t3", "Captured stdout call", "patient MRN85921581 stored"),
               ("t4", "Captured stdout call", "pseudonym SXNQUINTEROX")]  # not a whole word
    assert find_leaks(outputs, values) == [("t2", "Captured stderr call", 1),
                                           ("t3", "Captured stdout call", 1)]

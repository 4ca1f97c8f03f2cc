"""Matchers: the JSONPath filter subset the Container Service evaluates on XNAT objects."""

from __future__ import annotations

import pytest

from sarcoma_xnat.containers.matchers import evaluate_path, matches
from sarcoma_xnat.errors import ConfigurationError

SCAN = {"id": "3", "scan-type": "T2_AX_FS", "frames": 24, "xsiType": "xnat:mrScanData",
        "resources": [{"label": "DICOM"}, {"label": "SNAPSHOTS"}]}


@pytest.mark.parametrize("matcher, expected", [
    ("'DICOM' in @.resources[*].label", True),
    ("'NIFTI' in @.resources[*].label", False),
    ("'NIFTI' nin @.resources[*].label", True),
    ("@.scan-type == 'T2_AX_FS'", True),
    ("@.scan-type != 'T2_AX_FS'", False),
    ("@.scan-type in ['T1_AX_POST', 'T2_AX_FS']", True),
    ("@.frames > 20 && @.frames <= 24", True),
    ("@.frames < 10 || @.id == '3'", True),
    ("!(@.id == '3')", False),
    ("@.xsiType =~ /xnat:mr.*/", True),
    ("@.xsiType =~ /XNAT:MR.*/i", True),
    ("@.resources[0].label == 'DICOM'", True),
    ("@['scan-type'] == 'T2_AX_FS'", True),
    ("@.resources[*].label anyof ['NIFTI', 'SNAPSHOTS']", True),
    ("@.resources[*].label subsetof ['DICOM']", False),
    ("@.resources size 2", True),
    ("@.quality == 'usable'", False),
    ("@.quality", False),
])
def test_matchers(matcher: str, expected: bool) -> None:
    assert matches(matcher, SCAN) is expected


@pytest.mark.parametrize("bad", ["@.id ==", "@.id === '3'", "'a' in", "@.id == '3' )"])
def test_malformed_matchers_are_errors(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        matches(bad, SCAN)


def test_paths() -> None:
    assert evaluate_path("$.resources[*].label", SCAN) == ["DICOM", "SNAPSHOTS"]
    assert evaluate_path("$.nothing", SCAN) is None

"""Preprocessing puts the tumour's measurements on the session and checks the entered size."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.steps.measurement_fields import clinical_check, intensity_stats
from sarcoma_xnat.steps.preprocess import run_on_archive

FAST = {"n4_iterations": (10, 10), "n4_target_voxels": 20_000}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from sarcoma_xnat.synthetic import generate_cohort

    archive = LocalArchive(tmp_path_factory.mktemp("measure-archive"))
    manifest = generate_cohort(archive, n_subjects=1, seed=11, preset="small")
    return archive, manifest.sessions[0]


def test_session_fields_match_measurements_json(cohort) -> None:
    archive, session = cohort
    result = run_on_archive(archive, session, FAST)
    saved = json.loads((result.output_dir / "measurements.json").read_text())
    fields = archive.get(session).fields
    assert float(fields["tumour_volume_ml"]) == pytest.approx(saved["tumour"]["volume_mm3"] / 1000,
                                                              abs=1e-3)
    assert float(fields["tumour_longest_diameter_mm"]) == pytest.approx(
        saved["tumour"]["longest_diameter_mm"], abs=0.05)
    assert float(fields["t2_roi_mean"]) == pytest.approx(saved["intensity"]["t2"]["mean"], abs=1e-4)
    # the synthetic cohort enters size and volume within a few per cent of the phantom's
    assert fields["tumour_size_check"] == "ok"

    subject = ObjectRef(session.project, session.subject)
    archive.set_fields(subject, {"tumour_volume_cm3": "5000"})
    run_on_archive(archive, session, {**FAST, "size": 64})  # other parameters: runs again
    assert archive.get(session).fields["tumour_size_check"] == "disagree"


def test_clinical_check_tolerance_and_missing_values() -> None:
    measured = {"tumour": {"longest_diameter_mm": 100.0, "volume_mm3": 200_000.0}}
    ok = clinical_check(measured, {"tumour_size_cm": "11", "tumour_volume_cm3": "180"})
    assert ok["flag"] == "ok" and ok["size"]["relative_difference"] == pytest.approx(1 / 11, abs=1e-4)
    bad = clinical_check(measured, {"tumour_size_cm": "6", "tumour_volume_cm3": "200"})
    assert bad["flag"] == "disagree"
    assert clinical_check(measured, {"tumour_size_cm": "", "age": "50"})["flag"] == "not entered"
    assert clinical_check(measured, {"tumour_size_cm": "11"}, tolerance=0.05)["flag"] == "disagree"


def test_intensity_stats_inside_the_mask_only() -> None:
    arr = np.zeros((4, 4, 4), np.float32)
    arr[1:3, 1:3, 1:3] = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    arr[0, 0, 0] = 1000.0  # outside the mask
    mask = sitk.GetImageFromArray((arr != 0).astype(np.uint8) * 0)
    m = sitk.GetArrayFromImage(mask)
    m[1:3, 1:3, 1:3] = 1
    stats = intensity_stats(sitk.GetImageFromArray(arr), sitk.GetImageFromArray(m))
    assert stats["voxels"] == 8 and stats["mean"] == 3.5 and stats["median"] == 3.5
    assert stats["p95"] == pytest.approx(6.65)

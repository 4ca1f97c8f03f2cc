"""The curated cohort over an archive: what is loaded, what is skipped and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.errors import InputDataError
from sarcoma_xnat.fl.dataset import load_cohort, prepare_image
from sarcoma_xnat.models.encoding import FEATURE_NAMES, encode_clinical

pytest.importorskip("scipy")


def test_curated_sessions_loaded_and_broken_ones_listed(curated_site: LocalArchive) -> None:
    cohort = load_cohort(curated_site, "SITEA", image_size=16)
    assert len(cohort.sessions) == 48
    assert cohort.data.image.shape == (48, 2, 16, 16, 16)
    assert cohort.data.clinical.shape == (48, len(FEATURE_NAMES))
    reasons = dict(cohort.skipped)
    assert set(reasons) == {"BROKEN1/BROKEN1_MR1", "BROKEN2/BROKEN2_MR1", "BROKEN3/BROKEN3_MR1"}
    assert "PREPROCESSED" in reasons["BROKEN1/BROKEN1_MR1"]
    assert "tumour_grade" in reasons["BROKEN2/BROKEN2_MR1"]
    assert "mask is empty" in reasons["BROKEN3/BROKEN3_MR1"]
    assert np.isfinite(cohort.data.image).all()


def test_clinical_only_does_not_need_images(curated_site: LocalArchive) -> None:
    cohort = load_cohort(curated_site, "SITEA", image_size=None)
    assert cohort.data.image is None
    assert len(cohort.sessions) == 50  # BROKEN1 and BROKEN3 only lack images


def test_site_without_curated_data_fails_clearly(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    archive.create(ObjectRef("EMPTY"))
    archive.create(ObjectRef("EMPTY", "S1"), fields={"age": "50"})
    archive.create(ObjectRef("EMPTY", "S1", "S1_MR1"))
    with pytest.raises(InputDataError, match="no curated session in project EMPTY"):
        load_cohort(archive, "EMPTY")


def test_prepare_image_centres_the_tumour() -> None:
    vol = np.zeros((40, 40, 40), np.float32)
    mask = np.zeros_like(vol, dtype=bool)
    mask[5:15, 5:15, 5:15] = True
    vol[mask] = 3.0
    img = prepare_image(vol, -vol, mask, size=16, margin=0.0)
    assert img.shape == (2, 16, 16, 16)
    assert img[0, 8, 8, 8] == pytest.approx(3.0) and img[1, 8, 8, 8] == pytest.approx(-3.0)


def test_encoding_refuses_bad_values() -> None:
    good = {"age": "60", "sex": "F", "tumour_location": "calf", "diagnosis": "UPS",
            "neoadjuvant_chemo": "no", "tumour_size_cm": "10", "tumour_volume_cm3": "100",
            "tumour_depth": "deep", "tumour_grade": "3", "metastases_at_presentation": "no",
            "radiotherapy": "none"}
    x = encode_clinical(good)
    assert x[FEATURE_NAMES.index("tumour_location=other")] == 1.0  # unknown site -> "other"
    assert x[FEATURE_NAMES.index("tumour_grade=3")] == 1.0
    with pytest.raises(InputDataError, match="tumour_grade"):
        encode_clinical({**good, "tumour_grade": "4"})
    with pytest.raises(InputDataError, match="age"):
        encode_clinical({**good, "age": "sixty"})

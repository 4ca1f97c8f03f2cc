"""A federated site uses model train's cohort rules, and reports its data as rounded counts only."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np
import pytest
from fl_fixtures import write_subject

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.fl.site import SiteConfig
from sarcoma_xnat.fl.site_summary import card_entry, report_count, report_months

pytest.importorskip("torch")
pytest.importorskip("scipy")


def _rounded(n: int) -> int:
    """The documented rule, written out: nearest multiple of 5; below 5 suppressed (-1)."""
    return -1 if n < 5 else 5 * int(n / 5 + 0.5)


def test_counts_are_rounded_to_5_and_suppressed_below_5() -> None:
    assert [report_count(n) for n in (0, 1, 4, 5, 7, 8, 12, 13, 47, 48)] == \
        [-1, -1, -1, 5, 5, 10, 10, 15, 45, 50]
    assert report_months([25.9, 30.0, 26.2, 80.0, 2.0]) == 24  # median 26.2, down to the 3-month grid
    assert report_months([40.0] * 4) == -1  # fewer than 5 subjects
    entry = card_entry({"n_subjects": 45, "n_os_events": 10, "n_dm_events": -1,
                        "os_median_follow_up_months": 24, "c_index_os": 0.61})
    assert entry["subjects"] == 45 and entry["os"]["events"] == 10 and entry["dm"]["events"] == "<5"
    assert entry["os"]["median_follow_up_months_rounded_down"] == 24
    assert entry["dm"]["median_follow_up_months_rounded_down"] == "not reported"
    assert entry["final_validation"] == {"c_index_os": 0.61}


def _site(tmp_path: Path) -> LocalArchive:
    """12 subjects; S01 has a later follow-up session, S02 an unusable scan, S13 no age."""
    import tempfile

    archive = LocalArchive(tmp_path / "site")
    archive.create(ObjectRef("P"), "xnat:projectData")
    rng = np.random.default_rng(5)
    for i in range(1, 13):
        write_subject(archive, "P", f"S{i:02d}", rng)
    write_subject(archive, "P", "S13", rng, drop_field="age")
    first = ObjectRef("P", "S01", "S01_MR1")
    archive.create(first, attrs={"date": "2020-01-01"})
    later = ObjectRef("P", "S01", "S01_MR2")
    archive.create(later, "xnat:mrSessionData", attrs={"date": "2021-06-01"})
    with tempfile.TemporaryDirectory() as tmp:
        archive.fetch_resource(first, "PREPROCESSED", Path(tmp))
        archive.store_resource(later, "PREPROCESSED", Path(tmp), format="NIFTI")
    archive.create(ObjectRef("P", "S02", "S02_MR1", "1"), "xnat:mrScanData",
                   attrs={"type": "T1", "quality": "unusable"})
    return archive


def test_site_trainer_follows_the_cohort_rules_and_imputes_from_its_own_subjects(tmp_path: Path) -> None:
    from sarcoma_xnat.fl.outbound import OutboundManifest
    from sarcoma_xnat.fl.trainer import SiteTrainer, parse_client_args
    from sarcoma_xnat.models.encoding import encode_clinical
    from sarcoma_xnat.models.training import get_weights

    archive = _site(tmp_path)
    args = parse_client_args(["--image-size", "32", "--batch-size", "6"])  # default: --missing impute
    trainer = SiteTrainer("site-1", args, SiteConfig("site-1", str(archive.root), "P"))
    cohort = trainer.cohort
    assert cohort.sessions[0] == "S01_MR1" and "S01_MR2" not in cohort.sessions  # the baseline only
    assert dict(cohort.follow_ups) == {"S01/S01_MR2": "not the baseline session (S01_MR1 is)"}
    assert "S02" not in cohort.subjects and "S02/S02_MR1" in dict(cohort.excluded)
    assert "S13" in cohort.subjects  # imputed, not skipped
    assert trainer.missing["strategy"] == "impute"
    # S13's age is the median of this site's other loaded subjects, rounded to a year
    loaded = [archive.get(ObjectRef("P", s)).fields for s in cohort.subjects]
    ages = [float(f["age"]) for f in loaded if f.get("age")]
    median_age = round(statistics.median(ages))
    row = cohort.subjects.index("S13")
    expected = encode_clinical({**loaded[row], "age": str(median_age)})
    np.testing.assert_allclose(trainer.data.clinical[row], expected, rtol=1e-6)
    assert np.isfinite(trainer.data.clinical).all()

    n = len(loaded)
    assert n == 12  # 13 subjects, S02 excluded; reported as 10
    os_events = sum(int(f["os_event"]) for f in loaded)
    dm_events = sum(int(f["dm_event"]) for f in loaded)
    os_median = 3 * math.floor(statistics.median(float(f["os_months"]) for f in loaded) / 3)
    dm_median = 3 * math.floor(statistics.median(float(f["dm_months"]) for f in loaded) / 3)
    assert trainer.summary() == {
        "n_subjects": 10, "n_os_events": _rounded(os_events), "n_dm_events": _rounded(dm_events),
        "os_median_follow_up_months": os_median, "dm_median_follow_up_months": dm_median,
        "n_excluded_qc": -1, "n_follow_up_sessions": -1, "n_skipped": -1, "n_imputed": -1}
    # what the final validation sends passes the outbound gate
    manifest = OutboundManifest.for_network(trainer.model.config())
    sent = {**trainer.evaluate(get_weights(trainer.model)), **trainer.summary()}
    assert manifest.check("METRICS", sent, {}) == []

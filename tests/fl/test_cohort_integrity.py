"""Cohort integrity (issue 16): one baseline session per subject, splits and bootstrap by
subject, the missing-value policy, and QC exclusions (scan quality, review rejection)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fl_fixtures import write_subject

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.fl.dataset import load_cohort
from sarcoma_xnat.fl.workflow import split_indices
from sarcoma_xnat.models.metrics import bootstrap_ci
from sarcoma_xnat.steps.manifest import write_manifest

pytest.importorskip("scipy")


def _archive(tmp_path: Path, n: int = 6, seed: int = 3) -> LocalArchive:
    archive = LocalArchive(tmp_path / "site")
    archive.create(ObjectRef("P"), "xnat:projectData")
    rng = np.random.default_rng(seed)
    for i in range(1, n + 1):
        write_subject(archive, "P", f"S{i:02d}", rng)
    return archive


def _second_session(archive: LocalArchive, subject: str, label: str, date: str,
                    fields: dict[str, str] | None = None) -> ObjectRef:
    """Copy the subject's MR1 session (with its PREPROCESSED resource) as another session."""
    src = ObjectRef("P", subject, f"{subject}_MR1")
    ref = ObjectRef("P", subject, label)
    archive.create(ref, "xnat:mrSessionData", attrs={"date": date}, fields=fields)
    with tempfile.TemporaryDirectory() as tmp:
        archive.fetch_resource(src, "PREPROCESSED", Path(tmp))
        archive.store_resource(ref, "PREPROCESSED", Path(tmp), format="NIFTI")
    return ref


def test_one_baseline_session_per_subject_the_earliest_by_date(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    archive.create(ObjectRef("P", "S01", "S01_MR1"), attrs={"date": "2021-03-04"})
    _second_session(archive, "S01", "S01_MR0", "2019-11-30")  # earlier: the baseline
    _second_session(archive, "S02", "S02_MR2", "2022-01-01")  # S02_MR1 has no date: it comes last
    cohort = load_cohort(archive, "P", image_size=None)
    assert cohort.subjects == ["S01", "S02", "S03", "S04", "S05", "S06"]
    assert cohort.sessions[:2] == ["S01_MR0", "S02_MR2"]
    assert len(cohort.data) == 6
    assert dict(cohort.follow_ups) == {"S01/S01_MR1": "not the baseline session (S01_MR0 is)",
                                       "S02/S02_MR1": "not the baseline session (S02_MR2 is)"}


def test_the_baseline_field_overrides_the_date_rule_and_two_marks_are_refused(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    archive.create(ObjectRef("P", "S01", "S01_MR1"), attrs={"date": "2021-03-04"},
                   fields={"baseline": "true"})
    _second_session(archive, "S01", "S01_MR0", "2019-11-30")
    archive.create(ObjectRef("P", "S02", "S02_MR1"), fields={"baseline": "TRUE"})
    _second_session(archive, "S02", "S02_MR9", "2019-01-01", fields={"baseline": "yes"})
    cohort = load_cohort(archive, "P", image_size=None)
    assert cohort.sessions[0] == "S01_MR1"
    assert "S02" not in cohort.subjects
    assert "2 sessions are marked baseline=true" in dict(cohort.skipped)["S02"]


def test_split_keeps_every_subject_on_one_side() -> None:
    subjects = np.repeat([f"S{i:02d}" for i in range(20)], 3)  # three rows per subject
    event = np.tile([1, 0, 0], 20)
    for seed in range(10):
        train, test = split_indices(event, 0.25, seed, subjects)
        assert set(subjects[train]).isdisjoint(subjects[test])
        assert len(train) + len(test) == 60 and len(set(subjects[test])) == 5


def test_bootstrap_resamples_whole_subjects() -> None:
    groups = np.repeat(np.arange(10), [1, 2, 3, 1, 2, 3, 1, 2, 3, 4])
    seen: list[np.ndarray] = []

    def stat(idx: np.ndarray) -> float:
        seen.append(idx)
        return float(len(idx))

    bootstrap_ci(stat, len(groups), n_boot=30, seed=1, groups=groups)
    for idx in seen[1:]:
        counts = np.bincount(idx, minlength=len(groups))
        for g in range(10):  # a subject's rows are drawn together: equal counts within a subject
            assert len(set(counts[groups == g])) == 1


def _with_scans(archive: LocalArchive, session: ObjectRef, qualities: dict[str, str],
                used: tuple[str, str] | None = None) -> None:
    for scan, quality in qualities.items():
        archive.create(session.child(scan=scan), "xnat:mrScanData",
                       attrs={"type": "T1", "quality": quality})
    if used is None:
        return
    with tempfile.TemporaryDirectory() as tmp:  # a result that records the scans it was made from
        archive.fetch_resource(session, "PREPROCESSED", Path(tmp))
        (Path(tmp) / "manifest.json").unlink()
        inputs = {"fingerprint": "fp-1", "t1": {"scan": used[0]}, "t2": {"scan": used[1]}}
        (Path(tmp) / "provenance.json").write_text(json.dumps({"inputs": inputs}))
        write_manifest(tmp, "preprocess", "synthetic", "fp-1")
        archive.store_resource(session, "PREPROCESSED", Path(tmp), format="NIFTI")


def test_sessions_with_an_unusable_used_scan_are_excluded_and_listed(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    _with_scans(archive, ObjectRef("P", "S01", "S01_MR1"), {"1": "unusable", "2": "usable"})
    _with_scans(archive, ObjectRef("P", "S02", "S02_MR1"), {"1": "questionable", "2": "usable"})
    # S03: scan 1 is unusable but the result was made from scans 2 and 3 (provenance)
    _with_scans(archive, ObjectRef("P", "S03", "S03_MR1"), {"1": "unusable", "2": "usable",
                                                             "3": "usable"}, used=("2", "3"))
    _with_scans(archive, ObjectRef("P", "S04", "S04_MR1"), {"1": "usable", "2": "Unusable"},
                used=("1", "2"))
    cohort = load_cohort(archive, "P", image_size=16)
    assert "S01" not in cohort.subjects and "S04" not in cohort.subjects
    assert {"S02", "S03", "S05", "S06"} <= set(cohort.subjects)
    excluded = dict(cohort.excluded)
    assert set(excluded) == {"S01/S01_MR1", "S04/S04_MR1"}
    assert excluded["S01/S01_MR1"] == "scan(s) 1 marked quality 'unusable' in XNAT"
    assert excluded["S04/S04_MR1"] == "used scan(s) 2 marked quality 'unusable' in XNAT"
    assert not cohort.skipped


def test_a_session_rejected_at_qc_review_is_excluded_until_undone(tmp_path: Path) -> None:
    from sarcoma_xnat.segmentation.review import reject_session

    archive = _archive(tmp_path)
    session = ObjectRef("P", "S02", "S02_MR1")
    assert reject_session(archive, session).state == "rejected"
    cohort = load_cohort(archive, "P", image_size=16)
    assert "S02" not in cohort.subjects
    assert "rejected at the reviewer's QC sign-off" in dict(cohort.excluded)["S02/S02_MR1"]
    assert reject_session(archive, session, undo=True).state == "no annotation"
    assert "S02" in load_cohort(archive, "P", image_size=16).subjects


def test_missing_values_are_imputed_from_training_subjects_only(tmp_path: Path) -> None:
    from sarcoma_xnat.models.missing import apply_missing_policy

    archive = _archive(tmp_path, n=8)
    ages = {"S01": "30", "S02": "40", "S03": "51", "S04": "60", "S05": "70", "S06": ""}
    grades = {"S01": "1", "S02": "1", "S03": "3", "S04": "1", "S05": "2", "S06": "", "S07": "3",
              "S08": "3"}
    for subject, grade in grades.items():
        archive.set_fields(ObjectRef("P", subject), {"tumour_grade": grade,
                                                     "age": ages.get(subject, "99")})
    plain = load_cohort(archive, "P", image_size=None)  # complete-case: S06 is skipped
    assert "S06" not in plain.subjects and "'age' is missing" in dict(plain.skipped)["S06/S06_MR1"]
    cohort = load_cohort(archive, "P", image_size=None, missing="impute")
    assert "S06" in cohort.subjects and np.isnan(cohort.data.clinical).any()
    train, test = np.arange(6), np.arange(6, 8)  # S07 and S08 (age 99, grade 3) are test subjects
    record = apply_missing_policy(cohort, "impute", train, {"train": train, "test": test})
    assert not np.isnan(cohort.data.clinical).any()
    # median of the five observed training ages (30, 40, 51, 60, 70) and their most frequent grade
    assert record["fill"]["age"] == "51" and record["fill"]["tumour_grade"] == "1"
    assert record["imputed"] == {"train": {"age": 1, "tumour_grade": 1}, "test": {}}
    s06 = cohort.subjects.index("S06")
    s02 = cohort.subjects.index("S02")  # observed grade 1, age 40
    from sarcoma_xnat.models.encoding import FEATURE_NAMES

    age = FEATURE_NAMES.index("age")
    assert cohort.data.clinical[s06, age] == pytest.approx((51 - 58) / 15)
    grade_cols = [FEATURE_NAMES.index("tumour_grade=2"), FEATURE_NAMES.index("tumour_grade=3")]
    assert list(cohort.data.clinical[s06, grade_cols]) == list(cohort.data.clinical[s02, grade_cols])


def test_model_train_records_the_policy_and_lists_exclusions(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    from sarcoma_xnat.cli import main
    from sarcoma_xnat.fl.checkpoint import load_checkpoint

    archive = _archive(tmp_path, n=14, seed=5)
    archive.set_fields(ObjectRef("P", "S03"), {"tumour_size_cm": ""})
    _with_scans(archive, ObjectRef("P", "S05", "S05_MR1"), {"1": "unusable"})
    archive.create(ObjectRef("P", "S07", "S07_MR1"), attrs={"date": "2020-02-02"})
    _second_session(archive, "S07", "S07_MR2", "2030-01-01")
    out = tmp_path / "train"
    assert main(["model", "train", "--archive", str(archive.root), "--project", "P", "--out", str(out),
                 "--epochs", "1", "--ensemble", "1", "--bootstrap", "5", "--test-fraction", "0.3",
                 "--threads", "1"]) == 0
    card = json.loads((out / "model_card.json").read_text())
    _, meta = load_checkpoint(out / "model.pt")
    for record in (card, meta):
        assert record["missing_values"]["strategy"] == "impute"
        assert record["missing_values"]["fitted_on"] == "training split only"
        assert set(record["missing_values"]["fill"]) >= {"tumour_size_cm", "age"}
        imputed = record["missing_values"]["imputed"]
        assert sum(imputed["train"].values()) + sum(imputed["test"].values()) == 1
        assert record["cohort_rules"]["excluded_by_qc"] == {"scan quality unusable": 1}
        assert record["cohort_rules"]["follow_up_sessions_not_used"] == 1
    text = json.dumps(card) + json.dumps(meta, default=str)
    assert "S05" not in text and "S07_MR2" not in text  # labels stay in the training output only
    listed = {row["session"]: row["kind"] for row in json.loads((out / "excluded.json").read_text())}
    assert listed == {"S05/S05_MR1": "scan quality unusable", "S07/S07_MR2": "follow-up session"}
    assert "Missing clinical values" in (out / "model_card.md").read_text()

"""The prognosis cohort takes reviewed or accepted masks only: an unreviewed AI draft is skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

from sarcoma_xnat.cli import main
from sarcoma_xnat.fl.dataset import load_cohort
from sarcoma_xnat.steps import preprocess
from sarcoma_xnat.steps.base import stage_session

FAST = {"size": 32, "n4_iterations": (5,), "interpolator": "linear"}


def _preprocess(archive, session, tmp: Path) -> None:
    """Run preprocessing on the session as it is now and store ``PREPROCESSED`` (replacing it)."""
    staged = stage_session(archive, session, tmp / "in", assessors=True)
    preprocess.run(staged, tmp / "out", FAST)
    if "PREPROCESSED" in {r.label for r in archive.resources(session)}:
        archive.delete_resource(session, "PREPROCESSED")
    archive.store_resource(session, "PREPROCESSED", tmp / "out", format="NIFTI")
    shutil.rmtree(tmp)


def test_unreviewed_draft_is_skipped_until_accepted(trained, drop_annotations, tmp_path: Path,
                                                    capsys) -> None:
    archive, manifest, _ = trained
    draft, human = manifest.sessions[0], manifest.sessions[1]
    drop_annotations(archive, draft)
    assert main(["segment", "run", "--archive", str(archive.root), "--target", draft.uri,
                 "--device", "cpu"]) == 0
    for i, s in enumerate((draft, human)):
        _preprocess(archive, s, tmp_path / f"p{i}")
    capsys.readouterr()

    cohort = load_cohort(archive, manifest.project, image_size=16)
    reasons = dict(cohort.skipped)
    name = f"{draft.subject}/{draft.session}"
    assert draft.session not in cohort.sessions and human.session in cohort.sessions
    assert "unreviewed AI draft" in reasons[name] and f"{draft.session}_AI-1" in reasons[name]
    # the same PREPROCESSED is fine when drafts are allowed, so it was the review state that counted
    assert draft.session in load_cohort(archive, manifest.project, image_size=16,
                                        reviewed_only=False).sessions

    assert main(["review", "accept", "--archive", str(archive.root), "--target", draft.uri]) == 0
    assert draft.session in load_cohort(archive, manifest.project, image_size=16).sessions


def test_mask_from_the_draft_is_skipped_once_a_review_exists(trained, tmp_path: Path) -> None:
    archive, manifest, _ = trained
    session = manifest.sessions[2]
    human = f"{session.session}_SEG"
    keep = tmp_path / "keep"
    shutil.copytree(archive.resource_path(session.child(assessor=human), "SEG"), keep)
    archive.delete(session.child(assessor=human))
    assert main(["segment", "run", "--archive", str(archive.root), "--target", session.uri,
                 "--device", "cpu"]) == 0
    _preprocess(archive, session, tmp_path / "p")  # made from the draft
    _preprocess(archive, manifest.sessions[3], tmp_path / "p")  # another, curated session
    # the reviewer's save lands, preprocessing has not re-run yet
    ref = session.child(assessor=human)
    archive.create(ref, "icr:roiCollectionData", attrs={"collectionType": "SEG"})
    archive.store_resource(ref, "SEG", keep, format="DICOM", content="EXTERNAL")
    cohort = load_cohort(archive, manifest.project, image_size=16)
    reason = dict(cohort.skipped)[f"{session.subject}/{session.session}"]
    assert "rerun preprocess" in reason and human in reason
    _preprocess(archive, session, tmp_path / "p")
    assert session.session in load_cohort(archive, manifest.project, image_size=16).sessions

"""The worklist changes state as drafts are made, corrected and accepted; preprocessing prefers the review."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest

from sarcoma_xnat.cli import main
from sarcoma_xnat.errors import AnnotationError, ConfigurationError
from sarcoma_xnat.segmentation.review import accept_draft, review_session
from sarcoma_xnat.steps.session_layout import choose_roi, find_roi_files
from sarcoma_xnat.steps.base import stage_session


def _status(archive, project, capsys) -> dict[str, dict]:
    assert main(["review", "status", "--archive", str(archive.root), "--project", project,
                 "--format", "json"]) == 0
    return {r["session"]: r for r in json.loads(capsys.readouterr().out)}


def _copy_seg(archive, session, source_label: str, tmp: Path, label: str) -> Path:
    """Store a session's original (human) SEG again as a new ROI collection ``label``."""
    src = archive.resource_path(session.child(assessor=source_label), "SEG")
    folder = tmp / label
    folder.mkdir()
    shutil.copyfile(next(src.glob("*.dcm")), folder / f"{label}.dcm")
    return folder


def test_worklist_follows_draft_correction_and_acceptance(trained, drop_annotations, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    archive, manifest, _ = trained
    a, b = manifest.sessions[0], manifest.sessions[1]
    # keep b's human SEG aside: it plays the reviewer's corrected collection later
    keep = _copy_seg(archive, b, f"{b.session}_SEG", tmp_path, f"{b.session}_REVIEWED")
    for s in (a, b):
        drop_annotations(archive, s)
    rows = _status(archive, manifest.project, capsys)
    assert rows[a.session]["state"] == rows[b.session]["state"] == "no annotation"
    assert rows[manifest.sessions[2].session]["state"] == "reviewed"  # untouched: human annotation
    for s in (a, b):
        assert main(["segment", "run", "--archive", str(archive.root), "--target", s.uri,
                     "--device", "cpu"]) == 0
    capsys.readouterr()
    rows = _status(archive, manifest.project, capsys)
    assert rows[a.session]["state"] == "draft" and rows[a.session]["model_version"] == "1"
    assert rows[a.session]["draft"] == f"{a.session}_AI-1"
    # a accepted as is; b corrected in OHIF (a new, human collection)
    assert main(["review", "accept", "--archive", str(archive.root), "--target", a.uri]) == 0
    ref = b.child(assessor=f"{b.session}_REVIEWED")
    archive.create(ref, "icr:roiCollectionData", attrs={"collectionType": "SEG"})
    archive.store_resource(ref, "SEG", keep, format="DICOM", content="EXTERNAL")
    capsys.readouterr()
    rows = _status(archive, manifest.project, capsys)
    assert rows[a.session]["state"] == "accepted" and rows[a.session]["accepted_at"]
    rb = rows[b.session]
    assert rb["state"] == "reviewed" and rb["reviewed_collection"] == f"{b.session}_REVIEWED"
    # Dice between draft and final, recomputed here from the two SEGs with numpy
    t1 = sorted(archive.resource_path(b.child(scan="1"), "DICOM").rglob("*.dcm"))
    review = review_session(archive, b)
    from sarcoma_xnat.segmentation.volumes import load_t1

    uids = list(load_t1(archive, b, tmp_path / "t1").sop_uids)
    masks = []
    for label in (f"{b.session}_AI-1", f"{b.session}_REVIEWED"):
        seg = hd.seg.segread(next(archive.resource_path(b.child(assessor=label), "SEG").glob("*.dcm")))
        masks.append(np.asarray(seg.get_pixels_by_source_instance(
            uids, segment_numbers=[1], combine_segments=True, assert_missing_frames_are_empty=True)) > 0)
    dice = 2 * (masks[0] & masks[1]).sum() / (masks[0].sum() + masks[1].sum())
    assert t1 and rb["dice"] == pytest.approx(dice, abs=1e-3) and 0 < rb["dice"] < 1
    assert rb["hd95_mm"] is not None and review.metrics["volume_difference_mm3"] == rb["volume_difference_mm3"]
    # accepting a corrected draft, or a session without one, is refused
    with pytest.raises(ConfigurationError, match="reviewed annotation"):
        accept_draft(archive, b)
    drop_annotations(archive, manifest.sessions[3])
    with pytest.raises(AnnotationError, match="no AI draft"):
        accept_draft(archive, manifest.sessions[3])
    assert main(["review", "status", "--archive", str(archive.root), "--project", manifest.project,
                 "--format", "csv", "--no-metrics"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["session"]: r["state"] for r in table}[a.session] == "accepted"


def test_preprocessing_prefers_the_reviewed_annotation_over_the_draft(trained, tmp_path: Path) -> None:
    archive, manifest, _ = trained
    session = manifest.sessions[4]
    assert main(["segment", "run", "--archive", str(archive.root), "--target", session.uri,
                 "--device", "cpu"]) == 0
    staged = stage_session(archive, session, tmp_path / "in")
    rois = [r for r in find_roi_files(staged) if r.kind == "SEG"]
    assert len(rois) == 2  # the human SEG and the AI draft
    assert choose_roi(rois).assessor == f"{session.session}_SEG"
    draft_only = [r for r in rois if r.assessor.endswith("_AI-1")]
    assert choose_roi(draft_only).assessor == f"{session.session}_AI-1"
    # a named collection is used as named, draft or not
    assert choose_roi(rois, assessor=f"{session.session}_AI-1").assessor == f"{session.session}_AI-1"

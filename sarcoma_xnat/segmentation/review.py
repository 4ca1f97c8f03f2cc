"""The review loop: what state each session's tumour mask is in, and how a draft becomes final.

An ROI collection is an **AI draft** when its SEG/RTSTRUCT header says every segment
was made ``AUTOMATIC`` (:func:`~sarcoma_xnat.segmentation.dicomseg.is_ai_draft`);
any other collection is a human annotation (drawn, or a draft corrected and saved in
OHIF). Per session:

* ``no annotation``: neither;
* ``nothing found``: the segment step ran and found no plausible tumour;
* ``draft``: an AI draft awaits review;
* ``accepted``: the draft was accepted as is (``review accept``; recorded in the
  session resource :data:`RESOURCE_LABEL`);
* ``reviewed``: a human annotation exists; with a draft, Dice, HD95 and volume
  difference between draft and final are given (MONAI metrics on the T1 grid);
* ``rejected``: a reviewer failed the session at QC sign-off (``review reject``,
  recorded in :data:`RESOURCE_LABEL`); it overrides the other states until undone, and
  the curated cohort leaves the session out (:mod:`sarcoma_xnat.fl.cohort_rules`).

The final mask of a session is the reviewed annotation, else the accepted draft
(:attr:`SessionReview.final_sha256` is its file's SHA-256, which the curated cohort of
:func:`sarcoma_xnat.fl.dataset.load_cohort` compares with the annotation the
``PREPROCESSED`` resource was made from).
"""

from __future__ import annotations

import datetime as _dt
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import SimpleITK as sitk

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import AnnotationError, ConfigurationError
from sarcoma_xnat.imaging.dicom_series import SeriesVolume
from sarcoma_xnat.imaging.roi import annotation_kind, roi_mask
from sarcoma_xnat.segmentation.dicomseg import is_ai_draft
from sarcoma_xnat.steps.base import file_sha256, stage_session

__all__ = ["RESOURCE_LABEL", "STATES", "SessionReview", "accept_draft", "final_mask", "reject_session",
           "review_session", "worklist"]

RESOURCE_LABEL = "SEGMENT_REVIEW"
STATES = ("no annotation", "nothing found", "draft", "accepted", "reviewed", "rejected")


@dataclass
class SessionReview:
    """The review state of one session (see the module docstring)."""

    session: ObjectRef
    state: str
    draft: str | None = None
    model_version: str | None = None
    reviewed: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    accepted_at: str | None = None
    final_sha256: str | None = None
    rejected_at: str | None = None

    def row(self) -> dict[str, Any]:
        """Return the worklist row (JSON-ready)."""
        return {"subject": self.session.subject, "session": self.session.session,
                "state": self.state, "draft": self.draft, "model_version": self.model_version,
                "reviewed_collection": self.reviewed, "dice": self.metrics.get("dice"),
                "hd95_mm": self.metrics.get("hd95_mm"),
                "volume_difference_mm3": self.metrics.get("volume_difference_mm3"),
                "accepted_at": self.accepted_at, "rejected_at": self.rejected_at}


def _collections(staged: Path) -> list[tuple[str, str, Path, bool, pydicom.Dataset]]:
    """List ``(label, kind, file, is_draft, header)`` of the staged session's ROI collections."""
    out = []
    root = staged / "ASSESSORS"
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for path in sorted(p for p in folder.rglob("*.dcm") if p.is_file()):
            kind = annotation_kind(path)
            if kind is None:
                continue
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            out.append((folder.name, kind, path, is_ai_draft(ds), ds))
    return out


def _record(archive: Archive, session: ObjectRef, name: str) -> dict[str, Any] | None:
    if name not in {r.label for r in archive.resources(session)}:
        return None
    with tempfile.TemporaryDirectory(prefix="sarcoma-review-") as tmp:
        archive.fetch_resource(session, name, Path(tmp))
        path = Path(tmp) / ("review.json" if name == RESOURCE_LABEL else "result.json")
        return json.loads(path.read_text()) if path.is_file() else None


def _version(ds: pydicom.Dataset) -> str | None:
    for item in ds.get("SegmentSequence", []):
        for alg in item.get("SegmentationAlgorithmIdentificationSequence", []):
            if "AlgorithmVersion" in alg:
                return str(alg.AlgorithmVersion)
    return None


def _mask(path: Path, t1: SeriesVolume) -> np.ndarray:
    return sitk.GetArrayFromImage(roi_mask(path, t1, {t1.series_uid: t1}).mask)


def review_session(archive: Archive, session: ObjectRef, metrics: bool = True) -> SessionReview:
    """Return the review state of one session (reading its ROI collections)."""
    from sarcoma_xnat.segmentation.metrics import compare_masks

    with tempfile.TemporaryDirectory(prefix="sarcoma-review-") as tmp:
        staged = stage_session(archive, session, Path(tmp), scans=False, assessors=True)
        cols = _collections(staged)
        drafts = [c for c in cols if c[3]]
        humans = sorted((c for c in cols if not c[3]), key=lambda c: (c[1] != "SEG", c[0]))
        draft = drafts[-1] if drafts else None
        result = _record(archive, session, "SEGMENTATION")
        accepted = _record(archive, session, RESOURCE_LABEL)
        out = SessionReview(session, "no annotation")
        if draft is not None:
            out.draft, out.model_version, out.state = draft[0], _version(draft[4]), "draft"
        elif result is not None and not result.get("found"):
            out.state, out.model_version = "nothing found", result.get("model_version")
        if humans:
            out.state, out.reviewed = "reviewed", humans[0][0]
            out.final_sha256 = file_sha256(humans[0][2])
            if draft is not None and metrics:
                from sarcoma_xnat.segmentation.volumes import load_t1

                t1 = load_t1(archive, session, Path(tmp) / "t1")
                final, proposed = _mask(humans[0][2], t1), _mask(draft[2], t1)
                sp = t1.image.GetSpacing()
                out.metrics = compare_masks(final, proposed, (sp[2], sp[1], sp[0]))
        elif draft is not None and accepted and accepted.get("draft") == draft[0]:
            out.state, out.accepted_at = "accepted", accepted.get("accepted_at")
            out.final_sha256 = file_sha256(draft[2])
        if accepted and accepted.get("state") == "rejected":
            out.state, out.rejected_at, out.accepted_at = "rejected", accepted.get("rejected_at"), None
    return out


def reject_session(archive: Archive, session: ObjectRef, undo: bool = False) -> SessionReview:
    """Record that ``session`` failed the reviewer's QC sign-off (``undo``: remove that record).

    The record replaces an "accepted" one in :data:`RESOURCE_LABEL`; undoing it leaves the
    session as if never signed off (accept a draft again with :func:`accept_draft`).
    """
    if undo:
        current = _record(archive, session, RESOURCE_LABEL)
        if current and current.get("state") == "rejected":
            archive.delete_resource(session, RESOURCE_LABEL)
        return review_session(archive, session, metrics=False)
    at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="sarcoma-review-") as tmp:
        (Path(tmp) / "review.json").write_text(json.dumps({"state": "rejected", "rejected_at": at},
                                                          indent=2) + "\n")
        archive.store_resource(session, RESOURCE_LABEL, Path(tmp), format="JSON",
                               content="SEGMENT_REVIEW")
    return review_session(archive, session, metrics=False)


def accept_draft(archive: Archive, session: ObjectRef) -> SessionReview:
    """Record that the session's AI draft is accepted as is; refuse when there is none or it was corrected."""
    review = review_session(archive, session, metrics=False)
    if review.state == "reviewed":
        raise ConfigurationError(f"session {session.session} has a reviewed annotation "
                                 f"({review.reviewed}); there is no draft to accept as is",
                                 **session.context())
    if review.draft is None:
        raise AnnotationError(f"session {session.session} has no AI draft to accept "
                              f"(state: {review.state})", **session.context())
    at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    record = {"state": "accepted", "draft": review.draft, "model_version": review.model_version,
              "accepted_at": at}
    with tempfile.TemporaryDirectory(prefix="sarcoma-review-") as tmp:
        (Path(tmp) / "review.json").write_text(json.dumps(record, indent=2) + "\n")
        archive.store_resource(session, RESOURCE_LABEL, Path(tmp), format="JSON",
                               content="SEGMENT_REVIEW")
    review.state, review.accepted_at = "accepted", at
    return review


def final_mask(archive: Archive, session: ObjectRef, dest: Path) -> Path | None:
    """Copy the session's final annotation file (reviewed, else accepted draft) into ``dest``."""
    review = review_session(archive, session, metrics=False)
    label = review.reviewed if review.state == "reviewed" else (
        review.draft if review.state == "accepted" else None)
    if label is None:
        return None
    ref = session.child(assessor=label)
    for res in archive.resources(ref):
        if res.label in ("SEG", "RTSTRUCT"):
            files = archive.fetch_resource(ref, res.label, dest / label)
            return next(p for p in files if p.suffix == ".dcm")
    return None


def worklist(archive: Archive, project: str, metrics: bool = True) -> list[SessionReview]:
    """Return the review state of every session of ``project``, in label order."""
    out = []
    for subject in archive.children(ObjectRef(project), "subject"):
        for session in archive.children(subject.ref, "session"):
            out.append(review_session(archive, session.ref, metrics))
    return out

"""The curated cohort of one archive project: preprocessed images + clinical data + outcomes.

A session is *curated* when it has the ``preprocess`` resource (``t1.nii.gz``,
``t2.nii.gz``, ``mask.nii.gz``) and its subject has all 11 clinical fields and the
four outcome fields. Every other session is listed in :attr:`Cohort.skipped` with
the reason and left out; nothing is zero-filled. Works on any
:class:`~sarcoma_xnat.archive.base.Archive` (local folder or XNAT).

With images, only reviewed or accepted masks are used by default (``reviewed_only``;
states of :mod:`sarcoma_xnat.segmentation.review`): a session whose only annotation
is an AI draft nobody reviewed is skipped, and so is one whose ``PREPROCESSED`` mask
was made from another annotation than the final one (the draft, before the
reviewer's save re-ran preprocessing), told by the annotation SHA-256 in its
``measurements.json``. A session with no ROI collection at all (a mask from outside
the suite) is not an AI draft and is kept.

Each subject contributes one session, its baseline (:func:`~sarcoma_xnat.fl.cohort_rules.choose_baseline`:
the ``baseline=true`` session, else the earliest by date); the others are listed in
:attr:`Cohort.follow_ups`. With images, a session whose used scans are marked
``unusable`` in XNAT or that a reviewer rejected at QC is left out and listed in
:attr:`Cohort.excluded` with the reason (:mod:`sarcoma_xnat.fl.cohort_rules`).

Missing clinical values follow ``missing``: ``complete-case`` (default) skips the
session, naming the field; ``impute`` keeps it with NaN in the variable's columns and
its raw values in :attr:`Cohort.fields`, for
:func:`~sarcoma_xnat.models.missing.apply_missing_policy` to fill from the training
subjects only, once the split is known.
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sarcoma_xnat.archive.base import Archive, ArchiveObject
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ConfigurationError, InputDataError, SarcomaXnatError
from sarcoma_xnat.fl.cohort_rules import choose_baseline, scan_quality_problem, used_scans
from sarcoma_xnat.models.encoding import CLINICAL_VARIABLES, encode_clinical
from sarcoma_xnat.models.survival import SurvivalArrays

__all__ = ["IMAGE_FILES", "PREPROCESSED", "Cohort", "load_cohort", "load_volumes", "prepare_image"]

log = logging.getLogger(__name__)

#: session resource written by the preprocess step
PREPROCESSED = "PREPROCESSED"
IMAGE_FILES = ("t1.nii.gz", "t2.nii.gz", "mask.nii.gz")
_OUTCOMES = ("os_months", "os_event", "dm_months", "dm_event")


@dataclass
class Cohort:
    """Curated sessions of one project as arrays, with the sessions that were skipped."""

    project: str
    data: SurvivalArrays
    subjects: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: sessions left out by QC: a used scan marked unusable, or rejected at review
    excluded: list[tuple[str, str]] = field(default_factory=list)
    #: sessions of a subject that are not its baseline session
    follow_ups: list[tuple[str, str]] = field(default_factory=list)
    #: raw clinical values (the 11 variables, "" when missing) of each loaded session
    fields: list[dict[str, str]] = field(default_factory=list)
    #: how each loaded session's images were made (:func:`~sarcoma_xnat.fl.compatibility.preprocess_signature`)
    preprocessing: list[dict] = field(default_factory=list)


def load_volumes(folder: Path, session: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read T1, T2 and mask from a preprocess output folder; refuse mismatched or non-finite data.

    Only files listed in the folder's ``manifest.json`` with matching checksums are read:
    XNAT merges re-runs into one resource, so a file on disk may be a leftover
    (:func:`sarcoma_xnat.steps.manifest.verified_files`).
    """
    import nibabel as nib

    from sarcoma_xnat.steps.manifest import verified_files

    ctx = {"session": session} if session else {}
    paths = verified_files(folder, IMAGE_FILES, "preprocess", ctx)
    arrays = []
    for name in IMAGE_FILES:
        path = paths[name]
        try:
            arrays.append(np.asarray(nib.load(str(path)).dataobj, dtype=np.float32))
        except Exception as exc:  # nibabel raises many types for corrupt files
            raise InputDataError(f"cannot read {name}: {exc}", session=session, file=str(path)) from exc
    t1, t2, mask = arrays
    if not (t1.shape == t2.shape == mask.shape) or t1.ndim != 3:
        raise InputDataError(f"t1, t2 and mask differ in shape: {t1.shape}, {t2.shape}, {mask.shape}",
                             session=session)
    if not (np.isfinite(t1).all() and np.isfinite(t2).all()):
        raise InputDataError("t1 or t2 contains NaN or infinity", session=session)
    if not (mask > 0).any():
        raise InputDataError("the tumour mask is empty", session=session)
    return t1, t2, mask > 0


def prepare_image(t1: np.ndarray, t2: np.ndarray, mask: np.ndarray, size: int = 32,
                  margin: float = 0.15) -> np.ndarray:
    """Return a (2, size, size, size) float32 array: T1/T2 in a cube around the tumour."""
    from scipy.ndimage import zoom

    idx = np.argwhere(mask)
    lo, hi = idx.min(0), idx.max(0) + 1
    side = int(math.ceil(max(hi - lo) * (1.0 + 2.0 * margin)))
    side = max(side, 8)
    centre = (lo + hi) // 2
    start = centre - side // 2
    out = np.zeros((2, size, size, size), dtype=np.float32)
    for c, vol in enumerate((t1, t2)):
        box = np.zeros((side,) * 3, dtype=np.float32)  # z-scored: 0 is the foreground mean
        src_lo = np.maximum(start, 0)
        src_hi = np.minimum(start + side, vol.shape)
        dst_lo = src_lo - start
        dst_hi = dst_lo + (src_hi - src_lo)
        box[dst_lo[0]:dst_hi[0], dst_lo[1]:dst_hi[1], dst_lo[2]:dst_hi[2]] = \
            vol[src_lo[0]:src_hi[0], src_lo[1]:src_hi[1], src_lo[2]:src_hi[2]]
        out[c] = zoom(box, size / side, order=1, grid_mode=True, mode="nearest")[:size, :size, :size]
    return out


def _outcomes(subject: ArchiveObject) -> tuple[float, int, float, int]:
    f = subject.fields
    missing = [k for k in _OUTCOMES if str(f.get(k, "")).strip() == ""]
    if missing:
        raise InputDataError(f"outcome fields missing: {', '.join(missing)}")
    try:
        os_t, dm_t = float(f["os_months"]), float(f["dm_months"])
        os_e, dm_e = int(f["os_event"]), int(f["dm_event"])
    except ValueError as exc:
        raise InputDataError(f"outcome fields are not numbers: {exc}") from None
    if not (os_t > 0 and dm_t > 0) or os_e not in (0, 1) or dm_e not in (0, 1):
        raise InputDataError(f"outcomes out of range: os {os_t}/{os_e}, dm {dm_t}/{dm_e}")
    return os_t, os_e, dm_t, dm_e


class _Excluded(InputDataError):
    """A session left out by QC (listed in :attr:`Cohort.excluded`, not in ``skipped``)."""


def _check_review(archive: Archive, session: ObjectRef, folder: Path, reviewed_only: bool) -> None:
    """Refuse a session left out by QC, or (``reviewed_only``) whose mask is not reviewed or accepted."""
    import json

    from sarcoma_xnat.segmentation.review import review_session
    from sarcoma_xnat.steps.manifest import verified_files

    problem = scan_quality_problem(archive, session, used_scans(folder))
    if problem:
        raise _Excluded(problem)
    review = review_session(archive, session, metrics=False)
    if review.state == "rejected":
        raise _Excluded(f"rejected at the reviewer's QC sign-off ({review.rejected_at})")
    if not reviewed_only:
        return
    if review.state == "draft":
        raise InputDataError(f"the only annotation is an unreviewed AI draft ({review.draft}, model "
                             f"{review.model_version}): correct it in OHIF or accept it with "
                             "`sarcoma-xnat review accept`")
    if review.final_sha256 is None or not (folder / "measurements.json").is_file():
        return
    path = verified_files(folder, ("measurements.json",), "preprocess",
                          {"session": session.session})["measurements.json"]
    used = (json.loads(path.read_text()).get("annotation") or {}).get("sha256")
    if used != review.final_sha256:
        final = review.reviewed if review.state == "reviewed" else review.draft
        raise InputDataError(f"{PREPROCESSED} was made from another annotation than the "
                             f"{review.state} one ({final}): rerun preprocess")


def load_cohort(archive: Archive, project: str, resource: str = PREPROCESSED,
                image_size: int | None = 32, margin: float = 0.15,
                reviewed_only: bool = True, missing: str = "complete-case") -> Cohort:
    """Load the baseline session of every curated subject of ``project``; ``image_size=None`` skips images.

    ``reviewed_only=False`` also takes masks from unreviewed AI drafts (QC exclusions
    still apply); ``missing`` is ``complete-case`` or ``impute`` (module docstring).
    Raises :class:`InputDataError` when the project has no curated session at all.
    """
    if missing not in ("complete-case", "impute"):
        raise ConfigurationError(f"missing-value policy must be complete-case or impute, got {missing!r}")
    from sarcoma_xnat.fl.compatibility import preprocess_signature

    clinical, images, outcomes = [], [], []
    cohort = Cohort(project=project, data=None)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="sarcoma-cohort-") as tmp:
        for subject in archive.children(ObjectRef(project), "subject"):
            sessions = archive.children(subject.ref, "session")
            if not sessions:
                cohort.skipped.append((subject.label, "subject has no session"))
                continue
            try:
                baseline = choose_baseline(sessions)
            except SarcomaXnatError as exc:
                cohort.skipped.append((subject.label, str(getattr(exc, "message", exc))))
                continue
            for other in sessions:
                if other is not baseline:
                    cohort.follow_ups.append((f"{subject.label}/{other.label}",
                                              f"not the baseline session ({baseline.label} is)"))
            for session in (baseline,):  # the baseline session only
                name = f"{subject.label}/{session.label}"
                try:
                    x = encode_clinical(subject.fields, allow_missing=missing == "impute")
                    y = _outcomes(subject)
                    img = None
                    if image_size is not None:
                        if resource not in {r.label for r in archive.resources(session.ref)}:
                            raise InputDataError(f"no {resource} resource (preprocess not run)")
                        folder = Path(tmp) / session.label
                        archive.fetch_resource(session.ref, resource, folder)
                        _check_review(archive, session.ref, folder, reviewed_only)
                        img = prepare_image(*load_volumes(folder, session.label), size=image_size,
                                            margin=margin)
                        signature = preprocess_signature(folder)
                except SarcomaXnatError as exc:
                    reason = exc.message if hasattr(exc, "message") else str(exc)
                    (cohort.excluded if isinstance(exc, _Excluded) else cohort.skipped).append((name, reason))
                    log.warning("skipping %s: %s", name, reason)
                    continue
                clinical.append(x)
                outcomes.append(y)
                if img is not None:
                    images.append(img)
                    cohort.preprocessing.append(signature)
                cohort.subjects.append(subject.label)
                cohort.sessions.append(session.label)
                cohort.fields.append({v: str(subject.fields.get(v) or "").strip()
                                      for v in CLINICAL_VARIABLES})
    if not clinical:
        reasons = "; ".join(f"{n}: {r}" for n, r in (cohort.skipped + cohort.excluded)[:5]) or "no subjects"
        raise InputDataError(f"no curated session in project {project} ({reasons})", project=project)
    y = np.asarray(outcomes, dtype=np.float64)
    cohort.data = SurvivalArrays(
        clinical=np.stack(clinical).astype(np.float32),
        image=np.stack(images).astype(np.float32) if images else None,
        os_time=y[:, 0], os_event=y[:, 1].astype(np.int64),
        dm_time=y[:, 2], dm_event=y[:, 3].astype(np.int64))
    log.info("project %s: %d curated sessions, %d skipped, %d excluded by QC, %d follow-up sessions",
             project, len(cohort.sessions), len(cohort.skipped), len(cohort.excluded),
             len(cohort.follow_ups))
    return cohort

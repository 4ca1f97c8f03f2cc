"""The ``preprocess`` step: T1 + T2 DICOM → N4 → z-score → one 128³ grid, mask, QC, measurements.

Input: a session folder in the Container Service layout (``SCANS/``, ``ASSESSORS/``).
Output folder (stored on the session as resource :data:`RESOURCE_LABEL`)::

    t1.nii.gz, t2.nii.gz   128³, N4-corrected, z-scored over the foreground, T1 frame
    mask.nii.gz            128³ tumour mask (uint8), only when the session has an annotation;
                           with several lesions, the primary tumour's (see below)
    mask_lesion<N>.nii.gz  128³ mask of lesion N (1, 2, 3: segment-number order), only when
                           the annotation holds several lesions
    t1_n4.nii.gz           T1 at full resolution, N4-corrected (float32, original grid)
    t2_n4.nii.gz           T2 at full resolution, N4-corrected (float32, original grid)
    mask_t1.nii.gz         tumour mask on the full-resolution T1 grid (with an annotation)
    qc.png                 axial/coronal/sagittal of T1 and T2 with the mask outline
    measurements.json      tumour volume (mm³), longest diameters (mm), bounding box; grid;
                           ``lesions``: one row per lesion (segment), ``primary`` marking one
    provenance.json        parameters, versions, input UIDs and checksums, timings
    manifest.json          every other file with its SHA-256, and the input fingerprint

An annotation may hold up to three lesions (EuCanImage), one segment (SEG) or ROI
(RTSTRUCT) each; ``tumour``, ``mask.nii.gz`` and ``mask_t1.nii.gz`` are the primary
tumour's, chosen by :data:`~sarcoma_xnat.imaging.roi.PRIMARY_RULE` (recorded as
``primary_rule``), so readers of a single-lesion result need nothing new. With the
``segment_label`` parameter only that segment is read.

Every file but ``provenance.json`` is identical on re-run; in ``provenance.json`` only
``started``, ``ended``, ``seconds`` and ``timings`` change. XNAT merges a re-run into
the existing resource (see :mod:`sarcoma_xnat.steps.manifest`), so readers use only
the files ``manifest.json`` lists.

Two cases write nothing and are not errors (exit 0), so that one OHIF save gives one
effective run whatever events the ROI plugin fires:

* *not ready*: the ROI collection named by ``roi_collection`` has no complete SEG or
  RTSTRUCT file in the mount yet (the plugin saves the assessor before and while it
  writes the file; events-and-roi.md §3.5);
* *up to date*: the session mount already holds a ``PREPROCESSED`` resource whose
  manifest records the same input fingerprint (annotation file, the selected series'
  files, parameters, step version) and whose files match it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from sarcoma_xnat import __version__
from sarcoma_xnat.archive.base import Archive, ResourceInfo
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import AnnotationError, GeometryError, InputDataError
from sarcoma_xnat.imaging.bias import n4_correct
from sarcoma_xnat.imaging.dicom_series import SeriesVolume, read_scan
from sarcoma_xnat.imaging.intensity import foreground_mask, foreground_stats, zscore
from sarcoma_xnat.imaging.measure import MEASUREMENT_METHOD, measure_mask
from sarcoma_xnat.imaging.nifti import write_nifti
from sarcoma_xnat.imaging.qc import write_qc_png
from sarcoma_xnat.imaging.resample import box_grid, fov_grid, overlap_fraction, resample_to_grid
from sarcoma_xnat.imaging.roi import (PRIMARY_RULE, RoiMask, primary_lesion, referenced_series_uids,
                                      roi_lesions)
from sarcoma_xnat.imaging.selection import select_series
from sarcoma_xnat.steps.base import atomic_output, file_sha256, stage_session, write_provenance
from sarcoma_xnat.steps.measurement_fields import intensity_stats, publish
from sarcoma_xnat.steps.manifest import (MANIFEST_FILE, consistent, fingerprint, read_manifest,
                                         write_manifest)
from sarcoma_xnat.steps.preprocess_params import PreprocessParams
from sarcoma_xnat.steps.session_layout import (RoiFile, ScanFolder, choose_roi, data_files,
                                               find_roi_files, scan_catalog)
from sarcoma_xnat.steps.xnat_mount import dicom_complete

__all__ = [
    "PreprocessResult",
    "RESOURCE_LABEL",
    "STEP",
    "VARYING_PROVENANCE_KEYS",
    "run",
    "run_on_archive",
]

STEP = "preprocess"
#: session resource that holds the output; re-running replaces it
RESOURCE_LABEL = "PREPROCESSED"
#: provenance keys that differ between otherwise identical runs
VARYING_PROVENANCE_KEYS = ("started", "ended", "seconds", "timings")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreprocessResult:
    """What a run produced: the output folder (``None`` once uploaded to a remote archive),
    its files and the measurements; ``skipped`` says why nothing was written."""

    output_dir: Path | None
    files: tuple[str, ...]
    measurements: dict[str, Any]
    resource: ResourceInfo | None = None
    skipped: str | None = None


def _read(scan: ScanFolder, ctx: Mapping[str, str]) -> SeriesVolume:
    return read_scan(scan.folder, {**ctx, "scan": scan.scan_id})


def _input_record(input_dir: Path, scan: ScanFolder, volume: SeriesVolume) -> dict[str, Any]:
    files = {(scan.folder / f).relative_to(input_dir).as_posix(): file_sha256(scan.folder / f)
             for f in volume.files}
    return {"scan": scan.scan_id, "scan_type": scan.candidate.scan_type,
            "series_uid": volume.series_uid, "frame_of_reference_uid": volume.frame_of_reference_uid,
            "files": files}


def _choose_annotation(input_dir: Path, p: PreprocessParams,
                       ctx: dict[str, str]) -> tuple[RoiFile | None, str | None]:
    """Pick the session's annotation; ``(None, reason)`` when the named one is not there yet."""
    rois = find_roi_files(input_dir)
    if p.roi_collection is not None:
        whole = [r for r in rois if r.named(p.roi_collection) and dicom_complete(r.path)]
        if not whole:
            return None, (f"ROI collection {p.roi_collection!r} has no complete SEG or RTSTRUCT "
                          "file in the session yet (the ROI plugin saves the assessor before its "
                          "file); nothing written, the save's next event will run it")
        rois = whole
    chosen = choose_roi(rois, p.roi_type, p.roi_collection, ctx)
    if chosen is None and p.require_roi:
        raise AnnotationError("the session has no ROI collection (SEG or RTSTRUCT) and "
                              "require_roi is set", **ctx)
    if chosen is not None and not dicom_complete(chosen.path):
        raise AnnotationError(f"the {chosen.kind} file of ROI collection {chosen.assessor!r} is "
                              "incomplete (truncated or still being written)",
                              assessor=chosen.assessor, **ctx)
    return chosen, None


def _fingerprint(p: PreprocessParams, scans: Mapping[str, ScanFolder], chosen: RoiFile | None,
                 catalog: list[ScanFolder]) -> str:
    """Return the identity of a run's inputs: step version, parameters, series and annotation.

    Series are identified by the SHA-256 of their files (not the names, which differ
    between a local archive and XNAT's), so equal inputs give equal fingerprints.
    """
    def shas(scan: ScanFolder) -> list[str]:
        return sorted(file_sha256(f) for f in data_files(scan.folder))

    series = {ch: shas(scan) for ch, scan in scans.items()}
    referenced = {}
    if chosen is not None:
        chosen_ids = {s.scan_id for s in scans.values()}
        for uid in sorted(referenced_series_uids(chosen.path)):
            scan = next((s for s in catalog if s.candidate.series_uid == uid), None)
            if scan is not None and scan.scan_id not in chosen_ids:
                referenced[scan.scan_id] = shas(scan)
    params = {k: v for k, v in p.to_dict().items() if k not in ("subject", "session")}
    return fingerprint({"step": STEP, "version": __version__, "parameters": params,
                        "series": series, "referenced_series": referenced,
                        "annotation": file_sha256(chosen.path) if chosen is not None else None})


def _up_to_date(input_dir: Path, input_fingerprint: str) -> bool:
    """Return whether the mount's ``RESOURCES/PREPROCESSED`` is this very result, intact."""
    folder = input_dir / "RESOURCES" / RESOURCE_LABEL
    if not (folder / MANIFEST_FILE).is_file():
        return False
    try:
        manifest = read_manifest(folder, STEP)
    except InputDataError:
        return False
    return manifest.get("fingerprint") == input_fingerprint and not consistent(folder, manifest)


def _annotation(
    input_dir: Path, chosen: RoiFile | None, p: PreprocessParams, t1: SeriesVolume,
    volumes: dict[str, SeriesVolume], catalog: list[ScanFolder], ctx: dict[str, str],
) -> tuple[list[RoiMask], dict[str, Any] | None]:
    """Read the chosen annotation into lesion masks on the T1 grid, primary first (or none)."""
    if chosen is None:
        return [], None
    for uid in referenced_series_uids(chosen.path) - set(volumes):
        scan = next((s for s in catalog if s.candidate.series_uid == uid), None)
        if scan is not None:
            volumes[uid] = _read(scan, ctx)
    lesions = roi_lesions(chosen.path, t1, volumes, p.segment_label,
                          {**ctx, "assessor": chosen.assessor}, root=input_dir)
    roi = lesions[primary_lesion(lesions)]
    record = {"assessor": chosen.assessor, "kind": roi.kind, "file": roi.file,
              "sha256": file_sha256(chosen.path), "segment_number": roi.segment_number,
              "segment_label": roi.segment_label, "referenced_series": list(roi.referenced_series)}
    return [roi] + [m for m in lesions if m is not roi], record


def _union(masks: list[RoiMask]) -> sitk.Image:
    """Return the union of the lesion masks (all on the T1 grid)."""
    out = masks[0].mask
    for m in masks[1:]:
        out = sitk.Or(out, m.mask)
    return out


def _lesion_rows(lesions: list[RoiMask], on_grid: list[sitk.Image],
                 ctx: dict[str, str]) -> list[dict[str, Any]]:
    """Return one measurement row per lesion, in segment-number order; the first given is primary."""
    primary = lesions[0].segment_number
    several = len(lesions) > 1
    rows = []
    order = sorted(range(len(lesions)), key=lambda i: lesions[i].segment_number)
    for n, i in enumerate(order, 1):
        if not sitk.GetArrayViewFromImage(on_grid[i]).any():
            raise AnnotationError(f"lesion {n} (segment {lesions[i].segment_number}) vanishes on "
                                  "the output grid", **ctx)
        grid_measure = measure_mask(on_grid[i])
        rows.append({"lesion": n, "segment_number": lesions[i].segment_number,
                     "segment_label": lesions[i].segment_label,
                     "primary": lesions[i].segment_number == primary,
                     "mask": f"mask_lesion{n}.nii.gz" if several else "mask.nii.gz",
                     **measure_mask(lesions[i].mask),
                     "on_grid": {k: grid_measure[k] for k in ("voxel_count", "volume_mm3")}})
    return rows

def run(input_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str],
        params: Mapping[str, Any] | PreprocessParams | None = None,
        scan_types: Mapping[str, str] | None = None) -> PreprocessResult:
    """Preprocess the session in ``input_dir`` into ``output_dir`` (atomically, replacing it).

    Writes nothing and returns a result with ``skipped`` set when the named ROI
    collection is not complete in the mount yet, or when the mount's
    ``RESOURCES/PREPROCESSED`` already is this result (see the module docstring).

    Parameters
    ----------
    input_dir : path-like
        Session folder in the Container Service layout.
    output_dir : path-like
        Output folder; written only when everything succeeded.
    params : mapping or PreprocessParams, optional
        See :class:`~sarcoma_xnat.steps.preprocess_params.PreprocessParams`.
    scan_types : mapping, optional
        XNAT scan type per scan ID, when the caller knows them (not in the mount).
    """
    started = time.time()
    p = PreprocessParams.from_mapping(params)
    ctx = p.context()
    src = Path(input_dir).resolve()
    timings: dict[str, float] = {}
    tick = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - tick
        tick = now

    catalog = scan_catalog(src, scan_types)
    chosen = select_series([s.candidate for s in catalog], p.rules(), context=ctx)
    scans = {ch: next(s for s in catalog if s.candidate is cand) for ch, cand in chosen.items()}
    annotation, not_ready = _choose_annotation(src, p, ctx)
    if not_ready is not None:
        return _skipped(not_ready)
    input_fingerprint = _fingerprint(p, scans, annotation, catalog)
    if _up_to_date(src, input_fingerprint):
        return _skipped(f"{RESOURCE_LABEL} in the session is up to date (same annotation, series, "
                        f"parameters and version: fingerprint {input_fingerprint[:12]}); "
                        "nothing written")
    t1, t2 = (_read(scans[ch], ctx) for ch in ("t1", "t2"))
    if t1.frame_of_reference_uid and t2.frame_of_reference_uid \
            and t1.frame_of_reference_uid != t2.frame_of_reference_uid:
        raise GeometryError(f"T1 (scan {scans['t1'].scan_id}) and T2 (scan {scans['t2'].scan_id}) "
                            "are in different frames of reference; positions cannot be compared",
                            **ctx)
    lap("read")
    volumes = {t1.series_uid: t1, t2.series_uid: t2}
    lesions, roi_record = _annotation(src, annotation, p, t1, volumes, catalog, ctx)
    roi = lesions[0] if lesions else None
    lap("roi_mask")
    corrected, normalized, inputs, stats = {}, {}, {}, {}
    for ch, vol in (("t1", t1), ("t2", t2)):
        sctx = {**ctx, "scan": scans[ch].scan_id}
        fg = foreground_mask(vol.image, context=sctx)
        foreground_stats(vol.image, fg, sctx)  # a blank series is refused before N4
        lap("foreground")
        n4 = n4_correct(vol.image, fg, target_voxels=p.n4_target_voxels,
                        iterations=p.n4_iterations, threads=p.n4_threads)
        corrected[ch] = n4.corrected
        lap("n4")
        normalized[ch], z = zscore(n4.corrected, fg, context=sctx)
        lap("zscore")
        inputs[ch] = _input_record(src, scans[ch], vol)
        stats[ch] = {"n4_shrink": list(n4.shrink), "zscore_mean": round(z.mean, 6),
                     "zscore_std": round(z.std, 6), "foreground_voxels": z.voxels}
    mode = p.grid if roi is not None else "fov"
    grid = box_grid(t1.image, _union(lesions), p.size, p.margin_mm) if (roi and mode == "box") \
        else fov_grid(t1.image, p.size)
    overlap = overlap_fraction(t2.image, grid)
    if overlap < p.min_overlap:
        raise GeometryError(f"T1 and T2 do not overlap enough: the T2 covers {overlap:.0%} of the "
                            f"output grid, at least {p.min_overlap:.0%} is required",
                            scan=scans["t2"].scan_id, **ctx)
    out_images = {ch: resample_to_grid(normalized[ch], grid, p.interpolator) for ch in ("t1", "t2")}
    grid_mask = resample_to_grid(roi.mask, grid, "nearest", 0) if roi is not None else None
    if grid_mask is not None and not sitk.GetArrayViewFromImage(grid_mask).any():
        raise AnnotationError("the tumour mask vanishes on the output grid", **ctx)
    lap("resample")
    measurements: dict[str, Any] = {
        "grid_mode": mode, "grid_mode_requested": p.grid, "grid": grid.describe(),
        "t2_overlap_fraction": round(overlap, 4), "annotation": roi_record, "tumour": None,
        "method": MEASUREMENT_METHOD, "step": STEP, "version": __version__,
    }
    if roi is not None and grid_mask is not None:
        measurements["tumour"] = measure_mask(roi.mask)
        on_grid = measure_mask(grid_mask)
        measurements["tumour_on_grid"] = {k: on_grid[k] for k in ("voxel_count", "volume_mm3")}
        measurements["intensity"] = {ch: intensity_stats(out_images[ch], grid_mask)
                                     for ch in ("t1", "t2")}  # z-scored, on the output grid
        lesion_grids = [grid_mask] + [resample_to_grid(m.mask, grid, "nearest", 0)
                                      for m in lesions[1:]]
        measurements["lesions"] = _lesion_rows(lesions, lesion_grids, ctx)
        measurements["primary_rule"] = PRIMARY_RULE
    lap("measure")
    with atomic_output(output_dir) as out:
        for ch in ("t1", "t2"):
            write_nifti(out_images[ch], out / f"{ch}.nii.gz")
            write_nifti(corrected[ch], out / f"{ch}_n4.nii.gz")
        if roi is not None and grid_mask is not None:
            write_nifti(grid_mask, out / "mask.nii.gz")
            write_nifti(roi.mask, out / "mask_t1.nii.gz")
            if len(lesions) > 1:
                by_segment = {m.segment_number: g for m, g in zip(lesions, lesion_grids)}
                for row in measurements["lesions"]:
                    write_nifti(by_segment[row["segment_number"]], out / row["mask"])
        write_qc_png(out / "qc.png", {"T1": out_images["t1"], "T2": out_images["t2"]}, grid_mask,
                     title=p.session or "session",
                     series={ch.upper(): f"scan {scans[ch].scan_id} {scans[ch].candidate.description}"
                             .strip() for ch in ("t1", "t2")})
        (out / "measurements.json").write_text(json.dumps(measurements, indent=2, sort_keys=True) + "\n")
        lap("write")
        write_provenance(out, STEP, __version__, p.to_dict(),
                         {**inputs, "annotation": roi_record, "fingerprint": input_fingerprint},
                         started, timings,
                         extra={"series": stats,
                                "selection": {k: v.describe() for k, v in p.rules().items()}})
        write_manifest(out, STEP, __version__, input_fingerprint)  # last: lists the others
        files = tuple(sorted(f.name for f in out.iterdir()))
    log.info("preprocess wrote %s (%s)", output_dir, ", ".join(files))
    return PreprocessResult(Path(output_dir).resolve(), files, measurements)


def _skipped(reason: str) -> PreprocessResult:
    """Log why nothing is written (one line) and return the empty result."""
    log.info("preprocess: %s", reason)
    return PreprocessResult(None, (), {}, skipped=reason)


def run_on_archive(archive: Archive, session: ObjectRef,
                   params: Mapping[str, Any] | PreprocessParams | None = None,
                   label: str = RESOURCE_LABEL) -> PreprocessResult:
    """Stage ``session`` from ``archive``, preprocess it, and store the output as resource ``label``.

    An existing resource of that label is replaced; on error the archive is unchanged.
    """
    from sarcoma_xnat.steps.series_rules import project_rules

    p = PreprocessParams.from_mapping(params)
    p = PreprocessParams.from_mapping({**p.to_dict(), "subject": p.subject or session.subject,
                                       "session": p.session or session.session,
                                       "series_rules": p.series_rules
                                       or project_rules(archive, session.project)})
    scan_types = {s.label: str(s.attrs.get("type", "") or "")
                  for s in archive.children(session, "scan")}
    with tempfile.TemporaryDirectory(prefix="sarcoma-preprocess-") as tmp:
        staged = stage_session(archive, session, Path(tmp) / "input", resources=False)
        result = run(staged, Path(tmp) / "output", p, scan_types=scan_types)
        if result.skipped is not None:
            return result
        info = archive.store_resource(session, label, result.output_dir, format="NIFTI",
                                      content="PREPROCESSED")
        publish(archive, session, result.measurements)  # searchable session fields
    local = getattr(archive, "resource_path", None)
    return PreprocessResult(Path(local(session, label)) if callable(local) else None,
                            result.files, result.measurements, info)

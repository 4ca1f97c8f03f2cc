"""The ``radiomics`` step: PyRadiomics features of the tumour on T1 and T2, and the DICOM SEG + SR.

Input: a session folder in the Container Service layout holding the session's
``PREPROCESSED`` resource (``RESOURCES/PREPROCESSED/[files/]``, read only through its
``manifest.json``) and the scans' DICOM (``SCANS/<id>/DICOM``). Output (stored as
session resource :data:`RESOURCE_LABEL`)::

    features.csv     one row per channel and feature: value, IBSI code (or private code)
    features.json    the same, keyed by channel, with the parameter file's name and sha256
    seg.dcm          the tumour mask as a BINARY DICOM SEG on the source T1 series
    sr.dcm           TID 1500 measurement report: volume, diameters, intensity statistics,
                     radiomics features, referencing segment 1 of seg.dcm
    provenance.json  parameters (the parameter file's text and sha256), versions, inputs
    manifest.json    every other file with its SHA-256

Features come from the N4-corrected full-resolution images (``t1_n4.nii.gz``,
``t2_n4.nii.gz``) in the tumour mask on the T1 grid (``mask_t1.nii.gz``), which is
brought onto the T2 grid by nearest neighbour in physical space (the series share a
frame of reference; preprocess checked it). Everything but ``provenance.json`` is
byte-identical on re-run.

XNAT mounts a session input as the session's archive directory, with ``SCANS/<id>/<label>/``
and ``RESOURCES/<label>/`` (``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/CommandResolutionServiceImpl.java``,
``resolveCommandMount``), which is why one ``load-children`` session mount gives the step
both the DICOM and the ``PREPROCESSED`` files; XNAT merges a re-run into the existing
resource (``ContainerFinalizeServiceImpl.java``, see :mod:`sarcoma_xnat.steps.manifest`),
so the preprocess files are read only as its manifest lists them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import SimpleITK as sitk

from sarcoma_xnat import __version__
from sarcoma_xnat.archive.base import Archive, ResourceInfo
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import AnnotationError, GeometryError, InputDataError
from sarcoma_xnat.steps.base import (atomic_output, file_sha256, library_versions, stage_session,
                                     write_provenance)
from sarcoma_xnat.steps.manifest import fingerprint, read_manifest, verified_files, write_manifest

__all__ = ["CHANNELS", "RESOURCE_LABEL", "RadiomicsResult", "STEP", "intensity_stats",
           "mask_on", "run", "run_on_archive"]

STEP = "radiomics"
RESOURCE_LABEL = "RADIOMICS"
INPUT_RESOURCE = "PREPROCESSED"
CHANNELS = ("t1", "t2")
_INPUTS = ("t1_n4.nii.gz", "t2_n4.nii.gz", "mask_t1.nii.gz", "measurements.json")
#: libraries whose versions the provenance records (PyRadiomics' own with the core ones)
_LIBRARIES = ("sarcoma-xnat", "numpy", "pydicom", "SimpleITK", "highdicom", "pyradiomics-bhklab",
              "PyWavelets")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RadiomicsResult:
    """What a run produced: output folder (``None`` once stored remotely), files, features."""

    output_dir: Path | None
    files: tuple[str, ...]
    features: dict[str, dict[str, float]]
    resource: ResourceInfo | None = None


def mask_on(mask: sitk.Image, image: sitk.Image) -> sitk.Image:
    """Return ``mask`` resampled onto ``image``'s grid (nearest neighbour, physical space)."""
    return sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def intensity_stats(image: sitk.Image, mask: sitk.Image) -> dict[str, float]:
    """Return mean, standard deviation (population), minimum and maximum inside ``mask``."""
    values = sitk.GetArrayViewFromImage(image)[sitk.GetArrayViewFromImage(mask) > 0]
    values = values.astype(np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()),
            "min": float(values.min()), "max": float(values.max()), "voxels": int(values.size)}


def _same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    return a.GetSize() == b.GetSize() and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-3) \
        and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-4) \
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=1e-4)


def _sources(input_dir: Path, record: Mapping[str, Any], channel: str, image: sitk.Image,
             ctx: dict[str, Any]) -> list[pydicom.Dataset]:
    """Return the DICOM instances of the channel's source series, in the image's slice order."""
    from sarcoma_xnat.steps.session_layout import scan_catalog

    scan_id, series_uid = str(record.get("scan", "")), str(record.get("series_uid", ""))
    scan = next((s for s in scan_catalog(input_dir) if s.scan_id == scan_id), None)
    if scan is None:
        raise InputDataError(f"the {channel.upper()} series of the preprocess result (scan "
                             f"{scan_id}) is not in the session mount", scan=scan_id, **ctx)
    from sarcoma_xnat.imaging.dicom_series import read_scan

    volume = read_scan(scan.folder, {**ctx, "scan": scan_id})
    if volume.series_uid != series_uid or not _same_grid(volume.image, image):
        raise GeometryError(f"scan {scan_id} is not the {channel.upper()} series the preprocess "
                            "result was made from (series UID or grid differ); run preprocess "
                            "again", scan=scan_id, **ctx)
    by_uid = {}
    for name in volume.files:
        ds = pydicom.dcmread(scan.folder / name)
        by_uid[str(ds.SOPInstanceUID)] = ds
    return [by_uid[u] for u in volume.sop_uids]


def _csv(features: Mapping[str, Mapping[str, float]]) -> str:
    from sarcoma_xnat.quantify.features import feature_code

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["channel", "feature", "value", "code", "scheme", "meaning", "unit"])
    for channel in CHANNELS:
        for name, value in features[channel].items():
            code = feature_code(name)
            writer.writerow([channel, name, repr(value), code.value, code.scheme, code.meaning,
                             code.unit])
    return buf.getvalue()


def run(input_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str],
        params_file: str | os.PathLike[str] | None = None,
        session: str | None = None) -> RadiomicsResult:
    """Compute the radiomics of the preprocessed session in ``input_dir`` into ``output_dir``.

    ``params_file`` replaces the shipped PyRadiomics parameter file.
    """
    from sarcoma_xnat.quantify.dicom_report import write_report, write_tumour_seg
    from sarcoma_xnat.quantify.features import extract_features, params_path
    from sarcoma_xnat.steps.prognosis import find_preprocessed

    started = time.time()
    ctx: dict[str, Any] = {"session": session} if session else {}
    src = Path(input_dir).resolve()
    folder = find_preprocessed(src, INPUT_RESOURCE)
    files = verified_files(folder, _INPUTS, "preprocess", ctx)
    manifest = read_manifest(folder, "preprocess", ctx)
    tumour = json.loads(files["measurements.json"].read_text()).get("tumour")
    if not tumour:
        raise AnnotationError("the preprocess result has no tumour mask (the session had no "
                              "annotation); radiomics needs one", **ctx)
    try:
        provenance = json.loads((folder / "provenance.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputDataError(f"cannot read the preprocess provenance.json: {exc}", **ctx) from exc
    params = params_path(params_file)
    params_sha = file_sha256(params)
    images = {ch: sitk.ReadImage(str(files[f"{ch}_n4.nii.gz"]), sitk.sitkFloat32) for ch in CHANNELS}
    mask_t1 = sitk.ReadImage(str(files["mask_t1.nii.gz"]), sitk.sitkUInt8)
    masks = {"t1": mask_t1, "t2": mask_on(mask_t1, images["t2"])}
    timings: dict[str, float] = {}
    features, intensity = {}, {}
    for ch in CHANNELS:
        tick = time.perf_counter()
        features[ch] = extract_features(images[ch], masks[ch], params, {**ctx, "channel": ch})
        intensity[ch] = intensity_stats(images[ch], masks[ch])
        timings[f"features_{ch}"] = time.perf_counter() - tick
    sources = {ch: _sources(src, provenance.get("inputs", {}).get(ch, {}), ch, images[ch], ctx)
               for ch in CHANNELS}
    seed = fingerprint({"preprocess_run": manifest.get("run_id"), "params": params_sha,
                        "version": __version__})
    inputs = {"preprocess_run": manifest.get("run_id"),
              "files": {n: manifest["files"][n]["sha256"] for n in _INPUTS},
              **{ch: {"scan": provenance["inputs"][ch].get("scan"),
                      "series_uid": str(sources[ch][0].SeriesInstanceUID)} for ch in CHANNELS}}
    document = {"step": STEP, "version": __version__,
                "parameters": {"file": params.name, "sha256": params_sha},
                "image": {ch: f"{ch}_n4.nii.gz" for ch in CHANNELS}, "mask": "mask_t1.nii.gz",
                "intensity": intensity, "features": features, "tumour": tumour}
    with atomic_output(output_dir) as out:
        tick = time.perf_counter()
        seg = write_tumour_seg(out / "seg.dcm", sources["t1"], sitk.GetArrayFromImage(mask_t1), seed)
        write_report(out / "sr.dcm", seg, sources["t1"], sources["t2"], tumour, intensity,
                     features, seed)
        timings["dicom"] = time.perf_counter() - tick
        (out / "features.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        (out / "features.csv").write_text(_csv(features))
        write_provenance(out, STEP, __version__,
                         {"parameter_file": params.name, "parameter_sha256": params_sha,
                          "parameter_text": params.read_text()},
                         inputs, started, timings,
                         extra={"seg_sop_instance_uid": str(seg.SOPInstanceUID),
                                "libraries": library_versions(_LIBRARIES)})
        write_manifest(out, STEP, __version__, seed)
        written = tuple(sorted(f.name for f in out.iterdir()))
    log.info("radiomics wrote %d features per channel to %s", len(features["t1"]), output_dir)
    return RadiomicsResult(Path(output_dir).resolve(), written, features)


def run_on_archive(archive: Archive, session: ObjectRef,
                   params_file: str | os.PathLike[str] | None = None,
                   label: str = RESOURCE_LABEL) -> RadiomicsResult:
    """Stage ``session`` (scans and resources), run, and store the output as resource ``label``."""
    with tempfile.TemporaryDirectory(prefix="sarcoma-radiomics-") as tmp:
        staged = stage_session(archive, session, Path(tmp) / "input", scans=True,
                               assessors=False, resources=True)
        result = run(staged, Path(tmp) / "output", params_file, session.session)
        info = archive.store_resource(session, label, result.output_dir, format="DICOM",
                                      content="RADIOMICS")
    local = getattr(archive, "resource_path", None)
    return RadiomicsResult(Path(local(session, label)) if callable(local) else None,
                           result.files, result.features, info)

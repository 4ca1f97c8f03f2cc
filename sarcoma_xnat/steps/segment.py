"""The ``segment`` step: an AI tumour draft for one MR session, as a DICOM SEG ROI collection.

Input: a session folder in the Container Service layout (``SCANS/``) and a MONAI
bundle (:mod:`sarcoma_xnat.segmentation.bundle`). T1 and T2 are picked with the
preprocessing rules, brought onto the bundle's working grid, and segmented by
sliding-window inference. Output folder::

    result.json        found or not, volume, model version and sha256, draft label
    <label>.dcm        the draft SEG on the T1 series (only when a tumour was found)
    provenance.json    parameters, versions, input UIDs and checksums, model sha256
    manifest.json      the other files with their SHA-256

When the largest candidate is smaller than the bundle's ``min_volume_mm3`` the
result says "nothing found" and no SEG is written (an empty SEG would look like an
annotation). On an archive (:func:`run_on_archive`) the SEG becomes the ROI
collection ``<session>_AI-<version>`` (through the OHIF plugin's ``/xapi/roi`` on
XNAT, :class:`~sarcoma_xnat.archive.xnat.XnatArchive`) and the folder's other files
the session resource :data:`RESOURCE_LABEL` (which keeps a copy of the SEG).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from sarcoma_xnat import __version__
from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import AnnotationError
from sarcoma_xnat.steps.base import atomic_output, file_sha256, stage_session, write_provenance
from sarcoma_xnat.steps.manifest import fingerprint, write_manifest

__all__ = ["RESOURCE_LABEL", "RESULT_FILE", "ROI_XSI_TYPE", "STEP", "draft_label", "run",
           "run_on_archive"]

STEP = "segment"
RESOURCE_LABEL = "SEGMENTATION"
RESULT_FILE = "result.json"
ROI_XSI_TYPE = "icr:roiCollectionData"

log = logging.getLogger(__name__)


def draft_label(session: str, version: str) -> str:
    """Return the ROI collection label of a draft: ``<session>_AI-<version>``.

    The ROI plugin refuses a label that another session of the project uses (409,
    ``OhifRoiApi.checkExisting``), so the session label is part of it.
    """
    from sarcoma_xnat.segmentation.dicomseg import ai_label

    return f"{session}_{ai_label(version)}"


def _sources(folder: Path, sop_uids: tuple[str, ...]) -> list[pydicom.Dataset]:
    by_uid = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path)
        except (pydicom.errors.InvalidDicomError, OSError):
            continue
        by_uid[str(ds.SOPInstanceUID)] = ds
    return [by_uid[u] for u in dict.fromkeys(sop_uids)]


def run(input_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str],
        bundle: Any, params: Mapping[str, Any] | None = None, device: str = "auto",
        session: str | None = None, scan_types: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Segment the session in ``input_dir`` with ``bundle``; write the result into ``output_dir``."""
    from sarcoma_xnat.segmentation.bundle import ALGORITHM_NAME
    from sarcoma_xnat.segmentation.dicomseg import dciodvfy_errors, read_seg_on_sources, write_ai_seg
    from sarcoma_xnat.segmentation.inference import pick_device, postprocess, predict
    from sarcoma_xnat.segmentation.volumes import load_session, mask_to_t1

    started = time.time()
    ctx = {"session": session} if session else {}
    chosen = pick_device(device)
    cfg = bundle.inference
    images = load_session(input_dir, float(cfg["spacing_mm"]),
                          {**dict(params or {}), "session": session}, scan_types)
    tick = time.perf_counter()
    prob = predict(bundle, images.channels, chosen)
    seconds = round(time.perf_counter() - tick, 3)
    voxel = float(np.prod(images.grid.GetSpacing()))
    pred = postprocess(prob, voxel, float(cfg["threshold"]), float(cfg["min_volume_mm3"]))
    label = draft_label(session or "session", bundle.version)
    inputs = {"t1": {"scan": images.t1_scan.scan_id, "series_uid": images.t1.series_uid},
              "t2": {"scan": images.t2_scan.scan_id, "series_uid": images.t2.series_uid},
              "model": {"version": bundle.version, "sha256": bundle.sha256,
                        "name": str(bundle.metadata.get("name", ALGORITHM_NAME))}}
    result: dict[str, Any] = {"found": pred.found, "reason": pred.reason, "step": STEP,
                              "model_version": bundle.version, "model_sha256": bundle.sha256,
                              "algorithm": ALGORITHM_NAME, "device": chosen,
                              "inference_seconds": seconds,
                              "volume_mm3": round(pred.volume_mm3, 1) if pred.found else None,
                              "collection": label if pred.found else None,
                              "t1_series_uid": images.t1.series_uid}
    with atomic_output(output_dir) as out:
        if pred.found:
            on_t1 = mask_to_t1(pred.mask, images.grid, images.t1.image)
            sources = _sources(images.t1_scan.folder, images.t1.sop_uids)
            seg_path = out / f"{label}.dcm"
            seg = write_ai_seg(seg_path, sources, on_t1, ALGORITHM_NAME, bundle.version,
                               bundle.sha256, uid=f"{images.t1.series_uid}|{bundle.sha256}")
            back = read_seg_on_sources(seg_path, [str(s.SOPInstanceUID) for s in sources], ctx)
            if not np.array_equal(back, on_t1):
                raise AnnotationError("the written SEG does not read back to the predicted mask",
                                      file=seg_path.name, **ctx)
            result["sop_instance_uid"] = str(seg.SOPInstanceUID)
            result["seg_file"] = seg_path.name
            errors = dciodvfy_errors(seg_path)
            result["dciodvfy"] = "not installed" if errors is None else (errors or "no errors")
        (out / RESULT_FILE).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        write_provenance(out, STEP, __version__, {"device": chosen, **{k: v for k, v in cfg.items()}},
                         inputs, started, {"inference": seconds})
        write_manifest(out, STEP, __version__, fingerprint({"inputs": inputs, "params": cfg}))
    log.info("segment: %s (%s)", pred.reason, label)
    return result


def run_on_archive(archive: Archive, session: ObjectRef, bundle: Any,
                   params: Mapping[str, Any] | None = None, device: str = "auto") -> dict[str, Any]:
    """Segment a session of ``archive``; store the draft ROI collection and resource ``SEGMENTATION``."""
    scan_types = {s.label: str(s.attrs.get("type", "") or "") for s in archive.children(session, "scan")}
    with tempfile.TemporaryDirectory(prefix="sarcoma-segment-") as tmp:
        staged = stage_session(archive, session, Path(tmp) / "input", assessors=False)
        out = Path(tmp) / "output"
        result = run(staged, out, bundle, params, device, session.session, scan_types)
        if result["found"]:
            seg_dir = Path(tmp) / "seg"
            seg_dir.mkdir()
            shutil.copyfile(out / result["seg_file"], seg_dir / result["seg_file"])
            ref = session.child(assessor=result["collection"])
            archive.create(ref, ROI_XSI_TYPE, attrs={
                "collectionType": "SEG", "name": f"AI-{result['model_version']}",
                "UID": result["sop_instance_uid"], "references": [result["t1_series_uid"]]})
            archive.store_resource(ref, "SEG", seg_dir, format="DICOM", content="EXTERNAL")
        archive.store_resource(session, RESOURCE_LABEL, out, format="JSON", content="SEGMENTATION")
    return result

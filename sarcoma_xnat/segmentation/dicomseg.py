"""The AI draft as a DICOM SEG (highdicom), and its checks: read back, references, ``dciodvfy``.

The SEG is BINARY (what OHIF and XNAT's ROI plugin read), references the T1 series'
instances, and says it is an AI draft: segment algorithm type ``AUTOMATIC`` with
an Algorithm Identification (name, family "Artificial Intelligence", model version,
model sha256 as a parameter), ``ContentLabel``/``SeriesDescription`` ``AI-<version>``
and the model version in ``SoftwareVersions``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from sarcoma_xnat.errors import AnnotationError

__all__ = ["AI_PREFIX", "ai_label", "dciodvfy_errors", "is_ai_draft", "read_seg_on_sources",
           "write_ai_seg"]

#: first characters of every AI draft's collection name and content label
AI_PREFIX = "AI-"


def ai_label(version: str) -> str:
    """Return the content label of a draft made by model ``version``: ``AI-<version>``."""
    return f"{AI_PREFIX}{version}"


def write_ai_seg(path: str | os.PathLike[str], sources: Sequence[Dataset], mask: np.ndarray,
                 algorithm: str, version: str, model_sha256: str, uid: str | None = None) -> Dataset:
    """Write ``mask`` (``(slices, rows, cols)`` aligned with ``sources``) as a BINARY SEG."""
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    label = ai_label(version)
    identification = hd.AlgorithmIdentificationSequence(
        name=algorithm, family=codes.cid7162.ArtificialIntelligence, version=version,
        parameters={"model_sha256": model_sha256})
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="Tumour",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=identification)
    seg = hd.seg.Segmentation(
        source_images=list(sources), pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=generate_uid(entropy_srcs=[uid, "series"]) if uid else generate_uid(),
        series_number=900, sop_instance_uid=generate_uid(entropy_srcs=[uid, "sop"]) if uid else generate_uid(),
        instance_number=1, manufacturer="sarcoma-xnat", manufacturer_model_name=algorithm,
        software_versions=f"model {version}", device_serial_number=model_sha256[:16],
        series_description=f"{label} tumour draft (automatic, not reviewed)",
        content_label=re.sub(r"[^A-Z0-9_ ]", "_", label.upper())[:16], content_description="AI draft")
    seg.save_as(path, enforce_file_format=True)
    return seg


def read_seg_on_sources(path: str | os.PathLike[str], source_uids: Sequence[str],
                        context: dict[str, Any] | None = None) -> np.ndarray:
    """Read segment 1 of a SEG as ``(slices, rows, cols)`` on the source instances, in their order.

    Raises :class:`AnnotationError` when the SEG does not reference every frame's source.
    """
    import highdicom as hd

    seg = hd.seg.segread(path)
    referenced = {str(sop) for _, _, sop in seg.get_source_image_uids()}
    missing = [u for u in source_uids if u not in referenced]
    if len(missing) == len(source_uids):
        raise AnnotationError("the SEG references none of the T1 instances", **dict(context or {}))
    pixels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=list(source_uids), segment_numbers=[1], combine_segments=True,
        assert_missing_frames_are_empty=True)
    return np.asarray(pixels).astype(np.uint8)


def is_ai_draft(ds: Dataset) -> bool:
    """Return whether a SEG or RTSTRUCT header says it was made automatically."""
    algorithm = {str(item.get("SegmentAlgorithmType", "")).upper()
                 for item in ds.get("SegmentSequence", [])}
    algorithm |= {str(item.get("ROIGenerationAlgorithm", "")).upper()
                  for item in ds.get("StructureSetROISequence", [])}
    return bool(algorithm) and algorithm <= {"AUTOMATIC"}


def dciodvfy_errors(path: str | os.PathLike[str]) -> list[str] | None:
    """Return the ``Error`` lines of dicom3tools' ``dciodvfy`` for a file; ``None`` when not installed."""
    exe = shutil.which("dciodvfy")
    if exe is None:
        return None
    proc = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=120)
    lines = (proc.stdout + proc.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")]

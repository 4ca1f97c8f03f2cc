"""The segment step: a valid AI-draft SEG on the T1 instances, stored as an ROI collection; or "nothing found"."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from sarcoma_xnat.cli import main
from sarcoma_xnat.segmentation.bundle import load_bundle
from sarcoma_xnat.segmentation.dicomseg import dciodvfy_errors
from sarcoma_xnat.segmentation.registry import current_bundle_dir, fetch_models
from sarcoma_xnat.steps.segment import RESOURCE_LABEL, run_on_archive


def _t1_uids(archive, session) -> dict[str, pydicom.Dataset]:
    folder = archive.resource_path(session.child(scan="1"), "DICOM")
    return {str(ds.SOPInstanceUID): ds for ds in (pydicom.dcmread(p) for p in folder.rglob("*.dcm"))}


def test_draft_is_a_valid_automatic_seg_on_the_t1(trained, drop_annotations, tmp_path: Path) -> None:
    archive, manifest, record = trained
    session = manifest.sessions[0]
    drop_annotations(archive, session)
    assert main(["segment", "run", "--archive", str(archive.root), "--target", session.uri,
                 "--device", "cpu"]) == 0
    label = f"{session.session}_AI-1"
    roi = archive.get(session.child(assessor=label))
    assert roi.xsi_type == "icr:roiCollectionData" and roi.attrs["collectionType"] == "SEG"
    (seg_file,) = archive.resource_path(roi.ref, "SEG").glob("*.dcm")
    seg = hd.seg.segread(seg_file)
    item = seg.SegmentSequence[0]
    assert item.SegmentAlgorithmType == "AUTOMATIC"
    alg = item.SegmentationAlgorithmIdentificationSequence[0]
    assert alg.AlgorithmName == "sarcoma-xnat tumour UNet" and alg.AlgorithmVersion == "1"
    model = current_bundle_dir(fetch_models(archive, manifest.project, tmp_path / "m")) / "models/model.pt"
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    assert f"model_sha256={sha}" in str(alg.AlgorithmParameters)
    assert seg.SeriesDescription.startswith("AI-1 ") and seg.ContentLabel == "AI_1"
    # references resolve to the T1 instances and the T1 series
    t1 = _t1_uids(archive, session)
    series_uid = next(iter(t1.values())).SeriesInstanceUID
    assert [str(s.SeriesInstanceUID) for s in seg.ReferencedSeriesSequence] == [series_uid]
    referenced = {str(sop) for _, _, sop in seg.get_source_image_uids()}
    assert referenced and referenced <= set(t1)
    errors = dciodvfy_errors(seg_file)
    if errors is None:
        pytest.skip("dciodvfy (Debian dicom3tools) not installed")
    assert errors == []
    # provenance carries the model's sha256; result says where the draft went
    stored = archive.resource_path(session, RESOURCE_LABEL)
    prov = json.loads((stored / "provenance.json").read_text())
    result = json.loads((stored / "result.json").read_text())
    assert prov["inputs"]["model"]["sha256"] == sha and result["collection"] == label
    assert result["found"] is True


def test_seg_round_trips_to_the_predicted_mask(trained, tmp_path: Path) -> None:
    """The SEG read back on the T1 instances is the network's mask resampled onto the T1 grid."""
    from sarcoma_xnat.segmentation.inference import postprocess, predict
    from sarcoma_xnat.segmentation.volumes import load_session, mask_to_t1, scan_types
    from sarcoma_xnat.steps.base import stage_session

    archive, manifest, _ = trained
    session = manifest.sessions[1]
    bundle = load_bundle(current_bundle_dir(fetch_models(archive, manifest.project, tmp_path / "m")))
    result = run_on_archive(archive, session, bundle, device="cpu")
    staged = stage_session(archive, session, tmp_path / "in", assessors=False)
    images = load_session(staged, 3.0, None, scan_types(archive, session))
    pred = postprocess(predict(bundle, images.channels), float(np.prod(images.grid.GetSpacing())),
                       0.5, 1000.0)
    expected = mask_to_t1(pred.mask, images.grid, images.t1.image)
    seg = hd.seg.segread(archive.resource_path(session.child(assessor=result["collection"]), "SEG")
                         / f"{result['collection']}.dcm")
    back = seg.get_pixels_by_source_instance(list(images.t1.sop_uids), segment_numbers=[1],
                                             combine_segments=True,
                                             assert_missing_frames_are_empty=True)
    assert expected.any() and np.array_equal(np.asarray(back), expected)


def test_no_plausible_tumour_gives_nothing_found_not_an_empty_seg(trained, drop_annotations,
                                                                 tmp_path: Path) -> None:
    archive, manifest, _ = trained
    session = manifest.sessions[2]
    drop_annotations(archive, session)
    bundle_dir = current_bundle_dir(fetch_models(archive, manifest.project, tmp_path / "m"))
    strict = tmp_path / "strict"
    shutil.copytree(bundle_dir, strict)
    cfg = json.loads((strict / "configs/inference.json").read_text())
    cfg["min_volume_mm3"] = 1e9  # no tumour is that large: nothing is plausible
    (strict / "configs/inference.json").write_text(json.dumps(cfg))
    result = run_on_archive(archive, session, load_bundle(strict), device="cpu")
    assert result["found"] is False and "below the plausible tumour volume" in result["reason"]
    assert archive.children(session, "assessor") == []
    stored = archive.resource_path(session, RESOURCE_LABEL)
    assert sorted(p.name for p in stored.iterdir()) == ["manifest.json", "provenance.json", "result.json"]
    from sarcoma_xnat.segmentation.review import review_session

    assert review_session(archive, session).state == "nothing found"


def test_cuda_without_a_gpu_is_refused() -> None:
    import torch

    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.segmentation.inference import pick_device

    if torch.cuda.is_available():
        assert pick_device("cuda") == "cuda" and pick_device("auto") == "cuda"
    else:
        assert pick_device("auto") == "cpu"
        with pytest.raises(ConfigurationError, match="no CUDA device"):
            pick_device("cuda")

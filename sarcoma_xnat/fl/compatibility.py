"""Does a model fit the data it is given? Encoding, feature names, image size, preprocessing.

A model records, when it is trained, how its inputs were made: the clinical encoding
version and feature names (:mod:`sarcoma_xnat.models.encoding`) and, for the image
branch, the preprocessing of the training sessions (:func:`preprocess_signature`: the
grid shape of ``t1.nii.gz`` and the image-shaping parameters of the ``preprocess``
step). :func:`check_model_fits` compares those with what the code and the session's
data say now and raises :class:`~sarcoma_xnat.errors.ModelMismatchError` naming the
first mismatch, before any prediction is made (``prognosis``, ``model evaluate``).

The preprocess parameters are read from the result's ``provenance.json``, which the
manifest does not checksum (its timing differs between runs,
:mod:`sarcoma_xnat.steps.manifest`); it is trusted only when its recorded input
fingerprint equals the manifest's, i.e. when it is the provenance of that very run.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sarcoma_xnat.errors import ModelMismatchError

__all__ = ["IMAGE_PARAMETERS", "check_model_fits", "distinct_signatures", "preprocess_signature"]

log = logging.getLogger(__name__)

#: preprocess parameters that change the images a model sees (the rest pick series or ROIs)
IMAGE_PARAMETERS = ("grid", "interpolator", "margin_mm", "n4_iterations", "n4_target_voxels", "size")


def preprocess_signature(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Return how a ``preprocess`` result was made: step version, grid shape, image parameters.

    ``parameters`` is None when the result has no provenance of the run its manifest
    describes (e.g. data written by another tool).
    """
    import nibabel as nib

    from sarcoma_xnat.steps.manifest import read_manifest, verified_files

    root = Path(folder)
    manifest = read_manifest(root, "preprocess")
    t1 = verified_files(root, ("t1.nii.gz",), "preprocess")["t1.nii.gz"]
    shape = [int(n) for n in nib.load(str(t1)).shape[:3]]
    params = None
    try:
        prov = json.loads((root / "provenance.json").read_text())
    except (OSError, ValueError):
        prov = None
    if isinstance(prov, dict) and (prov.get("inputs") or {}).get("fingerprint") == manifest.get("fingerprint"):
        given = prov.get("parameters") or {}
        params = {k: given[k] for k in IMAGE_PARAMETERS if k in given}
    return {"step_version": str(manifest.get("version")), "grid_shape": shape, "parameters": params}


def distinct_signatures(signatures: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the distinct signatures of a cohort's sessions, in a stable order."""
    seen: dict[str, dict[str, Any]] = {}
    for sig in signatures:
        seen.setdefault(json.dumps(sig, sort_keys=True), dict(sig))
    return [seen[k] for k in sorted(seen)]


def _fmt(shape: Sequence[int]) -> str:
    return "x".join(str(n) for n in shape)


def _check_clinical(meta: Mapping[str, Any], n_clinical: int | None, where: str) -> None:
    from sarcoma_xnat.models.encoding import ENCODING_VERSION, FEATURE_NAMES

    version = meta.get("encoding_version")
    if version is not None and str(version) != str(ENCODING_VERSION):
        raise ModelMismatchError(
            f"encoding version mismatch: {where} was trained with clinical encoding version "
            f"{version}, this software encodes version {ENCODING_VERSION}; retrain the model or "
            "use the sarcoma-xnat release that made it", mismatch="encoding version")
    names = meta.get("feature_names")
    expected = list(FEATURE_NAMES)
    if names is not None and list(names) != expected:
        missing = [n for n in expected if n not in names]
        extra = [n for n in names if n not in expected]
        detail = "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                       f"unknown {', '.join(extra)}" if extra else "") if p) \
            or "same names in another order"
        raise ModelMismatchError(f"feature names mismatch: {where} expects {len(names)} clinical "
                                 f"features, the data are encoded as {len(expected)} ({detail})",
                                 mismatch="feature names")
    if n_clinical is not None and n_clinical != len(expected):
        raise ModelMismatchError(f"feature names mismatch: {where}'s network takes {n_clinical} "
                                 f"clinical features, the data are encoded as {len(expected)}",
                                 mismatch="feature names")


def _check_images(meta: Mapping[str, Any], data: Mapping[str, Any], where: str) -> None:
    trained = meta.get("preprocessing") or []
    if not trained:
        return  # made before preprocessing was recorded: nothing to compare with
    shapes = [list(t["grid_shape"]) for t in trained]
    if list(data["grid_shape"]) not in shapes:
        raise ModelMismatchError(
            f"image size mismatch: {where} was trained on {' or '.join(_fmt(s) for s in shapes)} "
            f"preprocessed images, this session's are {_fmt(data['grid_shape'])}; rerun preprocess "
            "with the model's size", mismatch="image size")
    given = data.get("parameters")
    known = [t for t in trained if t.get("parameters") is not None]
    if given is None or not known:
        if known:
            log.warning("the session's preprocess parameters are not recorded; cannot check them "
                        "against %s's", where)
        return
    if any(t["parameters"] == given for t in known):
        return
    ref = known[0]["parameters"]
    diffs = [f"{k}: model {ref.get(k)!r}, data {given.get(k)!r}"
             for k in sorted(set(ref) | set(given)) if ref.get(k) != given.get(k)]
    raise ModelMismatchError(
        f"preprocessing parameters mismatch: {where} was trained on sessions preprocessed "
        f"otherwise ({'; '.join(diffs)}); rerun preprocess with the model's parameters",
        mismatch="preprocessing parameters")


def check_model_fits(meta: Mapping[str, Any], n_clinical: int | None = None,
                     data: Mapping[str, Any] | None = None, where: str = "the model") -> None:
    """Refuse a model that does not fit the data; return silently when it fits.

    Parameters
    ----------
    meta : mapping
        The model's meta (:func:`~sarcoma_xnat.fl.checkpoint.load_checkpoint`).
    n_clinical : int, optional
        Clinical inputs of the loaded network (checked against today's encoding).
    data : mapping, optional
        :func:`preprocess_signature` of the session the model is applied to (image
        modes only).
    where : str
        How to name the model in the message (e.g. ``"model version 3"``).

    Raises
    ------
    ModelMismatchError
        Naming the mismatch: encoding version, feature names, image size or
        preprocessing parameters.
    """
    mode = meta.get("mode")
    if mode != "image":
        _check_clinical(meta, n_clinical, where)
    if mode != "clinical":
        size = meta.get("image_size")
        if not isinstance(size, int) or size < 8:
            raise ModelMismatchError(f"image size mismatch: {where} records no usable network "
                                     f"input size ({size!r})", mismatch="image size")
        if data is not None:
            _check_images(meta, data, where)

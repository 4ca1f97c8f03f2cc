"""The ``prognosis`` step: risk scores and predicted survival curves for one session.

Input: a session folder in the Container Service layout whose
``RESOURCES/PREPROCESSED/files/`` (or ``RESOURCES/PREPROCESSED/``) holds the
``preprocess`` outputs, the subject's clinical fields (a JSON file, or read from the
archive), and a model: a ``model.pt`` written by ``sarcoma-xnat model train`` or
``fl export``, or a models folder (the project resource ``PROGNOSIS_MODEL`` as the
Container Service mounts it) whose current version is used
(:func:`~sarcoma_xnat.fl.registry.resolve_model`); on an archive without a model given,
the project's current published version. A model that does not fit the data (clinical
encoding, feature names, image size, preprocessing parameters) is refused before any
prediction (:func:`~sarcoma_xnat.fl.compatibility.check_model_fits`). Output (stored as
session resource :data:`RESOURCE_LABEL`)::

    prognosis.json       log-hazards, risk groups, S(t) at 12/36/60 months, full curves,
                         and the model used (version, sha256)
    survival_curve.png   predicted OS and DM-free curves
    provenance.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import InputDataError, SarcomaXnatError
from sarcoma_xnat.steps.base import atomic_output, file_sha256, stage_session, write_provenance
from sarcoma_xnat.steps.manifest import MANIFEST_FILE, fingerprint, read_manifest, write_manifest

__all__ = ["RESOURCE_LABEL", "STEP", "VERSION", "find_preprocessed", "register_cli", "run",
           "run_on_archive"]

STEP, VERSION = "prognosis", "1"
RESOURCE_LABEL = "PROGNOSIS"
INPUT_RESOURCE = "PREPROCESSED"
HORIZONS = (12.0, 36.0, 60.0)
_GROUPS = ("low", "intermediate", "high")


def find_preprocessed(input_dir: Path, label: str = INPUT_RESOURCE) -> Path:
    """Return the folder holding the preprocess result in a staged session (or the folder itself).

    The result is the folder with ``manifest.json`` (or, to say what is wrong, ``t1.nii.gz``);
    its files are read only as the manifest lists them (:func:`~sarcoma_xnat.fl.dataset.load_volumes`).
    """
    cands = (input_dir / "RESOURCES" / label / "files", input_dir / "RESOURCES" / label, input_dir)
    for marker in (MANIFEST_FILE, "t1.nii.gz"):
        for cand in cands:
            if (cand / marker).is_file():
                return cand
    raise InputDataError(f"no {label} resource with t1.nii.gz under {input_dir}",
                         resource=label, file=str(input_dir))


def run(input_dir: str | Path, output_dir: str | Path, model_path: str | Path,
        clinical: dict[str, str] | None = None, session: str | None = None,
        device: str = "auto", version: str | None = None) -> dict[str, Any]:
    """Predict risks and survival curves for one session; write them into ``output_dir``.

    ``model_path`` is a ``model.pt`` or a models folder (its current version, or
    ``version``). ``device`` is ``auto`` (a CUDA GPU when torch sees one), ``cpu`` or
    ``cuda`` (:func:`~sarcoma_xnat.models.device.resolve_device`).
    """
    from sarcoma_xnat.fl.checkpoint import load_checkpoint
    from sarcoma_xnat.fl.compatibility import check_model_fits, preprocess_signature
    from sarcoma_xnat.fl.dataset import load_volumes, prepare_image
    from sarcoma_xnat.fl.figures import plot_survival_curve
    from sarcoma_xnat.fl.registry import resolve_model
    from sarcoma_xnat.models.device import resolve_device
    from sarcoma_xnat.models.encoding import encode_clinical
    from sarcoma_xnat.models.survival import ENDPOINTS, BreslowBaseline, SurvivalArrays
    from sarcoma_xnat.models.training import predict

    started = time.time()
    input_dir = Path(input_dir)
    target = resolve_device(device)  # cuda without a GPU fails before anything is read
    chosen = resolve_model(model_path, version)
    model, meta = load_checkpoint(chosen.path)
    where = f"prognosis model version {chosen.version}" if chosen.version else f"model {chosen.path.name}"
    check_model_fits(meta, getattr(model, "n_clinical", None), where=where)
    model.to(target)
    used = {"version": chosen.version, "sha256": chosen.sha256}
    inputs: dict[str, Any] = {"model": {"path": chosen.path.name, **used}}
    x = np.zeros((1, model.n_clinical), np.float32)
    if meta["mode"] != "image":
        if clinical is None:
            raise InputDataError("this model needs the subject's clinical fields", session=session)
        try:
            # a missing value takes the model's training imputation (model card: missing_values)
            x = encode_clinical(clinical, fill=(meta.get("missing_values") or {}).get("fill"))[None, :]
        except InputDataError as exc:
            raise exc.with_context(session=session)
    image = None
    if meta["mode"] != "clinical":
        folder = find_preprocessed(input_dir)
        try:
            check_model_fits(meta, data=preprocess_signature(folder), where=where)
        except SarcomaXnatError as exc:
            raise exc.with_context(session=session)
        image = prepare_image(*load_volumes(folder, session), size=int(meta["image_size"]))[None]
        inputs["images"] = {n: file_sha256(folder / n) for n in ("t1.nii.gz", "t2.nii.gz", "mask.nii.gz")}
        inputs["preprocess_run"] = read_manifest(folder, "preprocess").get("run_id")
    zeros = np.zeros(1)
    risk = predict(model, SurvivalArrays(x, image, zeros, zeros, zeros, zeros))[0]
    result: dict[str, Any] = {"model_mode": meta["mode"], "model": used, "endpoints": {}}
    curves = {}
    for k, endpoint in enumerate(ENDPOINTS):
        base = BreslowBaseline.from_dict(meta["baseline"][endpoint])
        surv = base.survival([risk[k]], base.times)[0]
        group = int(np.searchsorted(meta["risk_cuts"][endpoint], risk[k], side="right"))
        below = np.flatnonzero(surv <= 0.5)
        result["endpoints"][endpoint] = {
            "log_hazard": float(risk[k]), "risk_group": _GROUPS[group],
            "survival_at_months": {f"{h:g}": float(base.survival([risk[k]], [h])[0, 0]) for h in HORIZONS},
            "median_months": float(base.times[below[0]]) if below.size else None,
            "curve": {"months": base.times.tolist(), "survival": surv.tolist()}}
        curves["overall survival" if endpoint == "os" else "metastasis-free"] = (base.times, surv)
    with atomic_output(output_dir) as out:
        (out / "prognosis.json").write_text(json.dumps(result, indent=2) + "\n")
        plot_survival_curve(curves, out / "survival_curve.png", "predicted survival")
        write_provenance(out, STEP, VERSION, {"model_mode": meta["mode"],
                                              "image_size": meta.get("image_size"),
                                              "model_version": chosen.version},
                         inputs, started)
        write_manifest(out, STEP, VERSION, fingerprint({"inputs": inputs, "clinical": clinical,
                                                        "mode": meta["mode"]}))
    return result


def run_on_archive(archive: Archive, session: ObjectRef, model_path: str | Path | None = None,
                   label: str = RESOURCE_LABEL, device: str = "auto",
                   version: str | None = None) -> dict[str, Any]:
    """Run on a session of ``archive`` (clinical fields from its subject); store resource ``label``.

    Without ``model_path`` the session's project's published models are used (its
    current version, or ``version``; :mod:`sarcoma_xnat.fl.registry`).
    """
    subject = archive.get(ObjectRef(session.project, session.subject))
    with tempfile.TemporaryDirectory(prefix="sarcoma-prognosis-") as tmp:
        if model_path is None:
            from sarcoma_xnat.fl.registry import fetch_models

            model_path = fetch_models(archive, session.project, Path(tmp) / "models")
        staged = stage_session(archive, session, Path(tmp) / "input", scans=False, assessors=False,
                               resources=True)
        result = run(staged, Path(tmp) / "output", model_path, subject.fields, session.session,
                     device=device, version=version)
        archive.store_resource(session, label, Path(tmp) / "output", format="JSON",
                               content="PROGNOSIS")
    return result


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sarcoma-xnat prognosis``."""
    p = subparsers.add_parser("prognosis", help="risk scores and survival curves for one session",
                              description="Predict OS and DM risk for one session from its "
                                          "preprocess outputs and clinical fields (needs [fl]).")
    p.add_argument("--model", type=Path,
                   help="model.pt, or a models folder (project resource PROGNOSIS_MODEL as mounted) "
                        "whose current version is used; with --archive, default: the session's "
                        "project's current published model")
    p.add_argument("--version", help="model version in the models folder or project (default: the "
                                     "current one; see 'model list')")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the network runs: auto (a CUDA GPU if torch sees one, else the CPU), "
                        "cpu, or cuda (refused without a GPU)")
    p.add_argument("--input", type=Path, help="session folder (Container Service layout)")
    p.add_argument("--output", type=Path, help="output folder")
    p.add_argument("--clinical", type=Path, help="JSON file with the subject's clinical fields")
    p.add_argument("--archive", help="local archive folder or 'xnat' (instead of --input/--output)")
    p.add_argument("--target", "--session", dest="session",
                   help="session URI (/archive/experiments/ID as XNAT gives it, or "
                        "/archive/projects/P/subjects/S/experiments/E) or XNAT ID")
    p.set_defaults(_run=_cli)


def _cli(args: argparse.Namespace) -> int:
    from sarcoma_xnat.errors import ConfigurationError

    if args.archive:
        from sarcoma_xnat.fl.site import open_archive

        if not args.session:
            raise ConfigurationError("--archive needs --target (the session)")
        from sarcoma_xnat.archive.base import locate

        archive = open_archive(args.archive)
        # The Container Service gives the session as /archive/experiments/{ID}
        # (container-service model/xnat/Session.java); locate() also takes label form.
        session, _ = locate(archive, args.session, "session")
        if session.kind != "session":
            raise ConfigurationError(f"--target {args.session} names a {session.kind}, not a session")
        result = run_on_archive(archive, session, args.model, device=args.device,
                                version=args.version)
        where = f"resource {RESOURCE_LABEL} of {args.session}"
    else:
        if not (args.input and args.output):
            raise ConfigurationError("give --input and --output, or --archive and --target")
        if args.model is None:
            raise ConfigurationError("--input needs --model (a model.pt or a models folder)")
        clinical = json.loads(args.clinical.read_text()) if args.clinical else None
        result = run(args.input, args.output, args.model, clinical, device=args.device,
                     version=args.version)
        where = str(args.output)
    used = result["model"]
    print(f"model: {'version ' + used['version'] if used['version'] else 'unversioned file'} "
          f"(sha256 {used['sha256'][:12]})")
    for name, r in result["endpoints"].items():
        print(f"{name.upper()}: log-hazard {r['log_hazard']:+.3f}, {r['risk_group']} risk, "
              f"S(36 months) {r['survival_at_months']['36']:.2f}")
    print(f"written to {where}")
    return 0

"""``sarcoma-xnat segment run|train|model``: AI tumour drafts, gated training and model versions."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _archive_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--archive", help="local archive folder, or 'xnat' (XNAT_HOST/XNAT_USER/XNAT_PASS "
                   "or ~/.netrc)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``segment run``, ``segment train`` and ``segment model list|use``."""
    p = subparsers.add_parser("segment", help="automatic tumour segmentation (AI drafts for OHIF review)",
                              description="Draft tumour segmentations with a MONAI bundle, train "
                                          "new model versions behind a validation gate, roll back "
                                          "(needs [seg]).")
    sub = p.add_subparsers(dest="segment_command", metavar="ACTION", required=True)
    r = sub.add_parser("run", help="draft the tumour of one session as a DICOM SEG ROI collection")
    _archive_arg(r)
    r.add_argument("--target", "--session", dest="session", help="session URI or XNAT ID (with --archive)")
    r.add_argument("--input", type=Path, help="session folder in the Container Service layout "
                   "(instead of --archive)")
    r.add_argument("--output", type=Path, help="output folder (with --input)")
    r.add_argument("--models", type=Path, help="models folder (project resource SEGMENT_MODELS, "
                   "as mounted); default: the archive project's")
    r.add_argument("--bundle", type=Path, help="one MONAI bundle folder (instead of --models)")
    r.add_argument("--version", help="model version to use (default: the current one)")
    r.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where inference runs")
    r.add_argument("--session-label", help="session label (names the draft; default from --target)")
    r.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    r.set_defaults(_run=run_segment)
    t = sub.add_parser("train", help="train a new model version on the reviewed sessions, behind a gate")
    _archive_arg(t)
    t.add_argument("--project", required=True, help="project whose reviewed/accepted sessions are used")
    t.add_argument("--epochs", type=int, default=40, help="training epochs")
    t.add_argument("--tolerance", type=float, default=0.02,
                   help="largest drop of held-out mean Dice that still accepts the new version")
    t.add_argument("--holdout", type=float, default=0.25, help="fraction of sessions held out for the gate")
    t.add_argument("--from-scratch", action="store_true",
                   help="train a new network instead of fine-tuning the current version")
    t.add_argument("--seed", type=int, default=0, help="random seed")
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where training runs")
    t.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    t.set_defaults(_run=run_train)
    m = sub.add_parser("model", help="list the project's model versions or make one current")
    msub = m.add_subparsers(dest="model_action", metavar="ACTION", required=True)
    ls = msub.add_parser("list", help="every version with its validation figures and decision")
    _archive_arg(ls)
    ls.add_argument("--project", required=True, help="project holding the models")
    ls.set_defaults(_run=run_model_list)
    use = msub.add_parser("use", help="make an earlier accepted version current (rollback)")
    _archive_arg(use)
    use.add_argument("--project", required=True, help="project holding the models")
    use.add_argument("version", help="version to make current")
    use.set_defaults(_run=run_model_use)


def _open(args: argparse.Namespace) -> Any:
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.fl.site import open_archive

    if not args.archive:
        raise ConfigurationError("--archive is required (a local archive folder or 'xnat')")
    return open_archive(args.archive)


def _threads(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(max(1, int(args.threads)))


def run_segment(args: argparse.Namespace) -> int:
    """Run the segment step on a session folder or an archive session."""
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.segmentation.bundle import load_bundle
    from sarcoma_xnat.segmentation.inference import pick_device
    from sarcoma_xnat.segmentation.registry import current_bundle_dir, fetch_models
    from sarcoma_xnat.steps import segment as step

    _threads(args)
    device = pick_device(args.device)
    with tempfile.TemporaryDirectory(prefix="sarcoma-segment-models-") as tmp:
        if args.input is not None or args.output is not None:
            if args.input is None or args.output is None or args.archive:
                raise ConfigurationError("give --input and --output, or --archive and --target")
            if args.bundle is None and args.models is None:
                raise ConfigurationError("--input needs --bundle or --models")
            bundle = load_bundle(args.bundle or current_bundle_dir(args.models, args.version), device)
            result = step.run(args.input, args.output, bundle, device=device,
                              session=args.session_label)
            where = str(args.output)
        else:
            from sarcoma_xnat.archive.base import locate

            archive = _open(args)
            if not args.session:
                raise ConfigurationError("--archive needs --target (a session)")
            session, _ = locate(archive, args.session, "session")
            if session.kind != "session":
                raise ConfigurationError(f"--target {args.session} names a {session.kind}, not a session")
            models = args.models or fetch_models(archive, session.project, Path(tmp) / "models")
            bundle = load_bundle(args.bundle or current_bundle_dir(models, args.version), device)
            result = step.run_on_archive(archive, session, bundle, device=device)
            where = f"{session.uri} (ROI collection {result['collection']}, resource {step.RESOURCE_LABEL})" \
                if result["found"] else f"{session.uri} resource {step.RESOURCE_LABEL}"
    if result["found"]:
        print(f"AI draft (model {result['model_version']}): tumour {result['volume_mm3']:.0f} mm3, "
              f"inference {result['inference_seconds']:.1f} s on {result['device']} -> {where}")
    else:
        print(f"nothing found (model {result['model_version']}): {result['reason']} -> {where}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train a new version on the project's reviewed sessions and gate it."""
    from sarcoma_xnat.segmentation.gate import train_gated
    from sarcoma_xnat.segmentation.inference import pick_device

    _threads(args)
    record = train_gated(_open(args), args.project, args.epochs, args.tolerance, args.holdout,
                         args.from_scratch, args.seed, pick_device(args.device))
    val = record["validation"]
    old = val["current"]["mean_dice"] if val["current"] else None
    print(f"version {record['version']}: {record['decision'].upper()} - {record['reason']}")
    print(f"held-out sessions {len(val['sessions'])}: new mean Dice {val['new']['mean_dice']:.4f}"
          + (f", current {old:.4f}" if old is not None else ""))
    return 0 if record["decision"] == "accepted" else 1


def run_model_list(args: argparse.Namespace) -> int:
    """Print the project's model versions."""
    from sarcoma_xnat.segmentation.registry import fetch_models, read_registry

    with tempfile.TemporaryDirectory(prefix="sarcoma-models-") as tmp:
        registry = read_registry(fetch_models(_open(args), args.project, Path(tmp)))
    if not registry["versions"]:
        print(f"no segmentation models in project {args.project}")
        return 0
    print(f"{'version':<8}{'decision':<10}{'held-out Dice':>14}  current  reason")
    for v in registry["versions"]:
        dice = v.get("validation", {}).get("new", {}) or {}
        mark = "*" if v["version"] == registry["current"] else ""
        print(f"{v['version']:<8}{v.get('decision', ''):<10}{dice.get('mean_dice', float('nan')):>14.4f}"
              f"  {mark:<7}  {v.get('reason', '')}")
    return 0


def run_model_use(args: argparse.Namespace) -> int:
    """Make a version current."""
    from sarcoma_xnat.segmentation.registry import use_version

    registry = use_version(_open(args), args.project, args.version)
    print(json.dumps({"project": args.project, "current": registry["current"]}))
    return 0

"""``sarcoma-xnat model train|evaluate`` and ``sarcoma-xnat prognosis``: the survival model."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

__all__ = ["register"]

#: fewest training subjects (sarcoma_xnat.models.training.fit refuses fewer)
_MIN_TRAIN = 4


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--archive", required=True,
                   help="local archive folder, or 'xnat' (XNAT_HOST/XNAT_USER/XNAT_PASS or ~/.netrc)")
    p.add_argument("--project", required=True, help="project whose curated sessions are used")
    p.add_argument("--resource", default="PREPROCESSED", help="preprocess resource label")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``model`` and ``prognosis`` subcommands."""
    p = subparsers.add_parser("model", help="train or evaluate the multimodal survival model",
                              description="Train or evaluate the clinical + T1/T2 survival model "
                                          "on the curated sessions of one project (needs [fl]).")
    sub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    t = sub.add_parser("train", help="train on a project; hold out a test split and report on it")
    _data_args(t)
    t.add_argument("--output", "--out", dest="out", type=Path, required=True,
                   help="output folder (model.pt, metrics, PNGs): new, empty or a previous output")
    t.add_argument("--mode", choices=("multimodal", "clinical", "image"), default="multimodal", help="which inputs the network uses")
    t.add_argument("--preset", choices=("tiny", "small", "densenet121"), default="tiny",
                   help="image-branch size (tiny/small for CPU; densenet121 needs a GPU)")
    t.add_argument("--image-size", type=int, default=32, help="voxels per axis fed to the network")
    t.add_argument("--clinical-hidden", type=int, default=32,
                   help="hidden width of the clinical MLP (0: linear branch, a Cox-like model)")
    t.add_argument("--epochs", type=int, default=30, help="training epochs per network")
    t.add_argument("--batch-size", type=int, default=32, help="subjects per batch")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    t.add_argument("--blend", action="store_true",
                   help="train with gradient blending (auxiliary clinical/image heads; off by default)")
    t.add_argument("--ensemble", type=int, default=3,
                   help="train this many networks from different seeds and average them")
    t.add_argument("--test-fraction", type=float, default=0.25, help="fraction of subjects held out for the test C-index")
    t.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the CIs")
    t.add_argument("--seed", type=int, default=0, help="random seed of the split and the networks")
    t.add_argument("--missing", choices=("impute", "complete-case"), default="impute",
                   help="missing clinical values: impute from the training subjects (median or "
                        "most frequent level, recorded in the model card) or skip the session")
    t.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    _device_arg(t)
    t.set_defaults(_run=run_train)
    e = sub.add_parser("evaluate", help="evaluate a trained model on all curated sessions of a project")
    _data_args(e)
    e.add_argument("--model", type=Path, required=True, help="model.pt written by 'model train'")
    e.add_argument("--output", "--out", dest="out", type=Path, required=True,
                   help="output folder (metrics.json, PNGs): new, empty or a previous output")
    e.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the CIs")
    e.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    e.set_defaults(_run=run_evaluate)
    from sarcoma_xnat.commands.model_versions import register_versions

    register_versions(sub)
    try:
        from sarcoma_xnat.steps import prognosis
    except ModuleNotFoundError:  # pragma: no cover - step not installed
        return
    prognosis.register_cli(subparsers)


def _device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the network runs: auto (a CUDA GPU if torch sees one, else the CPU), "
                        "cpu, or cuda (refused without a GPU; densenet121 at 128^3 needs one)")


def _print_report(report: dict) -> None:
    print(f"{'endpoint':<9}{'events':>7}  {'Harrell C (95% CI)':<24}{'Uno C (95% CI)':<24}")
    for name, r in report["endpoints"].items():
        h, u = r["harrell_c"], r["uno_c"]
        print(f"{name.upper():<9}{r['events']:>7}  "
              f"{h['value']:.3f} ({h['ci_lower']:.3f}-{h['ci_upper']:.3f})     "
              f"{u['value']:.3f} ({u['ci_lower']:.3f}-{u['ci_upper']:.3f})")


def _check_paths(args: argparse.Namespace) -> None:
    """Check --archive and --output before the cohort is loaded (minutes of work); create nothing."""
    from sarcoma_xnat.paths import check_archive, check_output_folder

    archive = None if args.archive == "xnat" else check_archive(args.archive, "--archive")
    check_output_folder(args.out, "--output", {"--archive": archive})


def _claim_output(args: argparse.Namespace) -> None:
    """Create the output folder, marked as the suite's own, once there is something to write."""
    from sarcoma_xnat.paths import mark_own_folder

    mark_own_folder(args.out, "model")


def run_train(args: argparse.Namespace) -> int:
    """Train, save ``model.pt`` and write the held-out evaluation."""
    import torch

    from sarcoma_xnat.fl.checkpoint import save_checkpoint
    from sarcoma_xnat.fl.cohort_rules import cohort_rules, write_exclusions
    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.fl.model_card import cohort_summary, write_model_card
    from sarcoma_xnat.fl.site import open_archive
    from sarcoma_xnat.fl.workflow import evaluate_model, split_indices, train_model
    from sarcoma_xnat.models.training import TrainConfig
    from sarcoma_xnat.steps.base import write_provenance

    started = time.time()
    _check_paths(args)
    if args.mode != "clinical" and args.image_size < 32:
        from sarcoma_xnat.errors import ConfigurationError

        raise ConfigurationError(f"--image-size must be at least 32 for the DenseNet, got {args.image_size}")
    from sarcoma_xnat.models.device import describe_device, resolve_device

    device = resolve_device(args.device)  # before minutes of loading: cuda without a GPU fails here
    torch.set_num_threads(args.threads)
    print(f"device: {describe_device(device)}")
    import numpy as np

    from sarcoma_xnat.models.missing import apply_missing_policy

    cohort = load_cohort(open_archive(args.archive), args.project, args.resource,
                         image_size=None if args.mode == "clinical" else args.image_size,
                         missing=args.missing)
    subjects = np.asarray(cohort.subjects)  # split and bootstrap by subject
    train_idx, test_idx = split_indices(cohort.data.os_event, args.test_fraction, args.seed, subjects)
    if len(train_idx) < _MIN_TRAIN:
        from sarcoma_xnat.errors import ConfigurationError

        raise ConfigurationError(
            f"project {args.project} has {len(cohort.sessions)} usable session(s) "
            f"({len(cohort.skipped)} skipped); --test-fraction {args.test_fraction} holds out "
            f"{len(test_idx)} for testing, leaving {len(train_idx)} to train on, and training "
            f"needs at least {_MIN_TRAIN}: add subjects or lower --test-fraction")
    missing = apply_missing_policy(cohort, args.missing, train_idx,
                                   {"train": train_idx, "test": test_idx})
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         blend=args.blend, seed=args.seed)
    trained = train_model(cohort.data.subset(train_idx), args.preset, args.mode, config,
                          args.image_size, args.clinical_hidden, ensemble=args.ensemble,
                          device=device)
    # no session labels: the file goes to every site
    trained.meta.update(project=args.project, missing_values=missing, cohort_rules=cohort_rules(cohort))
    from sarcoma_xnat.fl.compatibility import distinct_signatures

    trained.meta["preprocessing"] = distinct_signatures(cohort.preprocessing)  # checked at load
    _claim_output(args)
    save_checkpoint(args.out / "model.pt", trained.model, trained.meta)
    report = evaluate_model(trained, cohort.data.subset(test_idx), args.out, args.bootstrap,
                            seed=args.seed, groups=subjects[test_idx])
    grid = trained.meta["aggregation"]["grid_months"]
    write_model_card(args.out / "model.pt", trained.meta, {
        "project": args.project, "skipped_sessions": len(cohort.skipped),
        "train": cohort_summary(cohort.data.subset(train_idx), grid),
        "test": cohort_summary(cohort.data.subset(test_idx), grid),
        "split": f"by subject, stratified by OS event, test fraction {args.test_fraction}, "
                 f"seed {args.seed}; bootstrap resamples subjects"},
        report)
    (args.out / "skipped.json").write_text(json.dumps(cohort.skipped, indent=2) + "\n")
    write_exclusions(args.out, cohort)
    params = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
              if not k.startswith("_")}
    write_provenance(args.out, "model-train", "1", params,
                     {"project": args.project, "sessions": cohort.sessions}, started)
    print(f"trained {args.mode} model on {len(train_idx)} sessions, tested on {len(test_idx)} "
          f"({len(cohort.skipped)} skipped, {len(cohort.excluded)} excluded by QC, "
          f"{len(cohort.follow_ups)} follow-up sessions not used); written to {args.out}")
    _print_report(report)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate ``model.pt`` on a project and write metrics and PNGs."""
    import torch

    from sarcoma_xnat.fl.checkpoint import load_checkpoint
    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.fl.site import open_archive
    from sarcoma_xnat.fl.workflow import TrainedModel, evaluate_model

    _check_paths(args)
    torch.set_num_threads(args.threads)
    model, meta = load_checkpoint(args.model)
    from sarcoma_xnat.fl.compatibility import check_model_fits, distinct_signatures

    check_model_fits(meta, getattr(model, "n_clinical", None), where=f"model {args.model.name}")
    import numpy as np

    from sarcoma_xnat.models.missing import apply_missing_policy

    fill = (meta.get("missing_values") or {}).get("fill")  # the model's training imputation
    strategy = "impute" if fill else "complete-case"
    cohort = load_cohort(open_archive(args.archive), args.project, args.resource,
                         image_size=None if meta["mode"] == "clinical" else meta["image_size"],
                         missing=strategy)
    apply_missing_policy(cohort, strategy, np.arange(len(cohort.sessions)), fill=fill)
    for signature in distinct_signatures(cohort.preprocessing):
        check_model_fits(meta, data=signature, where=f"model {args.model.name}")
    _claim_output(args)
    report = evaluate_model(TrainedModel(model, meta), cohort.data, args.out, args.bootstrap,
                            groups=np.asarray(cohort.subjects))
    (args.out / "skipped.json").write_text(json.dumps(cohort.skipped, indent=2) + "\n")
    print(f"evaluated on {len(cohort.sessions)} sessions ({len(cohort.skipped)} skipped); "
          f"written to {args.out}")
    _print_report(report)
    return 0

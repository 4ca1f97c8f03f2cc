"""``sarcoma-xnat demo``: run the whole pipeline on a synthetic cohort in a local archive."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo", help="run every pipeline step on a synthetic cohort in a local archive",
        description="Create (or reuse) a demo folder, synthesize a small hospital cohort, "
                    "de-identify it into a study archive, run the pipeline and print a summary.")
    p.add_argument("--output", "--folder", dest="folder", type=Path, default=Path("sarcoma-demo"),
                   help="demo folder: new, empty or a previous demo folder "
                        "(default ./sarcoma-demo)")
    p.add_argument("--subjects", type=int, default=3, help="number of subjects (default 3)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--preset", choices=("standard", "small"), default="standard",
                   help="image size of the synthetic series (default standard)")
    p.add_argument("--engine", choices=("auto", "docker", "inprocess"), default="auto",
                   help="run steps as container images (docker), in-process, or whichever "
                        "is available (auto, the default)")
    p.add_argument("--segment", action="store_true",
                   help="after preprocessing, train the phantom segmentation model on the archive's "
                        "annotations, draft an AI segmentation for every session and print the "
                        "review worklist (needs the [seg] extra: torch and monai)")
    p.add_argument("--segment-epochs", type=int, default=40,
                   help="training epochs of the phantom model with --segment (default 40)")
    p.set_defaults(_run=run)


def _need_seg_extra() -> None:
    """Fail before the demo starts when torch or monai is missing, with the CLI's missing-extra message."""
    import importlib.util

    from sarcoma_xnat.errors import ConfigurationError

    for name in ("torch", "monai"):
        if importlib.util.find_spec(name) is None:
            raise ConfigurationError(f"this command needs the optional package {name!r}: install it "
                                     f"with pip install 'sarcoma-xnat[seg]'")


def run(args: argparse.Namespace) -> int:
    """Run the demo and print its summary table."""
    from sarcoma_xnat.demo import format_summary, run_demo
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.paths import check_output_folder, is_archive, is_own_folder, mark_own_folder

    if args.subjects < 1:
        raise ConfigurationError(f"--subjects must be at least 1, got {args.subjects}")
    if args.segment:
        if args.segment_epochs < 1:
            raise ConfigurationError(f"--segment-epochs must be at least 1, got {args.segment_epochs}")
        _need_seg_extra()
    folder = check_output_folder(args.folder, "--folder", own=lambda f: is_own_folder(f) or any(
        is_archive(f / name) for name in ("hospital", "archive")))
    mark_own_folder(folder, "demo")
    result = run_demo(folder, subjects=args.subjects, seed=args.seed, preset=args.preset,
                      engine=args.engine, segment=args.segment,
                      segment_epochs=args.segment_epochs)
    print(format_summary(result))
    return 0

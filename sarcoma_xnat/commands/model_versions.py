"""``sarcoma-xnat model publish|use|list``: a project's prognosis model versions, each with its card."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["register_versions"]


def _where(p: argparse.ArgumentParser) -> None:
    p.add_argument("--archive", required=True,
                   help="local archive folder, or 'xnat' for the XNAT of XNAT_HOST/XNAT_USER/"
                        "XNAT_PASS or ~/.netrc")
    p.add_argument("--project", required=True, help="project whose PROGNOSIS_MODEL resource holds the versions")


def register_versions(sub: argparse._SubParsersAction) -> None:
    """Add ``model publish``, ``model use`` and ``model list`` to the ``model`` subcommands."""
    pub = sub.add_parser("publish", help="upload model.pt and its model card as the project's next "
                                         "model version (made current)",
                         description="Upload a model.pt with its model card (model_card.json/.md/"
                                     ".html beside it, as 'model train' and 'fl export' write "
                                     "them) as a new version of the project resource "
                                     "PROGNOSIS_MODEL; 'prognosis' uses the current version.")
    _where(pub)
    pub.add_argument("--model", type=Path, required=True, help="model.pt to publish (its card beside it)")
    pub.add_argument("--keep-current", action="store_true",
                     help="publish without making the new version current")
    pub.add_argument("--note", default="", help="a note kept with the version in registry.json")
    pub.set_defaults(_run=run_publish)
    use = sub.add_parser("use", help="make a published version current (rollback or forward); "
                                     "every version is kept")
    _where(use)
    use.add_argument("version", help="version to make current (see 'model list')")
    use.set_defaults(_run=run_use)
    ls = sub.add_parser("list", help="the project's published model versions, the current one marked")
    _where(ls)
    ls.set_defaults(_run=run_list)


def _open(args: argparse.Namespace) -> Any:
    from sarcoma_xnat.fl.site import open_archive

    return open_archive(args.archive)


def run_publish(args: argparse.Namespace) -> int:
    """Publish a model as the next version."""
    from sarcoma_xnat.fl.registry import publish_model

    registry = publish_model(_open(args), args.project, args.model,
                             make_current=not args.keep_current, note=args.note)
    new = registry["versions"][-1]
    state = "current" if registry["current"] == new["version"] else \
        f"not current (current: {registry['current'] or 'none'})"
    print(f"published {args.model.name} as version {new['version']} of project {args.project} "
          f"(sha256 {new['sha256'][:12]}, {state})")
    return 0


def run_use(args: argparse.Namespace) -> int:
    """Make a version current."""
    from sarcoma_xnat.fl.registry import use_model

    registry = use_model(_open(args), args.project, args.version)
    previous = registry["history"][-1].get("previous")
    print(f"project {args.project}: current prognosis model is version {registry['current']} "
          f"(was {previous or 'none'})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the project's versions."""
    from sarcoma_xnat.fl.registry import fetch_models, read_registry

    with tempfile.TemporaryDirectory(prefix="sarcoma-models-") as tmp:
        registry = read_registry(fetch_models(_open(args), args.project, Path(tmp)))
    if not registry["versions"]:
        print(f"no prognosis models published in project {args.project}")
        return 0
    print(f"{'version':<8} {'current':<8} {'published':<26} {'mode':<11} {'sha256':<13} "
          f"{'test OS Harrell C':<18} note")
    for v in registry["versions"]:
        c = v.get("test_os_harrell_c")
        score = f"{c['value']:.3f}" if isinstance(c, dict) else "-"
        mark = "*" if v["version"] == registry["current"] else ""
        print(f"{v['version']:<8} {mark:<8} {v.get('published', ''):<26} {str(v.get('mode')):<11} "
              f"{v.get('sha256', '')[:12]:<13} {score:<18} {v.get('note', '')}")
    return 0

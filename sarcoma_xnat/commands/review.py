"""``sarcoma-xnat review status|accept|reject``: the review worklist, "accept as is" and QC rejection."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

__all__ = ["format_worklist", "register"]

_COLUMNS = ("subject", "session", "state", "draft", "model_version", "reviewed_collection", "dice",
            "hd95_mm", "volume_difference_mm3", "accepted_at", "rejected_at")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``review status`` and ``review accept``."""
    p = subparsers.add_parser("review", help="segmentation review: worklist and accepting AI drafts",
                              description="Which sessions have no annotation, an AI draft awaiting "
                                          "review, a reviewed annotation (with Dice against the "
                                          "draft) or an accepted draft.")
    sub = p.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    s = sub.add_parser("status", help="the worklist of a project")
    s.add_argument("--archive", required=True, help="local archive folder, or 'xnat'")
    s.add_argument("--project", required=True, help="project to list")
    s.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    s.add_argument("--no-metrics", action="store_true",
                   help="skip Dice/HD95 (faster: no image is read)")
    s.set_defaults(_run=run_status)
    a = sub.add_parser("accept", help="accept a session's AI draft as is")
    a.add_argument("--archive", required=True, help="local archive folder, or 'xnat'")
    a.add_argument("--target", "--session", dest="session", required=True, help="session URI or XNAT ID")
    a.set_defaults(_run=run_accept)
    r = sub.add_parser("reject", help="fail a session at QC sign-off: model training leaves it out",
                       description="Record that a reviewer failed the session at QC (images or "
                                   "mask not fit for use). `model train` then leaves the session "
                                   "out and lists it in excluded.json; --undo removes the record.")
    r.add_argument("--archive", required=True, help="local archive folder, or 'xnat'")
    r.add_argument("--target", "--session", dest="session", required=True, help="session URI or XNAT ID")
    r.add_argument("--undo", action="store_true", help="remove the session's QC rejection")
    r.set_defaults(_run=run_reject)


def format_worklist(rows: list[dict[str, Any]]) -> str:
    """Return worklist rows (:meth:`SessionReview.row`) as the ``review status`` table."""
    # at least one space after the longest value: session labels can be longer than the minimum
    w = {key: max([least] + [len(str(r[key] or "")) + 1 for r in rows])
         for key, least in (("session", 22), ("state", 15), ("draft", 28), ("reviewed_collection", 26))}
    lines = [f"{'session':<{w['session']}}{'state':<{w['state']}}{'draft':<{w['draft']}}"
             f"{'reviewed':<{w['reviewed_collection']}}{'Dice':>7}{'HD95 mm':>9}"]
    for r in rows:
        dice = f"{r['dice']:.3f}" if r["dice"] is not None else ""
        hd = f"{r['hd95_mm']:.1f}" if r["hd95_mm"] is not None else ""
        lines.append(f"{r['session']:<{w['session']}}{r['state']:<{w['state']}}"
                     f"{r['draft'] or '':<{w['draft']}}"
                     f"{r['reviewed_collection'] or '':<{w['reviewed_collection']}}{dice:>7}{hd:>9}")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    lines.append(", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no sessions")
    return "\n".join(lines)


def run_status(args: argparse.Namespace) -> int:
    """Print the worklist."""
    from sarcoma_xnat.fl.site import open_archive
    from sarcoma_xnat.segmentation.review import worklist

    rows = [r.row() for r in worklist(open_archive(args.archive), args.project, not args.no_metrics)]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(format_worklist(rows))
    return 0


def run_accept(args: argparse.Namespace) -> int:
    """Accept one session's draft."""
    from sarcoma_xnat.archive.base import locate
    from sarcoma_xnat.fl.site import open_archive
    from sarcoma_xnat.segmentation.review import accept_draft

    archive = open_archive(args.archive)
    session, _ = locate(archive, args.session, "session")
    review = accept_draft(archive, session)
    print(f"{session.session}: draft {review.draft} accepted as is ({review.accepted_at})")
    return 0


def run_reject(args: argparse.Namespace) -> int:
    """Record (or undo) one session's QC rejection."""
    from sarcoma_xnat.archive.base import locate
    from sarcoma_xnat.fl.site import open_archive
    from sarcoma_xnat.segmentation.review import reject_session

    archive = open_archive(args.archive)
    session, _ = locate(archive, args.session, "session")
    review = reject_session(archive, session, undo=args.undo)
    print(f"{session.session}: {review.state}" + (f" ({review.rejected_at})" if review.rejected_at else ""))
    return 0

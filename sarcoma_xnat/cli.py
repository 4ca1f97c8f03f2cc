"""``sarcoma-xnat <command>``: parse the command line and delegate, nothing else.

Subcommands live in :mod:`sarcoma_xnat.commands`; each module there exposes
``register(subparsers)``. To add commands, add the module to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from sarcoma_xnat import __version__
from sarcoma_xnat.errors import SarcomaXnatError

__all__ = ["COMMANDS", "EXIT_ERROR", "build_parser", "main"]

#: modules that register subcommands, in the order they are listed in ``--help``
COMMANDS: tuple[str, ...] = (
    "sarcoma_xnat.commands.demo",
    "sarcoma_xnat.commands.synth",
    "sarcoma_xnat.commands.preprocess",
    "sarcoma_xnat.commands.deid",
    "sarcoma_xnat.commands.ingest",
    "sarcoma_xnat.commands.containers",
    "sarcoma_xnat.commands.xnat",
    "sarcoma_xnat.commands.model",
    "sarcoma_xnat.commands.fl",
)

#: exit status for errors the user can fix (bad input, bad configuration)
EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="sarcoma-xnat",
        description="XNAT container plugin suite for a multi-site soft-tissue-sarcoma AI study.",
    )
    parser.add_argument("--version", action="version", version=f"sarcoma-xnat {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # a command not built yet; anything else is a real error
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sarcoma-xnat`` and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose >= 2 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("sarcoma_xnat").setLevel(logging.DEBUG if args.verbose >= 2 else logging.INFO)
    try:
        return int(args._run(args) or 0)
    except SarcomaXnatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``sarcoma-xnat <command>``: parse the command line and delegate, nothing else.

Subcommands live in :mod:`sarcoma_xnat.commands`; each module there exposes
``register(subparsers)``. To add commands, add the module to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from sarcoma_xnat import __version__
from sarcoma_xnat.errors import SarcomaXnatError

__all__ = ["COMMANDS", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_SKIPPED", "build_parser",
           "main"]

#: modules that register subcommands, in the order they are listed in ``--help``
COMMANDS: tuple[str, ...] = (
    "sarcoma_xnat.commands.demo",
    "sarcoma_xnat.commands.synth",
    "sarcoma_xnat.commands.preprocess",
    "sarcoma_xnat.commands.radiomics",
    "sarcoma_xnat.commands.deid",
    "sarcoma_xnat.commands.ingest",
    "sarcoma_xnat.commands.containers",
    "sarcoma_xnat.commands.xnat",
    "sarcoma_xnat.commands.model",
    "sarcoma_xnat.commands.segment",
    "sarcoma_xnat.commands.review",
    "sarcoma_xnat.commands.clinical",
    "sarcoma_xnat.commands.export",
    "sarcoma_xnat.commands.fl",
)

#: exit statuses, the same for every subcommand (documented in the README):
#: finished with everything done
EXIT_OK = 0
#: finished, but some items were skipped or failed (listed on stderr and in the report)
EXIT_SKIPPED = 1
#: nothing or not everything was done because of an error the user can fix (bad input,
#: bad configuration, an output that cannot be written, a missing optional extra)
EXIT_ERROR = 2
#: interrupted (Ctrl-C); outputs are left as they were before the run
EXIT_INTERRUPTED = 130

#: optional extras and the modules that need them, for the "missing extra" message
_EXTRAS = {"torch": "fl", "monai": "fl", "nvflare": "fl", "sksurv": "fl", "lifelines": "fl",
           "matplotlib": "seg", "pandas": "fl", "radiomics": "radiomics", "xnat": "dev",
           "redcap": "redcap"}


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="sarcoma-xnat",
        description="XNAT container plugin suite for a multi-site soft-tissue-sarcoma AI study.",
    )
    parser.add_argument("--version", action="version", version=f"sarcoma-xnat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # a command not built yet; anything else is a real error
                continue
            raise
        module.register(sub)
    from sarcoma_xnat.commands.conventions import apply_conventions

    return apply_conventions(parser)


def _where(filename: object, args: argparse.Namespace) -> str:
    """Return `` (path)`` for an OS error; a path inside an input folder becomes a hash.

    Input folders (hospital exports) may have patient names in their file names.
    """
    if not filename:
        return ""
    path = os.path.abspath(str(filename))
    for name in ("input", "source"):
        value = getattr(args, name, None)
        if value and os.path.commonpath([path, os.path.abspath(str(value))]) == \
                os.path.abspath(str(value)):
            digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:10]
            return f" (a file in the {name} folder, #{digest})"
    return f" ({path})"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sarcoma-xnat`` and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from sarcoma_xnat.commands.conventions import log_level

    level = log_level(args)  # -qq … -vv
    logging.basicConfig(level={2: logging.DEBUG, 1: logging.INFO}.get(min(level, 2), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ours = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO, 1: logging.INFO}
    logging.getLogger("sarcoma_xnat").setLevel(ours.get(max(-2, min(level, 2)), logging.DEBUG))
    try:
        return int(args._run(args) or 0)
    except SarcomaXnatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in _EXTRAS:
            raise
        print(f"error: this command needs the optional package {top!r}: install it with "
              f"pip install 'sarcoma-xnat[{_EXTRAS[top]}]'", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # disk full, read-only, no permission: not a bug of the suite
        print(f"error: {exc.strerror or exc}{_where(exc.filename, args)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""What every subcommand's command line has in common: -v/-q, defaults in the help, examples.

:func:`apply_conventions` walks the finished parser, so the command modules only
declare their own options. Every subcommand then accepts ``-v``/``-q`` after its
name, every option's help says its default, and every ``--help`` ends with one or
two examples from :data:`EXAMPLES`.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Iterator

__all__ = ["EXAMPLES", "HIDDEN_ALIASES", "apply_conventions", "log_level", "subparsers"]

#: old flag names still accepted after the canonical one (``--output``, ``--target``), not shown
HIDDEN_ALIASES = frozenset({"--out", "--folder", "--workspace", "--session"})

#: one or two example command lines per subcommand (its words after ``sarcoma-xnat``)
EXAMPLES: dict[str, tuple[str, ...]] = {
    "demo": ("demo", "demo --output ./sarcoma-demo --subjects 3 --engine inprocess --segment"),
    "synth": ("synth --subjects 10 --seed 1 --output ./hospital",),
    "preprocess": ("preprocess --input SESSION_MOUNT --output ./preprocessed",
                   "preprocess --archive ./archive --target /archive/projects/P/subjects/S/experiments/E"),
    "n4": ("n4 t1.nii.gz t1_n4.nii.gz",),
    "zscore": ("zscore t1_n4.nii.gz t1_z.nii.gz --mask body.nii.gz",),
    "resample": ("resample t2.nii.gz t2_on_t1.nii.gz --reference t1.nii.gz",),
    "roi-mask": ("roi-mask seg.dcm mask.nii.gz --series ./SCANS/1/DICOM",),
    "radiomics": ("radiomics --archive ./archive --target /archive/projects/P/subjects/S/experiments/E",
                  "radiomics --input SESSION_MOUNT --output ./radiomics --send-to pacs.local:104 "
                  "--called-ae PACS"),
    "export": ("export --archive ./archive --project SARC01 --output ./sarc01-dataset",
               "export --archive ./archive --project SARC01 --output ./dataset --formats nifti "
               "--creator 'Sarcoma Imaging Consortium'"),
    "deid": ("deid run --input ./export --output ./deid --secret-file /etc/sarcoma/site.key",),
    "deid run": ("deid run --input ./export --output ./deid --secret-file /etc/sarcoma/site.key",
                 "SARCOMA_XNAT_SITE_SECRET=… deid run --input ./export --output ./deid --prefix SXN"),
    "deid check": ("deid check ./export ./deid",),
    "deid import": ("deid import --input /input --project SARC01_STUDY --secret-file /run/secrets/site.key",),
    "deid verify": ("deid verify --secret-file site.key --patient-id 12345678",
                    "deid verify --pseudonym SXNC0376JDDK8 --linkage linkage.jsonl"),
    "ingest": ("ingest folder ./export --archive ./archive --project SARC01 --secret-file site.key",),
    "ingest folder": ("ingest folder ./export --archive ./archive --project SARC01 --secret-file site.key",),
    "ingest pacs": ("ingest pacs --host pacs.local --port 104 --called-ae PACS --patient-id 12345678 "
                    "--archive ./archive --project SARC01 --secret-file site.key",),
    "images": ("images build --debian-base",),
    "images build": ("images build", "images build --debian-base preprocess"),
    "images push": ("images push --registry 111122223333.dkr.ecr.eu-west-2.amazonaws.com",
                    "images push --registry localhost:5000 preprocess deid"),
    "run": ("run --command preprocess --wrapper sarcoma-preprocess-session --archive ./archive "
            "--target /archive/projects/P/subjects/S/experiments/E",),
    "command": ("command validate",),
    "command validate": ("command validate", "command validate xnat-commands/preprocess.json"),
    "command label": ("command label xnat-commands/preprocess.json",),
    "engine": ("engine start", "engine status"),
    "xnat": ("xnat whoami --host https://xnat.example.org --user admin",),
    "xnat install": ("XNAT_PASS=… xnat install --host https://xnat.example.org --user admin --project SARC01",
                     "xnat install --project SARC01 --dry-run"),
    "xnat whoami": ("xnat whoami --host https://xnat.example.org --user admin",),
    "xnat subscriptions": ("xnat subscriptions --host https://xnat.example.org --user admin",),
    "xnat launch": ("xnat launch --project SARC01 --wrapper sarcoma-preprocess-session --missing",),
    "model": ("model train --archive ./archive --project SARCOMA --output model.pt",),
    "model train": ("model train --archive ./archive --project SARCOMA --output model.pt",
                    "model train --archive ./archive --project SARCOMA --ensemble 1 --epochs 10",
                    "model train --archive ./archive --project SARCOMA --preset densenet121 "
                    "--image-size 128 --device cuda"),
    "model evaluate": ("model evaluate --archive ./archive --project SARCOMA --model model.pt",),
    "model publish": ("model publish --archive xnat --project SARCOMA --model ./train/model.pt",
                      "model publish --archive ./archive --project SARCOMA --model ./fl/model.pt "
                      "--keep-current --note 'federated, 5 rounds'"),
    "model use": ("model use --archive xnat --project SARCOMA 2",),
    "model list": ("model list --archive xnat --project SARCOMA",),
    "prognosis": ("prognosis --archive ./archive --target /archive/projects/P/subjects/S/experiments/E "
                  "--model model.pt",
                  "prognosis --input ./session --output ./prognosis --clinical clinical.json "
                  "--model model.pt --device cpu",
                  "prognosis --archive xnat --target /archive/experiments/XNAT_E00001 --version 2"),
    "segment": ("segment run --archive ./archive --target /archive/projects/P/subjects/S/experiments/E",),
    "segment run": ("segment run --archive ./archive --target /archive/projects/P/subjects/S/experiments/E",
                    "segment run --input SESSION_MOUNT --output ./draft --models /model --device cpu"),
    "segment train": ("segment train --archive ./archive --project SARC01 --from-scratch",
                      "segment train --archive ./archive --project SARC01 --epochs 10 --tolerance 0.02"),
    "segment model": ("segment model list --archive ./archive --project SARC01",),
    "segment model list": ("segment model list --archive ./archive --project SARC01",),
    "segment model use": ("segment model use --archive ./archive --project SARC01 1",),
    "review": ("review status --archive ./archive --project SARC01",),
    "review status": ("review status --archive ./archive --project SARC01",
                      "review status --archive xnat --project SARC01 --format csv"),
    "review accept": ("review accept --archive ./archive --target /archive/projects/P/subjects/S/experiments/E",),
    "review reject": ("review reject --archive xnat --target /archive/experiments/XNAT_E00001",
                      "review reject --archive xnat --target /archive/experiments/XNAT_E00001 --undo"),
    "clinical": ("clinical import --project SARC01 --csv clinical.csv --secret-file site.key",),
    "clinical import": ("clinical import --project SARC01 --csv clinical.csv --secret-file site.key",
                        "REDCAP_API_TOKEN=… clinical import --project SARC01 --archive ./archive "
                        "--redcap https://redcap.example.org/api/ --secret-file site.key --dry-run"),
    "clinical export": ("clinical export --project SARC01 --output clinical.csv",
                        "clinical export --archive ./archive --project SARC01"),
    "clinical dictionary": ("clinical dictionary --output ./redcap-setup",),
    "clinical send-measurements": ("REDCAP_API_TOKEN=… clinical send-measurements --archive ./archive "
                                   "--project SARC01 --redcap https://redcap.example.org/api/ --dry-run",
                                   "clinical send-measurements --project SARC01 --redcap "
                                   "https://redcap.example.org/api/ --redcap-token-file redcap.token"),
    "fl": ("fl simulate --synthetic 3 --rounds 2",),
    "fl simulate": ("fl simulate --synthetic 3 --rounds 2 --output ./fl-sim",
                    "fl simulate --synthetic 3 --rounds 4 --output ./fl-sim --initial-model model.pt"),
    "fl poc": ("fl poc --synthetic 3 --rounds 2 --output ./fl-poc",),
    "fl provision": ("fl provision --server fl.example.org --sites site-1 site-2 --output ./kits",),
    "fl client": ("fl client --kit ./site-1 --site site-1 --project SARC01",
                  "fl client --kit ./site-1 --site site-1 --project SARC01 --check",
                  "fl client --kit ./site-1 --site site-1 --project SARC01 --device cuda"),
    "fl server": ("fl server --kit ./server --archive ./validation --project SARCOMA",),
    "fl submit": ("fl submit --kit ./lead@coordinating-centre.org --clients 2 --rounds 5",
                  "fl submit --kit ./lead@coordinating-centre.org --clients 2 --rounds 5 "
                  "--initial-model ./previous/model.pt"),
    "fl status": ("fl status --kit ./lead@coordinating-centre.org --job JOB_ID",),
    "fl export": ("fl export --kit ./lead@coordinating-centre.org --job JOB_ID "
                  "--server-data ./validation:SARCOMA --output model.pt",),
}


class _Formatter(argparse.HelpFormatter):
    """Help formatter that keeps the examples' line breaks and hides the old flag names."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        head, sep, examples = text.partition("examples:\n")
        filled = super()._fill_text(head, width, indent) if head.strip() else ""
        return filled + ("\n\n" if filled and sep else "") + (sep + examples if sep else "")

    def _format_action_invocation(self, action: argparse.Action) -> str:
        shown = [s for i, s in enumerate(action.option_strings) if i == 0 or s not in HIDDEN_ALIASES]
        if len(shown) != len(action.option_strings):
            action = copy.copy(action)
            action.option_strings = shown
        return super()._format_action_invocation(action)


def subparsers(parser: argparse.ArgumentParser,
               path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Yield ``(words, parser)`` for every subcommand below ``parser``, depth first."""
    for action in parser._actions:  # argparse keeps no public list of subparsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from subparsers(sub, (*path, name))


def _add_verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    known = {s for a in parser._actions for s in a.option_strings}
    if "-v" not in known:
        parser.add_argument("-v", "--verbose", action="count", default=default,
                            help="more log output: -v progress and notes, -vv debug and every HTTP request")
    if "-q" not in known:
        parser.add_argument("-q", "--quiet", action="count", default=default,
                            help="less log output: -q warnings and errors only, -qq errors only")


def _say_defaults(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if not action.option_strings or action.help in (None, argparse.SUPPRESS):
            continue
        if action.default in (None, argparse.SUPPRESS, False, [], ()) or "%(default)" in action.help:
            continue
        if "default" in action.help.lower():
            continue  # the help already says it in words
        action.help += " (default: %(default)s)"


def _command_line(example: str) -> str:
    """Return an example as typed: environment assignments first, then ``sarcoma-xnat``."""
    words = example.split(" ")
    env = [w for w in words[:2] if "=" in w and not w.startswith("-")]
    return " ".join([*env, "sarcoma-xnat", *words[len(env):]])


def apply_conventions(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give every subcommand -v/-q, defaults in its help and examples at the end of --help."""
    _add_verbosity(parser, 0)
    _say_defaults(parser)
    for words, sub in subparsers(parser):
        _add_verbosity(sub, argparse.SUPPRESS)  # after the name; the top-level value stays
        _say_defaults(sub)
        sub.formatter_class = _Formatter
        examples = EXAMPLES.get(" ".join(words))
        if examples:
            lines = "\n".join(f"  {_command_line(e)}" for e in examples)
            sub.epilog = ((sub.epilog + "\n\n") if sub.epilog else "") + "examples:\n" + lines
    return parser


def log_level(args: argparse.Namespace) -> int:
    """Return the verbosity asked for: negative for -q, positive for -v, 0 by default."""
    return int(getattr(args, "verbose", 0) or 0) - int(getattr(args, "quiet", 0) or 0)

"""Every subcommand: help text on every option, examples at the end of --help, -v/-q after its name."""

from __future__ import annotations

import argparse
import logging

import pytest

from sarcoma_xnat.cli import build_parser, main
from sarcoma_xnat.commands.conventions import EXAMPLES, subparsers

PARSER = build_parser()
LEAVES = [(words, sub) for words, sub in subparsers(PARSER)
          if not any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)]


def test_every_subcommand_is_covered() -> None:
    assert len(LEAVES) >= 25
    missing = [" ".join(w) for w, _ in LEAVES if " ".join(w) not in EXAMPLES]
    assert not missing, f"subcommands without examples: {missing}"


@pytest.mark.parametrize("words,sub", LEAVES, ids=[" ".join(w) for w, _ in LEAVES])
def test_help_has_option_help_and_examples(words: tuple[str, ...], sub: argparse.ArgumentParser) -> None:
    for action in sub._actions:
        if action.help == argparse.SUPPRESS:
            continue  # hidden aliases of the canonical flag names
        assert action.help, f"{' '.join(words)}: {action.option_strings or action.dest} has no help"
    text = sub.format_help()
    assert "examples:\n  " in text
    examples = text.split("examples:\n", 1)[1]
    assert f"sarcoma-xnat {words[0]}" in examples
    assert "-v, --verbose" in text and "-q, --quiet" in text


def test_defaults_are_shown() -> None:
    text = " ".join(dict(subparsers(PARSER))[("model", "train")].format_help().split())
    assert "training epochs per network (default: 30)" in text
    for words, sub in LEAVES:
        for action in sub._actions:
            if (action.option_strings and action.help not in (None, argparse.SUPPRESS)
                    and action.default not in (None, False, argparse.SUPPRESS, [], ())):
                assert "default" in action.help.lower(), f"{' '.join(words)} {action.option_strings}"


def test_old_flag_names_still_work_but_are_not_shown() -> None:
    args = PARSER.parse_args(["synth", "--out", "/tmp/x"])
    assert str(args.out) == "/tmp/x"
    args = PARSER.parse_args(["synth", "--output", "/tmp/y"])
    assert str(args.out) == "/tmp/y"
    help_text = dict(subparsers(PARSER))[("synth",)].format_help()
    assert "--output" in help_text and "--out " not in help_text and "--out," not in help_text


@pytest.mark.parametrize("flag,level", [("-q", logging.WARNING), ("-qq", logging.ERROR),
                                        ("-vv", logging.DEBUG)])
def test_verbosity_after_the_subcommand(flag: str, level: int, capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("sarcoma_xnat")
    before = logger.level
    try:
        assert main(["command", "validate", flag]) == 0
        assert logger.level == level
    finally:
        logger.setLevel(before)


def test_missing_credentials_message_names_options_that_exist(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path) -> None:
    import re

    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.xnat.auth import Credentials, login

    class _NoSession:
        http = None

    with pytest.raises(ConfigurationError) as info:
        login(_NoSession(), Credentials("https://xnat.example.org", None, None))  # type: ignore[arg-type]
    flags = set(re.findall(r"--[a-z][a-z-]+", str(info.value)))
    assert flags
    for words in (("xnat", "install"), ("xnat", "whoami"), ("xnat", "launch")):
        known = {s for a in dict(subparsers(PARSER))[words]._actions for s in a.option_strings}
        assert flags <= known, (words, flags - known)

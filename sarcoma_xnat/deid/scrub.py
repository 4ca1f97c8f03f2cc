"""Cleaning free text: remove the identifiers a dataset itself carries, and typical patterns.

Used for the ``C`` (clean) action on descriptors the study keeps (series and study
descriptions, protocol and ROI names), for file and folder names, and as a safety
net over text attributes the profile table does not list.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from pydicom.dataset import Dataset

from sarcoma_xnat.deid.values import IDENTITY_KEYWORDS, identifying_values, tokens_of

__all__ = ["IDENTIFYING_KEYWORDS", "Scrubber", "identifying_tokens"]

#: attributes whose values are identifiers to hunt for elsewhere (at any depth, see
#: :mod:`sarcoma_xnat.deid.values`, which also takes every PN element)
IDENTIFYING_KEYWORDS = tuple(sorted(IDENTITY_KEYWORDS))

_NUM_L, _NUM_R = r"(?<![\d.,])", r"(?![\d.,]*\d)"
#: patterns that are identifying whatever the dataset says: dates (not versions or decimals),
#: phone numbers, long numbers (record numbers), a title followed by a name
_PATTERNS = (
    _NUM_L + r"(?:19|20)\d{2}([-./]?)(?:0[1-9]|1[0-2])\1(?:0[1-9]|[12]\d|3[01])" + _NUM_R,
    _NUM_L + r"\d{1,2}([./-])\d{1,2}\2(?:19|20)?\d{2}" + _NUM_R,
    _NUM_L + r"\+?\d{2,4}[ ()-]{1,3}\d{3,4}[ -]?\d{3,4}" + _NUM_R,
    _NUM_L + r"\d{6,}" + _NUM_R,
    r"(?-i:\b(?:Dr|Mr|Mrs|Ms|Miss|Prof)\b\.?\s+[A-Z][a-z'-]+|\b(?:DR|MR|MRS|MS|PROF)\.\s*[A-Z][A-Za-z'-]+)",
)


_MAX_ANSWERS = 50_000


def identifying_tokens(ds: Dataset) -> tuple[str, ...]:
    """Return the identifying strings ``ds`` carries at any depth, longest first."""
    return tokens_of(identifying_values(ds))


_START, _END = r"(?<![0-9A-Za-z\u00c0-\u024f])", r"(?![0-9A-Za-z\u00c0-\u024f])"


def _bounds(token: str) -> tuple[bool, bool]:
    """Return whether ``token`` is bounded at its start and at its end (starts/ends alphanumeric)."""
    return (token[:1].isascii() and token[:1].isalnum(),
            token[-1:].isascii() and token[-1:].isalnum())


def _alternation(tokens: list[str]) -> list[str]:
    """Return regexes matching ``tokens`` in order, each bounded where it starts or ends alphanumeric.

    Consecutive tokens with the same bounds share one group, ``START(?:a|b|...)END``:
    the same matches as one bounded alternative per token, in the same order (the
    first alternative that matches at a position wins either way), and compiled
    many times faster, since the boundary classes are compiled once per group.
    """
    out: list[str] = []
    run: list[str] = []
    bounds: tuple[bool, bool] | None = None
    for token in [*tokens, ""]:
        here = _bounds(token) if token else None
        if run and (here != bounds or not token):
            assert bounds is not None
            out.append((_START if bounds[0] else "") + "(?:" + "|".join(run) + ")"
                       + (_END if bounds[1] else ""))
            run = []
        bounds = here
        if token:
            run.append(re.escape(token))
    return out


class Scrubber:
    """Remove identifying tokens and patterns from text.

    Parameters
    ----------
    tokens : iterable of str
        Strings to remove wherever they occur as whole words (case-insensitive; CJK
        tokens also inside words).
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        self.tokens = tuple(tokens)
        self._text, self._names = _compile(self.tokens)
        self._answers: dict[tuple[str, bool], bool] = {}  # series repeat their text: ask once
        #: for the de-identifier: what elements became under this pool (see engine._clean)
        self.memo: dict[object, dict[object, object]] = {}

    def clean(self, text: str, patterns: bool = True) -> str:
        """Return ``text`` with every token (and pattern) removed, whitespace tidied."""
        pattern = self._text if patterns else self._names
        if pattern is None or not pattern.search(text):
            return text
        out = pattern.sub(" ", text)
        out = re.sub(r"\(\s*\)|\[\s*\]", " ", re.sub(r"([(\[])\s+", r"\1", out))
        out = re.sub(r"\s+([)\]])", r"\1", out)
        return re.sub(r"\s{2,}", " ", out).strip(" ,;:-_")

    def is_dirty(self, text: str | bytes, patterns: bool = True) -> bool:
        """Return whether ``text`` holds a token (or pattern); bytes are read as UTF-8."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        answer = self._answers.get((text, patterns))
        if answer is None:
            pattern = self._text if patterns else self._names
            answer = pattern is not None and pattern.search(text) is not None
            if len(self._answers) > _MAX_ANSWERS:
                self._answers.clear()
            self._answers[(text, patterns)] = answer
        return answer


@functools.lru_cache(maxsize=256)
def _compile(tokens: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str] | None]:
    """Compile tokens + patterns, and tokens alone (cached per patient)."""
    names = _alternation([t for t in tokens if t])
    text = re.compile("|".join(names + list(_PATTERNS)), re.IGNORECASE)
    return text, (re.compile("|".join(names), re.IGNORECASE) if names else None)

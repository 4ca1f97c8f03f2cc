"""Evaluate Container Service matchers: JSONPath filter expressions over an XNAT object.

A matcher is the body of a JSONPath filter without ``[?( )]``, evaluated with ``@``
bound to the candidate object, e.g. ``'DICOM' in @.resources[*].label`` or
``@.scan-type in ['T1_AX_POST', 'T2_AX_FS'] && @.frames > 10``. The subset here is
the one Jayway JsonPath (used by XNAT) supports in filters: literals, lists,
``@``/``$`` paths with ``.name``, ``['name']``, ``[n]`` and ``[*]``; the operators
``== != < <= > >= =~ in nin subsetof anyof noneof contains size empty``; ``&&``,
``||``, ``!`` and parentheses.

Examples
--------
>>> obj = {"label": "SEG", "resources": [{"label": "SEG"}, {"label": "AIM"}]}
>>> matches("'SEG' in @.resources[*].label && @.label == 'SEG'", obj)
True
"""

from __future__ import annotations

import re
from typing import Any

from sarcoma_xnat.errors import ConfigurationError

__all__ = ["evaluate_path", "matches"]

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<regex>/(?:[^/\\]|\\.)+/[a-z]*)
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op>==|!=|<=|>=|=~|&&|\|\||[<>!()\[\],.*@$])
    | (?P<word>[A-Za-z_][A-Za-z0-9_\-]*)
    )""", re.VERBOSE)
_WORD_OPS = {"in", "nin", "subsetof", "anyof", "noneof", "contains", "size", "empty"}
_MISSING = object()


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConfigurationError(f"matcher {text!r}: cannot read from {text[pos:]!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "regex" and tokens and tokens[-1] != ("op", "=~"):
            raise ConfigurationError(f"matcher {text!r}: unexpected '/'")
        tokens.append((kind, value))
        pos = m.end()
    return tokens


class _Parser:
    """Recursive-descent evaluator over the token list, for one object."""

    def __init__(self, text: str, current: Any, root: Any) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.current = current
        self.root = root

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self, value: str | None = None) -> tuple[str, str]:
        tok = self._peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ConfigurationError(f"matcher {self.text!r}: expected {value or 'more'}, "
                                     f"found {tok[1] if tok else 'the end'}")
        self.i += 1
        return tok

    def parse(self) -> bool:
        result = self._or()
        if self._peek() is not None:
            raise ConfigurationError(f"matcher {self.text!r}: unexpected {self._peek()[1]!r}")  # type: ignore[index]
        return bool(result)

    def _or(self) -> bool:
        value = self._and()
        while self._peek() == ("op", "||"):
            self._take()
            right = self._and()
            value = value or right
        return value

    def _and(self) -> bool:
        value = self._unary()
        while self._peek() == ("op", "&&"):
            self._take()
            right = self._unary()
            value = value and right
        return value

    def _unary(self) -> bool:
        tok = self._peek()
        if tok == ("op", "!"):
            self._take()
            return not self._unary()
        if tok == ("op", "("):
            self._take()
            value = self._or()
            self._take(")")
            return value
        return self._comparison()

    def _comparison(self) -> bool:
        left = self._operand()
        tok = self._peek()
        if tok is None or tok[1] in ("&&", "||", ")"):
            return left is not _MISSING and left is not None and left is not False
        op = self._take()[1]
        if op not in _WORD_OPS | {"==", "!=", "<", "<=", ">", ">=", "=~"}:
            raise ConfigurationError(f"matcher {self.text!r}: unknown operator {op!r}")
        right = self._operand()
        return _compare(op, left, right)

    def _operand(self) -> Any:
        kind, value = self._take()
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", value[1:-1])
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "regex":
            body, flags = value[1:].rsplit("/", 1)
            return re.compile(body, re.IGNORECASE if "i" in flags else 0)
        if kind == "word" and value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        if value == "[":
            items: list[Any] = []
            while self._peek() != ("op", "]"):
                items.append(self._operand())
                if self._peek() == ("op", ","):
                    self._take()
            self._take("]")
            return items
        if value in ("@", "$"):
            return self._path(self.current if value == "@" else self.root)
        raise ConfigurationError(f"matcher {self.text!r}: unexpected {value!r}")

    def _path(self, start: Any) -> Any:
        values, multi = [start], False
        while self._peek() in (("op", "."), ("op", "[")):
            sep = self._take()[1]
            if sep == ".":
                tok = self._take()
                if tok[1] == "*":
                    values, multi = _children(values, None), True
                else:
                    values = _children(values, tok[1])
                continue
            kind, inner = self._take()
            self._take("]")
            if inner == "*":
                values, multi = _children(values, None), True
            elif kind == "num":
                values = [v[int(inner)] for v in values
                          if isinstance(v, list) and -len(v) <= int(inner) < len(v)]
            elif kind == "str":
                values = _children(values, inner[1:-1])
            else:
                raise ConfigurationError(f"matcher {self.text!r}: bad index [{inner}]")
        if multi:
            return values
        return values[0] if values else _MISSING


def _children(values: list[Any], name: str | None) -> list[Any]:
    """Return the child ``name`` of each value (all children when ``name`` is None)."""
    out: list[Any] = []
    for v in values:
        if name is None:
            out.extend(v.values() if isinstance(v, dict) else v if isinstance(v, list) else [])
        elif isinstance(v, dict) and name in v:
            out.append(v[name])
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is _MISSING else [value]


def _compare(op: str, left: Any, right: Any) -> bool:
    """Apply a filter operator the way Jayway JsonPath does; missing values never match."""
    if left is _MISSING or right is _MISSING:
        return op in ("!=", "nin", "noneof") and not (left is _MISSING and right is _MISSING)
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op in ("<", "<=", ">", ">="):
        try:
            a, b = (float(left), float(right)) if not (isinstance(left, str) and isinstance(right, str)) \
                else (left, right)
        except (TypeError, ValueError):
            return False
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op == "=~":
        return isinstance(left, str) and hasattr(right, "search") and right.fullmatch(left) is not None
    if op == "in":
        return left in _as_list(right)
    if op == "nin":
        return left not in _as_list(right)
    if op == "contains":
        return right in left if isinstance(left, (list, str)) else False
    if op == "subsetof":
        return all(x in _as_list(right) for x in _as_list(left))
    if op == "anyof":
        return any(x in _as_list(right) for x in _as_list(left))
    if op == "noneof":
        return not any(x in _as_list(right) for x in _as_list(left))
    if op == "size":
        return isinstance(left, (list, str)) and len(left) == right
    if op == "empty":
        return isinstance(left, (list, str)) and (len(left) == 0) == bool(right)
    raise ConfigurationError(f"unknown matcher operator {op!r}")


def matches(matcher: str, obj: Any, root: Any = None) -> bool:
    """Return whether ``obj`` satisfies ``matcher`` (``@`` is ``obj``, ``$`` is ``root``)."""
    return _Parser(matcher, obj, obj if root is None else root).parse()


def evaluate_path(path: str, obj: Any) -> Any:
    """Return the value of a JSONPath such as ``$.label`` or ``@.resources[*].label``."""
    parser = _Parser(path, obj, obj)
    value = parser._operand()
    if parser._peek() is not None:
        raise ConfigurationError(f"JSONPath {path!r}: unexpected {parser._peek()[1]!r}")  # type: ignore[index]
    return None if value is _MISSING else value

"""Evaluate a CloudWatch Logs JSON filter pattern against a log event, as CloudWatch Logs applies it.

A metric filter on the trail's log group is judged by meaning: by the CloudTrail events it must
match (tests/account/monitoring.py), not by its text. The grammar read here is CloudWatch Logs'
JSON filter patterns: ``{ <expression> }`` where an expression is comparisons joined with ``&&``
and ``||`` (``&&`` binding tighter) and grouped in parentheses; a comparison is a selector
(``$.a.b``, ``$.a[0]``) with ``=`` or ``!=`` and a value (a quoted string or a bare token, ``*``
a wildcard anywhere in it), a numeric comparison (``<``, ``>``, ``<=``, ``>=``, ``=``, ``!=``
on a number), or ``IS NULL``, ``NOT EXISTS``, ``EXISTS``, ``IS TRUE``, ``IS FALSE``. A selector
that names no field makes a comparison false (``!=`` included), as CloudWatch Logs does. A
pattern this reader cannot parse matches nothing: the check then names the filter as not
matching the events it must.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
Matcher = Callable[[Event], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<open>\() | (?P<close>\)) | (?P<and>&&) | (?P<or>\|\|)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<word>[^\s()=!<>&|"]+)
    )""",
    re.VERBOSE,
)
_MISSING = object()


class PatternError(ValueError):
    """The pattern is not a JSON filter pattern this reader understands."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise PatternError(f"cannot read the pattern at {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _select(event: Any, selector: str) -> Any:
    if not selector.startswith("$"):
        raise PatternError(f"{selector!r} is not a selector ($.field)")
    value = event
    for part in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", selector[1:]) or []:
        key, index = part
        if key:
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
    return value


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(selector: str, op: str, raw: str, quoted: bool) -> Matcher:
    wanted = raw[1:-1] if quoted else raw
    number = None if quoted else _number(wanted)

    def test(event: Event) -> bool:
        value = _select(event, selector)
        if value is _MISSING or value is None:
            return False
        if number is not None and isinstance(value, int | float) and not isinstance(value, bool):
            return {
                "=": value == number, "!=": value != number, "<": value < number, ">": value > number,
                "<=": value <= number, ">=": value >= number,
            }[op]  # fmt: skip
        if op not in ("=", "!="):
            return False
        text = str(value).lower() if isinstance(value, bool) else str(value)
        equal = fnmatch.fnmatchcase(text, wanted) if "*" in wanted else text == wanted
        return equal if op == "=" else not equal

    return test


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.pos = tokens, 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def expression(self) -> Matcher:
        left = self.conjunction()
        while self.peek()[0] == "or":
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda e: a(e) or b(e))(left, right)
        return left

    def conjunction(self) -> Matcher:
        left = self.term()
        while self.peek()[0] == "and":
            self.take()
            right = self.term()
            left = (lambda a, b: lambda e: a(e) and b(e))(left, right)
        return left

    def term(self) -> Matcher:
        kind, text = self.take()
        if kind == "open":
            inner = self.expression()
            if self.take()[0] != "close":
                raise PatternError("unbalanced parentheses")
            return inner
        if kind != "word" or not text.startswith("$"):
            raise PatternError(f"expected a selector ($.field), found {text!r}")
        selector = text
        kind, text = self.take()
        if kind == "op":
            vkind, value = self.take()
            if vkind not in ("string", "word"):
                raise PatternError(f"expected a value after {selector} {text}")
            return _compare(selector, text, value, vkind == "string")
        if kind == "word":
            words = [text.upper()]
            while self.peek()[0] == "word" and self.peek()[1].upper() in ("NULL", "EXISTS", "TRUE", "FALSE"):
                words.append(self.take()[1].upper())
            phrase = " ".join(words)
            checks: dict[str, Matcher] = {
                "IS NULL": lambda e: _select(e, selector) is None,
                "NOT EXISTS": lambda e: _select(e, selector) is _MISSING,
                "EXISTS": lambda e: _select(e, selector) is not _MISSING,
                "IS TRUE": lambda e: _select(e, selector) is True,
                "IS FALSE": lambda e: _select(e, selector) is False,
            }
            if phrase in checks:
                return checks[phrase]
        raise PatternError(f"cannot read the comparison on {selector}")


def compile_pattern(pattern: str) -> Matcher:
    """The pattern as a predicate on one JSON log event; PatternError when it is not a JSON filter pattern."""
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise PatternError("not a JSON filter pattern ({ ... })")
    parser = _Parser(_tokens(text[1:-1]))
    matcher = parser.expression()
    if parser.peek()[0] != "end":
        raise PatternError(f"unexpected {parser.peek()[1]!r}")
    return matcher


def matches(pattern: str, event: Event) -> bool:
    """Whether CloudWatch Logs would count ``event`` for a metric filter with ``pattern``."""
    try:
        return compile_pattern(pattern)(event)
    except PatternError:
        return False

"""Provides Calico's selector expression language: parse once (errors point at the column), match many times.

Calico reference, NetworkPolicy "Selectors" (docs.tigera.io/calico/latest/reference/resources/networkpolicy):

    all()                 every resource in scope (``!all()`` matches none)
    global()              every non-namespaced resource (e.g. in a namespaceSelector: GlobalNetworkSets)
    k == 'v'              label k with value v
    k != 'v'              no label k, or label k with a value other than v
    has(k)                label k, whatever its value
    k in { 'v1', 'v2' }   label k with a value in the set
    k not in { 'v1', 'v2' }  no label k, or a value not in the set
    k contains 's'        label k whose value contains s
    k starts with 's'     label k whose value starts with s
    k ends with 's'       label k whose value ends with s
    !e   e && f   e || f   ( e )    ``!`` binds tightest, then ``&&``, then ``||``

Strings are quoted with ' or " (there is no escape: a value holds at most one kind of quote). An empty
selector is ``all()`` where the field defaults so (the caller decides). ``str(node)`` is a canonical
form that parses back to an equal node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn, TypeAlias
from collections.abc import Mapping

_KEY = re.compile(r"[A-Za-z0-9_./-]+")
"""A label key as the selector lexer reads it (Kubernetes label keys: prefix/name of these characters)."""


class SelectorError(ValueError):
    """A selector that does not parse: ``column`` is 1-based into ``text``."""

    def __init__(self, text: str, column: int, message: str):
        self.text = text
        self.column = column
        self.message = message
        super().__init__(f"invalid selector {text!r}: {message} at column {column}")


def _quote(value: str) -> str:
    return f"'{value}'" if '"' in value else f'"{value}"'


@dataclass(frozen=True)
class All:
    def matches(self, labels: Mapping[str, str], namespaced: bool = True) -> bool:
        return True

    def __str__(self) -> str:
        return "all()"


@dataclass(frozen=True)
class Global:
    def matches(self, labels: Mapping[str, str], namespaced: bool = True) -> bool:
        return not namespaced

    def __str__(self) -> str:
        return "global()"


@dataclass(frozen=True)
class Has:
    key: str

    def matches(self, labels: Mapping[str, str], namespaced: bool = True) -> bool:
        return self.key in labels

    def __str__(self) -> str:
        return f"has({self.key})"


_OPS = ("==", "!=", "contains", "starts with", "ends with")


@dataclass(frozen=True)
class Compare:
    """``key <op> 'value'`` for op in ==, !=, contains, starts with, ends with."""

    key: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str], namespaced: bool = True) -> bool:
        got = labels.get(self.key)
        if self.op == "!=":
            return got != self.value  # also true without the label (the reference: "without label k or ...")
        if got is None:
            return False
        if self.op == "==":
            return got == self.value
        if self.op == "contains":
            return self.value in got
        if self.op == "starts with":
            return got.startswith(self.value)
        return got.endswith(self.value)

    def __str__(self) -> str:
        return f"{self.key} {self.op} {_quote(self.value)}"


@dataclass(frozen=True)
class In:
    """``key in {...}`` or, negated, ``key not in {...}`` (true without the label)."""

    key: str
    values: tuple[str, ...]
    negated: bool = False

    def matches(self, labels: Mapping[str, str], namespaced: bool = True) -> bool:
        got = labels.get(self.key)
        if self.negated:
            return got is None or got not in self.values
        return got is not None and got in self.values

    def __str__(self) -> str:
        op = "not in" if self.negated else "in"
        return f"{self.key} {op} {{{', '.join(_quote(v) for v in self.values)}}}"


@dataclass(frozen=True)
class Not:
    expr: Node

    def matches(self, labels: Mapping[str, str], namespaced: bool = True) -> bool:
        return not self.expr.matches(labels, namespaced)

    def __str__(self) -> str:
        return f"!{_atom(self.expr)}"


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]

    def matches(self, labels: Mapping[str, str], namespaced: bool = True) -> bool:
        return all(p.matches(labels, namespaced) for p in self.parts)

    def __str__(self) -> str:
        return " && ".join(_atom(p) for p in self.parts)


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]

    def matches(self, labels: Mapping[str, str], namespaced: bool = True) -> bool:
        return any(p.matches(labels, namespaced) for p in self.parts)

    def __str__(self) -> str:
        return " || ".join(_atom(p) for p in self.parts)


Node: TypeAlias = All | Global | Has | Compare | In | Not | And | Or


def _atom(n: Node) -> str:
    return f"({n})" if isinstance(n, (And, Or)) else str(n)


def parse(text: str) -> Node:
    """The selector ``text`` as a tree; SelectorError (with the column) when it does not parse."""
    p = _Parser(text)
    p.ws()
    if p.i == len(text):
        raise SelectorError(text, 1, "empty selector (write all() to select everything)")
    node = p.or_()
    p.ws()
    if p.i != len(text):
        p.fail("expected '&&', '||' or the end of the selector")
    return node


class _Parser:
    """Recursive descent straight over the text (no token list): the error column is where it stopped."""

    def __init__(self, text: str):
        self.text = text
        self.i = 0

    def fail(self, message: str) -> NoReturn:
        raise SelectorError(self.text, self.i + 1, message)

    def ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def eat(self, word: str) -> bool:
        """Consume ``word`` (words of letters must not run on into a key)."""
        end = self.i + len(word)
        if self.text.startswith(word, self.i):
            if word[-1].isalpha() and end < len(self.text) and _KEY.match(self.text[end]):
                return False
            self.i = end
            return True
        return False

    def or_(self) -> Node:
        parts = [self.and_()]
        while True:
            self.ws()
            if not self.eat("||"):
                break
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_(self) -> Node:
        parts = [self.unary()]
        while True:
            self.ws()
            if not self.eat("&&"):
                break
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Node:
        self.ws()
        if self.i < len(self.text) and self.text[self.i] == "!" and not self.text.startswith("!=", self.i):
            self.i += 1
            return Not(self.unary())
        if self.eat("("):
            node = self.or_()
            self.ws()
            if not self.eat(")"):
                self.fail("expected ')'")
            return node
        for name, node in (("all", All()), ("global", Global())):
            if self.eat(name + "("):
                self.ws()
                if not self.eat(")"):
                    self.fail(f"expected ')' after {name}(")
                return node
        if self.eat("has("):
            self.ws()
            key = self.key()
            self.ws()
            if not self.eat(")"):
                self.fail("expected ')' after the label key of has(")
            return Has(key)
        key = self.key()
        self.ws()
        for op in _OPS:
            if self.op(op):
                return Compare(key, op, self.string())
        if self.op("not in"):
            return In(key, self.set_(), negated=True)
        if self.op("in"):
            return In(key, self.set_())
        self.fail("expected an operator (==, !=, in, not in, contains, starts with, ends with)")
        raise AssertionError  # unreachable

    def op(self, op: str) -> bool:
        """An operator; two-word operators allow any whitespace between their words."""
        start = self.i
        for n, word in enumerate(op.split(" ")):
            if n:
                before = self.i
                self.ws()
                if self.i == before:
                    self.i = start
                    return False
            if not self.eat(word):
                self.i = start
                return False
        return True

    def key(self) -> str:
        m = _KEY.match(self.text, self.i)
        if not m:
            self.fail("expected a label key, all(), global(), has(, '!' or '('")
        self.i = m.end()
        return m.group()

    def string(self) -> str:
        self.ws()
        if self.i >= len(self.text) or self.text[self.i] not in "'\"":
            self.fail("expected a quoted string")
        quote = self.text[self.i]
        end = self.text.find(quote, self.i + 1)
        if end < 0:
            self.fail(f"unterminated string (no closing {quote})")
        value = self.text[self.i + 1:end]
        self.i = end + 1
        return value

    def set_(self) -> tuple[str, ...]:
        self.ws()
        if not self.eat("{"):
            self.fail("expected '{'")
        values: list[str] = []
        self.ws()
        if self.eat("}"):
            return ()
        while True:
            values.append(self.string())
            self.ws()
            if self.eat("}"):
                return tuple(values)
            if not self.eat(","):
                self.fail("expected ',' or '}'")

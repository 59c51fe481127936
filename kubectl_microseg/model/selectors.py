"""Provides LabelSelector: matchLabels + matchExpressions, compiled once, matched many times.

Semantics (Kubernetes API reference, LabelSelector): the requirements of matchLabels and
matchExpressions are ANDed; an empty selector (``{}``) matches everything; ``In``/``NotIn`` need a
non-empty value list, ``Exists``/``DoesNotExist`` an empty one. ``NotIn`` matches objects that lack
the key (apimachinery labels.Requirement.Matches: "NotIn: ... or the key does not exist").
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping

from ..vocab import StrEnum


class Operator(StrEnum):
    """LabelSelectorRequirement ``operator`` (Kubernetes API reference)."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


OPERATORS = tuple(Operator)


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.operator, Operator):  # "In" as written: the member, so that matches() can use `is`
            object.__setattr__(self, "operator", Operator(self.operator))

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op is Operator.IN:
            return key_in(labels, self.key) and labels[self.key] in self.values
        if op is Operator.NOT_IN:
            return not key_in(labels, self.key) or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return key_in(labels, self.key)
        return not key_in(labels, self.key)  # DoesNotExist

    def describe(self) -> str:
        vals = ",".join(sorted(self.values))
        if self.operator is Operator.IN:
            return f"{self.key} in ({vals})"
        if self.operator is Operator.NOT_IN:
            return f"{self.key} notin ({vals})"
        if self.operator is Operator.EXISTS:
            return self.key
        return f"!{self.key}"


def key_in(labels: Mapping[str, str], key: str) -> bool:
    return key in labels


@dataclass(frozen=True)
class LabelSelector:
    """A compiled selector; ``LabelSelector()`` is the empty selector that matches everything."""

    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def from_match_labels(cls, labels: Mapping[str, str]) -> LabelSelector:
        return cls(tuple(Requirement(k, Operator.IN, frozenset([v])) for k, v in sorted(labels.items())))

    def is_empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def describe(self) -> str:
        """kubectl's selector text: 'app=web,tier in (a,b)'; '<all>' for the empty selector."""
        if not self.requirements:
            return "<all>"
        parts = []
        for r in self.requirements:
            if r.operator is Operator.IN and len(r.values) == 1:
                parts.append(f"{r.key}={next(iter(r.values))}")
            else:
                parts.append(r.describe())
        return ",".join(parts)


def parse_selector_text(text: str) -> LabelSelector:
    """Parse kubectl's ``-l`` syntax: 'a=b,c!=d,e,!f,g in (x,y),h notin (z)'."""
    reqs: list[Requirement] = []
    buf, depth, parts = "", 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    if buf.strip():
        parts.append(buf)
    for raw in parts:
        p = raw.strip()
        if not p:
            raise ValueError(f"empty requirement in selector {text!r}")
        low = p.replace("(", " (")
        tokens = low.split()
        if len(tokens) >= 2 and tokens[1] in ("in", "notin"):
            inner = p[p.index("(") + 1 : p.rindex(")")]
            values = frozenset(v.strip() for v in inner.split(",") if v.strip())
            reqs.append(Requirement(tokens[0], Operator.IN if tokens[1] == "in" else Operator.NOT_IN, values))
        elif "!=" in p:
            k, v = p.split("!=", 1)
            reqs.append(Requirement(k.strip(), Operator.NOT_IN, frozenset([v.strip()])))
        elif "==" in p or "=" in p:
            k, v = p.split("==", 1) if "==" in p else p.split("=", 1)
            reqs.append(Requirement(k.strip(), Operator.IN, frozenset([v.strip()])))
        elif p.startswith("!"):
            reqs.append(Requirement(p[1:].strip(), Operator.DOES_NOT_EXIST))
        else:
            reqs.append(Requirement(p, Operator.EXISTS))
    return LabelSelector(tuple(reqs))

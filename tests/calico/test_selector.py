"""Calico's selector language (reference: docs.tigera.io/calico/latest/reference/resources/networkpolicy,
section "Selectors"; the examples are the reference's and the tiered-policy / calico-labels pages')."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_microseg.model.calico_selector import (
    All, And, Compare, Global, Has, In, Not, Or, SelectorError, parse,
)

DB = {"role": "database", "env": "prod"}
FE = {"role": "frontend"}
NONE: dict[str, str] = {}


@pytest.mark.parametrize("text,labels,expected", [
    # documented examples (NetworkPolicy sample; calico-labels page; host-endpoints page)
    ("role == 'database'", DB, True),
    ("role == 'database'", FE, False),
    ('color == "red"', {"color": "red"}, True),
    ('role=="webserver"', {"role": "webserver"}, True),
    ('projectcalico.org/name in {"foo", "bar"}', {"projectcalico.org/name": "bar"}, True),
    ('projectcalico.org/name in {"foo", "bar"}', {"projectcalico.org/name": "baz"}, False),
    # the reference table, row by row
    ("all()", NONE, True),
    ("!all()", DB, False),
    ("has(role)", DB, True),
    ("has(role)", NONE, False),
    ("!has(role)", NONE, True),
    ("role != 'database'", FE, True),
    ("role != 'database'", NONE, True),  # "without label k or with label k and value not equal to v"
    ("role != 'database'", DB, False),
    ("role not in {'database', 'x'}", NONE, True),  # "without label k or ... not in the given set"
    ("role not in {'database', 'x'}", DB, False),
    ("role in {}", DB, False),
    ("role contains 'base'", DB, True),
    ("role contains 'base'", NONE, False),
    ("role starts with 'data'", DB, True),
    ("role starts with 'front'", DB, False),
    ("role ends with 'end'", FE, True),
    ("role ends with 'end'", NONE, False),
    # logical operators and precedence: ! before && before ||
    ("role == 'frontend' || role == 'database' && env == 'prod'", FE, True),
    ("(role == 'frontend' || role == 'database') && env == 'prod'", FE, False),
    ("!role == 'x' && has(env)", DB, True),
    ("!(has(role) && has(env))", FE, True),
])
def test_documented_semantics(text, labels, expected):
    assert parse(text).matches(labels) is expected


def test_global_matches_only_non_namespaced():
    # reference: "global() Match all non-namespaced resources"
    assert parse("global()").matches({}, namespaced=False)
    assert not parse("global()").matches({}, namespaced=True)
    assert parse("all()").matches({}, namespaced=False)


def test_precedence_tree():
    assert parse("a == 'x' || b == 'y' && !has(c)") == Or((
        Compare("a", "==", "x"), And((Compare("b", "==", "y"), Not(Has("c"))))))


@pytest.mark.parametrize("text,column,fragment", [
    ("role == database", 9, "quoted string"),
    ("role = 'x'", 6, "operator"),
    ("has(role", 9, "')'"),
    ("role == 'x' &&", 15, "label key"),
    ("(role == 'x'", 13, "')'"),
    ("role in {'a' 'b'}", 14, "',' or '}'"),
    ("role == 'x' garbage", 13, "'&&'"),
    ("role == 'unterminated", 9, "unterminated"),
    ("all(", 5, "')'"),
    ("role startswith 'x'", 6, "operator"),
    ("", 1, "empty"),
])
def test_errors_point_at_the_column(text, column, fragment):
    with pytest.raises(SelectorError) as e:
        parse(text)
    assert e.value.column == column
    assert fragment in e.value.message
    assert f"column {column}" in str(e.value)


_keys = st.from_regex(r"[a-z][a-z0-9_.-]{0,6}(/[a-z][a-z0-9]{0,4})?", fullmatch=True).filter(
    lambda k: k not in ("in", "not", "has", "all", "global", "contains"))
_values = st.text(alphabet="abcxyz -_.'", max_size=6)
_leaf = st.one_of(
    st.just(All()), st.just(Global()), st.builds(Has, _keys),
    st.builds(Compare, _keys, st.sampled_from(["==", "!=", "contains", "starts with", "ends with"]), _values),
    st.builds(In, _keys, st.lists(_values, max_size=3).map(tuple), st.booleans()),
)
_nodes = st.recursive(_leaf, lambda kids: st.one_of(
    st.builds(Not, kids),
    st.builds(And, st.lists(kids, min_size=2, max_size=3).map(tuple)),
    st.builds(Or, st.lists(kids, min_size=2, max_size=3).map(tuple)),
), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(_nodes)
def test_round_trip(node):
    # the canonical form parenthesises every nested && / ||, so the tree comes back as it was
    assert parse(str(node)) == node


@settings(max_examples=300, deadline=None)
@given(_nodes, st.data())
def test_error_never_after_the_bad_character(node, data):
    text = str(node)
    # '@' is no token of the language: a selector with it outside a string does not parse, and the
    # parser stops no later than it (the text before it is a prefix of a valid selector)
    outside = [i for i in range(len(text) + 1) if _outside_strings(text, i)]
    i = data.draw(st.sampled_from(outside))
    bad = text[:i] + "@" + text[i:]
    with pytest.raises(SelectorError) as e:
        parse(bad)
    assert 1 <= e.value.column <= i + 1
    if i == len(text) or (text[i].isspace() and (i == 0 or text[i - 1].isspace() or text[i - 1] in ")}&|,")):
        assert e.value.column == i + 1  # at a token boundary: exactly there


def _outside_strings(text: str, i: int) -> bool:
    quote = None
    for c in text[:i]:
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
    return quote is None

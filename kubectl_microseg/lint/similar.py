"""Provides near-miss detection for labels: typo'd values, keys that differ by case or one edit.

Used for fix hints ("did you mean app.kubernetes.io/name=grafana?") and for MS011 (label key variants).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from ..model.selectors import LabelSelector, Operator

_SEPARATORS = re.compile(r"[-_.]")


def normalize_key(key: str) -> str:
    """'App_Name' and 'app-name' both become 'appname' (case and separators ignored)."""
    return _SEPARATORS.sub("", key.lower())


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): a transposition counts as one edit."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def key_variant(a: str, b: str) -> str | None:
    """How two distinct label keys are near-identical ('case', 'separators', 'typo'), else None.

    A typo is one edit (or one transposition) in the name part, with the same prefix and names of at
    least 4 characters: 'tier'/'teir', 'component'/'componet'. Short keys ('app'/'apps') are left alone.
    """
    if a == b:
        return None
    if a.lower() == b.lower():
        return "case"
    if normalize_key(a) == normalize_key(b):
        return "separators"
    pa, _, na = a.rpartition("/")
    pb, _, nb = b.rpartition("/")
    if pa == pb and min(len(na), len(nb)) >= 4 and edit_distance(na.lower(), nb.lower()) == 1:
        return "typo"
    return None


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``word``: one edit or transposition away, else difflib ratio >= 0.75."""
    pool = sorted(set(candidates))
    near = [c for c in pool if edit_distance(word, c) <= (1 if len(word) < 6 else 2)]
    if near:
        return min(near, key=lambda c: (edit_distance(word, c), c))
    got = difflib.get_close_matches(word, pool, n=1, cutoff=0.75)
    return got[0] if got else None


def selector_hint(selector: LabelSelector | None, label_sets: Iterable[Mapping[str, str]]) -> str:
    """A 'did you mean' for a selector that matches none of ``label_sets`` ('' when nothing is close).

    For each equality requirement that no label set satisfies: a close value under the same key, or the
    same value under a close key (``app`` vs ``app.kubernetes.io/name``).
    """
    if selector is None:
        return ""
    sets = list(label_sets)
    for req in selector.requirements:
        if req.operator is not Operator.IN or len(req.values) != 1 or any(req.matches(s) for s in sets):
            continue
        value = next(iter(req.values))
        values = [s[req.key] for s in sets if req.key in s]
        near = closest(value, values)
        if near is not None:
            return f"did you mean {req.key}={near}?"
        keys = [k for s in sets for k, v in s.items() if v == value]
        if keys:
            return f"no pod has {req.key}={value}, but some have {sorted(set(keys))[0]}={value}; did you mean that key?"
    return ""

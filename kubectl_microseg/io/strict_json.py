"""Provides ``loads``: JSON decoding as strict as kubectl's: a key given twice in one object and the
non-JSON constants ``NaN``, ``Infinity`` and ``-Infinity`` (which Python's decoder accepts) are refused.

kubectl and the API server decode JSON with sigs.k8s.io/json in strict mode, which reports duplicate
fields; Go's encoding/json has no NaN. Errors are ``StrictJSONError`` (a ValueError) with the line of the
offending text where it can be found.
"""

from __future__ import annotations

import json
import re
from typing import Any


class StrictJSONError(ValueError):
    """A duplicate key or a non-finite number; ``line`` is 1-based (None when unknown)."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def loads(text: str) -> Any:
    """``json.loads`` that refuses duplicate keys and NaN/Infinity (json.JSONDecodeError stays as it is)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) == len(items):  # no key twice (built in C: the per-key loop below only finds which)
            return out
        out = {}
        for k, v in items:
            if k in out:
                raise StrictJSONError(f'duplicate key "{k}" in one object', _line_of_second(text, k))
            out[k] = v
        return out

    def constant(name: str) -> Any:
        m = re.search(r"(?<![\"\w])-?" + name.lstrip("-"), text)
        line = text.count("\n", 0, m.start()) + 1 if m else None
        raise StrictJSONError(f"{name} is not a JSON number", line)

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)


def _line_of_second(text: str, key: str) -> int | None:
    """The line of the second ``"key":`` in the text (the duplicate in the usual, one-object case)."""
    hits = [m.start() for m in re.finditer(re.escape(json.dumps(key)) + r"\s*:", text)]
    return text.count("\n", 0, hits[1]) + 1 if len(hits) > 1 else None

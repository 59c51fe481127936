"""Provides a simplified server-side apply for the fake API server: field ownership, conflicts, merge.

Ownership is tracked per leaf path (lists are leaves, as with ``listType: atomic``): an Apply by one
field manager that changes a value owned by another manager is a 409 Conflict unless ``force=true``;
fields the manager applied before and leaves out now are removed (unless someone else owns them).
``metadata.managedFields`` is rendered in the real ``FieldsV1`` shape (``{"f:spec": {"f:podSelector": {}}}``).
Real SSA merges lists by key where the schema says so; for NetworkPolicies (whose lists are atomic)
this simplification is faithful.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from .store import ApiError

Path = tuple[str, ...]
_SKIP = {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"),
         ("metadata", "resourceVersion"), ("metadata", "uid"), ("metadata", "creationTimestamp"),
         ("metadata", "managedFields"), ("metadata", "generation"), ("status",)}


def leaf_paths(obj: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Every leaf of a JSON object with its value (dicts are descended, everything else is a leaf)."""
    out: dict[Path, Any] = {}
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            p = prefix + (str(k),)
            if p in _SKIP:
                continue
            out.update(leaf_paths(v, p))
    elif prefix:
        out[prefix] = obj
    return out


def _set(obj: dict[str, Any], path: Path, value: Any) -> None:
    for k in path[:-1]:
        nxt = obj.get(k)
        if not isinstance(nxt, dict):
            nxt = obj[k] = {}
        obj = nxt
    obj[path[-1]] = copy.deepcopy(value)


def _remove(obj: dict[str, Any], path: Path) -> None:
    parents = []
    cur: Any = obj
    for k in path[:-1]:
        if not isinstance(cur, dict) or k not in cur:
            return
        parents.append((cur, k))
        cur = cur[k]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
    for parent, k in reversed(parents):  # drop emptied maps
        if parent[k] == {}:
            del parent[k]


def fields_v1(paths: set[Path]) -> dict[str, Any]:
    """The FieldsV1 tree of a set of paths."""
    tree: dict[str, Any] = {}
    for p in sorted(paths):
        node = tree
        for k in p:
            node = node.setdefault(f"f:{k}", {})
    return tree


class Ownership:
    """Which field manager owns which leaf paths of one object, and with which operation."""

    def __init__(self) -> None:
        self.managers: dict[str, tuple[str, set[Path]]] = {}

    def record_update(self, manager: str, obj: dict[str, Any]) -> None:
        """A create, update or non-apply patch: the manager now owns every leaf it left set."""
        paths = set(leaf_paths(obj))
        for _m, (_op, owned) in self.managers.items():
            owned -= paths
        self.managers[manager] = ("Update", paths)

    def apply(self, current: dict[str, Any] | None, applied: dict[str, Any], manager: str,
              force: bool) -> dict[str, Any]:
        """Merge an applied configuration into ``current``; ApiError 409 on conflicts without force."""
        new_leaves = leaf_paths(applied)
        cur_leaves = leaf_paths(current) if current else {}
        conflicts = []
        for m, (_op, owned) in self.managers.items():
            if m == manager:
                continue
            for p in sorted(owned & set(new_leaves)):
                if cur_leaves.get(p) != new_leaves[p]:
                    conflicts.append((m, p))
        if conflicts and not force:
            lines = "\n".join(f'- conflict with "{m}": .{".".join(p)}' for m, p in conflicts)
            raise ApiError(409, "Conflict", f"Apply failed with {len(conflicts)} conflict(s):\n{lines}",
                           {"causes": [{"reason": "FieldManagerConflict", "field": "." + ".".join(p),
                                        "message": f'conflict with "{m}"'} for m, p in conflicts]})
        result = copy.deepcopy(current) if current else {}
        before = self.managers.get(manager, ("Apply", set()))[1]
        others = set().union(*(o for m, (_, o) in self.managers.items() if m != manager)) if self.managers else set()
        for p in before - set(new_leaves) - others:
            _remove(result, p)
        for p, v in new_leaves.items():
            _set(result, p, v)
        for key in ("apiVersion", "kind"):
            result[key] = applied.get(key, result.get(key))
        meta = result.setdefault("metadata", {})
        for key in ("name", "namespace"):
            if key in applied.get("metadata", {}):
                meta[key] = applied["metadata"][key]
        taken = set(new_leaves)
        for m, (_op, owned) in list(self.managers.items()):
            if m != manager:
                owned -= {p for p in taken if force or cur_leaves.get(p) != new_leaves[p]}
        self.managers[manager] = ("Apply", taken)
        return result

    def render(self, api_version: str) -> list[dict[str, Any]]:
        """metadata.managedFields as the real server shows it."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return [{"manager": m, "operation": op, "apiVersion": api_version, "time": stamp,
                 "fieldsType": "FieldsV1", "fieldsV1": fields_v1(paths)}
                for m, (op, paths) in sorted(self.managers.items()) if paths]

"""Provides the JSON batches of ``nft apply``: replace some tables atomically, or put them back.

A batch is one kernel transaction (nft(8): a ruleset file is applied all or nothing). Replacing a
table is "add table; delete table; add table + content": the first add makes the delete valid when
the table does not exist yet (the pattern kube-network-policies uses). Tables the file does not
define are never touched, and a ``flush ruleset`` in the file is not replayed.
"""

from __future__ import annotations

from typing import Any

_ORDER = {"table": 0, "set": 1, "map": 1, "counter": 1, "quota": 1, "limit": 1, "ct helper": 1,
          "ct timeout": 1, "ct expectation": 1, "secmark": 1, "synproxy": 1, "flowtable": 1,
          "chain": 2, "rule": 3}
_DROP_KEYS = ("handle", "index")


def tables_of(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(family, name) of every table of a listing, in order."""
    out = []
    for item in doc.get("nftables", []):
        if isinstance(item, dict) and "table" in item:
            t = item["table"]
            out.append((str(t["family"]), str(t["name"])))
    return out


def _table_of(kind: str, body: dict[str, Any]) -> tuple[str, str]:
    if kind == "table":
        return str(body.get("family")), str(body.get("name"))
    return str(body.get("family")), str(body.get("table"))


def content_commands(doc: dict[str, Any], tables: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """``add`` commands recreating the given tables of a listing (handles dropped, safe order)."""
    wanted = set(tables)
    cmds: list[tuple[int, int, dict[str, Any]]] = []
    for i, item in enumerate(doc.get("nftables", [])):
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (kind, body), = item.items()
        if kind == "metainfo" or not isinstance(body, dict) or _table_of(kind, body) not in wanted:
            continue
        clean = {k: v for k, v in body.items() if k not in _DROP_KEYS}
        cmds.append((_ORDER.get(kind, 1), i, {"add": {kind: clean}}))
    return [c for _, _, c in sorted(cmds, key=lambda t: (t[0], t[1]))]


def _delete_cmds(tables: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for fam, name in tables:
        out.append({"add": {"table": {"family": fam, "name": name}}})
        out.append({"delete": {"table": {"family": fam, "name": name}}})
    return out


def replace_batch(new_doc: dict[str, Any]) -> dict[str, Any]:
    """Replace exactly the tables ``new_doc`` defines with its content, in one transaction."""
    tables = tables_of(new_doc)
    return {"nftables": _delete_cmds(tables) + content_commands(new_doc, tables)}


def restore_batch(previous_doc: dict[str, Any], tables: list[tuple[str, str]]) -> dict[str, Any]:
    """Put ``tables`` back as they were in ``previous_doc`` (removing those that did not exist)."""
    existed = [t for t in tables if t in set(tables_of(previous_doc))]
    return {"nftables": _delete_cmds(tables) + content_commands(previous_doc, existed)}


def merged_listing(current_doc: dict[str, Any], new_doc: dict[str, Any]) -> dict[str, Any]:
    """What the live listing will be after ``replace_batch(new_doc)``: other tables kept as they are."""
    replaced = set(tables_of(new_doc))
    keep = []
    for item in current_doc.get("nftables", []):
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (kind, body), = item.items()
        if kind == "metainfo" or (isinstance(body, dict) and _table_of(kind, body) in replaced):
            continue
        keep.append(item)
    new_items = [i for i in new_doc.get("nftables", []) if isinstance(i, dict) and "metainfo" not in i]
    return {"nftables": keep + new_items}

"""Provides the nft(8) text of JSON statements, so explanations quote rules the way ``nft list`` does.

Only presentation: the evaluator never reads this text. Shapes without a case of their own are written
as their keys and values in nft's word order (``socket transparent``, ``xt match conntrack``), never as
JSON: explanations quote rules, not their encoding.
"""

from __future__ import annotations

from typing import Any

from .model import CHAIN_VERDICTS, RULE_VERDICTS, TerminalKind

_OPS_SHOWN = {"==": "", "in": ""}


def expr_text(e: Any) -> str:
    """The nft text of an expression (left or right side of a match, a set element, ...)."""
    if e is None:
        return ""
    if isinstance(e, bool):
        return str(e).lower()
    if isinstance(e, (int, float)):
        return str(e)
    if isinstance(e, str):
        if e.startswith("@"):
            return e
        return f'"{e}"' if (" " in e or e == "" or "*" in e) else e
    if isinstance(e, list):
        return ",".join(expr_text(x) for x in e)
    if not isinstance(e, dict) or len(e) != 1:
        return _words(e)
    (k, v), = e.items()
    if k == "payload":
        if "protocol" in v:
            return f"{v['protocol']} {v['field']}"
        return f"@{v.get('base')},{v.get('offset')},{v.get('len')}"
    if k == "meta":
        key = v.get("key")
        return key if key in ("iifname", "oifname", "iif", "oif") else f"meta {key}"
    if k == "ct":
        d = f" {v['dir']}" if v.get("dir") else ""
        return f"ct{d} {v.get('key')}"
    if k == "prefix":
        return f"{v['addr']}/{v['len']}"
    if k == "range":
        return f"{expr_text(v[0])}-{expr_text(v[1])}"
    if k == "concat":
        return " . ".join(expr_text(x) for x in v)
    if k == "set":
        items = v if isinstance(v, list) else [v]
        return "{ " + ", ".join(_elem_text(x) for x in items) + " }"
    if k == "elem":
        return expr_text(v.get("val"))
    if k in ("&", "|", "^", "<<", ">>"):
        return f" {k} ".join(expr_text(x) for x in v)
    if k == "fib":
        return f"fib {' . '.join(v.get('flags', []))} {v.get('result')}"
    return _generic(k, v)


def _words(v: Any) -> str:
    """Any value as words: a mapping as ``key value ...`` (true flags as their key), a list joined."""
    if isinstance(v, dict):
        return " ".join(kk if vv is True else f"{kk} {expr_text(vv)}" for kk, vv in v.items()
                        if vv not in (None, False, [], {}))
    if isinstance(v, (list, tuple)):
        return ", ".join(expr_text(x) for x in v)
    return expr_text(v) if isinstance(v, (str, int, float, bool)) or v is None else str(v)


def _generic(k: str, v: Any) -> str:
    """``k`` followed by its value as words (the fallback for shapes without a case of their own)."""
    if v is None or v == {}:
        return k
    if isinstance(v, dict) and "type" in v and "name" in v and k == "xt":
        return f"xt {v['type']} {v['name']}"
    return f"{k} {_words(v)}"


def _elem_text(x: Any) -> str:
    if isinstance(x, list) and len(x) == 2:
        return f"{expr_text(x[0])} : {verdict_text(x[1])}"
    return expr_text(x)


def verdict_text(v: Any) -> str:
    """``accept``, ``jump name``, ...; other map data as an expression."""
    if isinstance(v, dict) and len(v) == 1:
        (k, val), = v.items()
        if k in RULE_VERDICTS:
            return str(k)
        if k in CHAIN_VERDICTS:
            return f"{k} {val.get('target')}"
    return expr_text(v)


def stmt_text(s: Any) -> str:
    """The nft text of one statement of a rule's ``expr`` list."""
    if not isinstance(s, dict) or len(s) != 1:
        return _words(s)
    (k, v), = s.items()
    if k == "match":
        op = v.get("op", "==")
        shown = _OPS_SHOWN.get(op, op)
        mid = f" {shown} " if shown else " "
        return f"{expr_text(v.get('left'))}{mid}{expr_text(v.get('right'))}"
    if k in RULE_VERDICTS or k in CHAIN_VERDICTS:
        return verdict_text(s)
    if k == "vmap":
        return f"{expr_text(v.get('key'))} vmap {expr_text(v.get('data'))}"
    if k == "counter":
        return "counter" if isinstance(v, dict) or v is None else f"counter name {expr_text(v)}"
    if k == "log":
        parts = ["log"]
        if isinstance(v, dict):
            if "prefix" in v:
                parts.append(f'prefix "{v["prefix"]}"')
            if "level" in v:
                parts.append(f"level {v['level']}")
        return " ".join(parts)
    if k == "limit" and isinstance(v, dict):
        over = "over " if v.get("inv") else ""
        unit = f" {v['rate_unit']}" if v.get("rate_unit") and v.get("rate_unit") != "packets" else ""
        return f"limit rate {over}{v.get('rate')}{unit}/{v.get('per', 'second')}"
    if k == TerminalKind.REJECT:
        if isinstance(v, dict) and v.get("type"):
            expr = f" {v['expr']}" if v.get("expr") else ""
            return f"reject with {v['type']}{expr}"
        return "reject"
    if k == TerminalKind.QUEUE:
        return "queue" + (f" num {v['num']}" if isinstance(v, dict) and "num" in v else "")
    if k == "mangle":
        return f"{expr_text(v.get('key'))} set {expr_text(v.get('value'))}"
    if k in ("snat", "dnat"):
        tgt = expr_text(v.get("addr")) if isinstance(v, dict) else ""
        port = f":{expr_text(v['port'])}" if isinstance(v, dict) and "port" in v else ""
        return f"{k} to {tgt}{port}"
    if k in ("masquerade", "redirect", "notrack"):
        return str(k)
    if k == "quota" and isinstance(v, dict):
        return f"quota {'over ' if v.get('inv') else ''}{v.get('val')} {v.get('val_unit', 'bytes')}"
    if k == "ct count" and isinstance(v, dict):
        return f"ct count {'over ' if v.get('inv') else ''}{v.get('val')}"
    if k == "set" and isinstance(v, dict):  # add @m { ip saddr limit rate over 1/minute }
        inner = " ".join(stmt_text(x) for x in _stmts(v.get("stmt")))
        return f"{v.get('op', 'add')} {v.get('set')} {{ {expr_text(v.get('elem'))}{' ' + inner if inner else ''} }}"
    if k == "meter" and isinstance(v, dict):
        inner = " ".join(stmt_text(x) for x in _stmts(v.get("stmt")))
        return f"meter {v.get('name')} {{ {expr_text(v.get('key'))}{' ' + inner if inner else ''} }}"
    return _generic(k, v)


def _stmts(x: Any) -> list[Any]:
    return x if isinstance(x, list) else [x] if isinstance(x, dict) else []


def rule_text(exprs: list[Any]) -> str:
    """A whole rule as one line of nft text."""
    return " ".join(stmt_text(s) for s in exprs)

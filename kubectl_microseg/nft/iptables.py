"""Provides ``iptables_to_json``: ``iptables-save`` / ``ip6tables-save`` output (legacy or nft backend, with
``ipset save`` lines for the sets it names) as the libnftables JSON the rest of the engine reads.

Each table (filter, nat, mangle, raw, security) becomes an ``ip`` (or ``ip6``) table; each built-in chain
a base chain on its hook with the priority iptables registers it at (iptables(8), ``NF_IP_PRI_*``:
raw -300, mangle -150, nat PREROUTING/OUTPUT -100 and INPUT/POSTROUTING 100, filter 0, security 50)
and its policy; each ``-A`` line a rule whose handle is its line number and whose text is the line
itself. Matches are translated to the native expressions iptables-nft uses (iptables-extensions(8)):

``-s -d -p -i -o`` (with ``!``), ``-m tcp/udp/sctp --sport/--dport`` (ranges, ``--syn``, ``--tcp-flags``),
``-m multiport --sports/--dports``, ``-m state --state`` and ``-m conntrack --ctstate``, ``-m comment``,
``-m limit`` (a rate: unknown unless a flow assumes under- or over-limits), ``-m addrtype`` (a
``fib ... type``: not modelled, unknown), ``-m iprange``, ``-m set --match-set NAME src|dst`` (when the
file holds the set's ``ipset save`` lines), ``-m icmp/icmp6``, ``-m mark``; targets ACCEPT, DROP, REJECT,
RETURN, LOG, jumps (``-j``) and gotos (``-g``) to user chains, DNAT, SNAT, MASQUERADE, REDIRECT,
MARK --set-mark, NOTRACK / CT --notrack. Any other match or target is kept as an ``xt`` expression the
evaluator reports as not modelled (the verdict is unknown when it depends on it).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from ..errors import InputError, Origin
from .model import VerdictKind

PRIORITY = {("raw", "PREROUTING"): -300, ("raw", "OUTPUT"): -300, ("mangle", None): -150,
            ("nat", "PREROUTING"): -100, ("nat", "OUTPUT"): -100, ("nat", "INPUT"): 100,
            ("nat", "POSTROUTING"): 100, ("filter", None): 0, ("security", None): 50}
BUILTIN = {"PREROUTING": "prerouting", "INPUT": "input", "FORWARD": "forward", "OUTPUT": "output",
           "POSTROUTING": "postrouting"}
STATES = {"NEW": "new", "ESTABLISHED": "established", "RELATED": "related", "INVALID": "invalid",
          "UNTRACKED": "untracked"}
SUPPORTED_MATCHES = ("tcp", "udp", "sctp", "multiport", "state", "conntrack", "comment", "limit", "addrtype",
                     "iprange", "set", "icmp", "icmp6", "mark")
_PER = {"s": "second", "sec": "second", "second": "second", "m": "minute", "min": "minute", "minute": "minute",
        "h": "hour", "hour": "hour", "d": "day", "day": "day"}


def looks_like_iptables(text: str) -> bool:
    """Whether a file is iptables-save output (a ``*table`` line and a ``COMMIT``)."""
    return bool(re.search(r"^\*(filter|nat|mangle|raw|security)\s*$", text, re.M)) and \
        bool(re.search(r"^COMMIT\s*$", text, re.M))


def iptables_to_json(text: str, origin: Origin | None = None) -> dict[str, Any]:
    """The libnftables JSON of an iptables-save file (``ipset save`` lines for its sets may come first)."""
    six = "ip6tables" in text.split("\n", 1)[0] or bool(re.search(r"^-A .*\s-[sd] !?\s*[0-9a-fA-F]*:", text, re.M))
    fam = "ip6" if six else "ip"
    items: list[dict[str, Any]] = []
    ipsets = _ipsets(text, fam)
    table = None
    chains: set[str] = set()
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.split(" ", 1)[0] in ("create", "add", "flush", "destroy"):
            continue
        if line.startswith("*"):
            table = line[1:].strip()
            chains = set()
            items.append({"table": {"family": fam, "name": table}})
            for name, elems, kind in ipsets.values():
                items.append({"set": {"family": fam, "table": table, "name": name, "type": kind,
                                      "flags": ["interval"], "elem": elems}})
            continue
        if line == "COMMIT":
            table = None
            continue
        if table is None:
            raise InputError(f"iptables-save: {line.split()[0]!r} outside a *table section", origin, no)
        if line.startswith(":"):
            parts = line[1:].split()
            name, policy = parts[0], parts[1] if len(parts) > 1 else "-"
            chain: dict[str, Any] = {"family": fam, "table": table, "name": name}
            if name in BUILTIN and policy != "-":
                chain.update(type="nat" if table == "nat" else "filter", hook=BUILTIN[name],
                             prio=PRIORITY.get((table, name), PRIORITY.get((table, None), 0)),
                             policy=VerdictKind.DROP if policy == "DROP" else VerdictKind.ACCEPT)
            chains.add(name)
            items.append({"chain": chain})
            continue
        try:
            words = shlex.split(re.sub(r"^\[\d+:\d+\]\s*", "", line))
        except ValueError as exc:
            raise InputError(f"iptables-save: {exc}", origin, no) from None
        if len(words) < 2 or words[0] not in ("-A", "-I"):
            raise InputError(f"iptables-save: expected '-A CHAIN ...', got {line[:60]!r}", origin, no)
        if words[1] not in chains:
            raise InputError(f"iptables-save: chain {words[1]} is not declared in table {table}", origin, no)
        expr, comment = _rule(words[2:], fam, ipsets, chains, origin, no)
        rule = {"family": fam, "table": table, "chain": words[1], "handle": no, "expr": expr, "iptables": line}
        if comment:
            rule["comment"] = comment
        items.append({"rule": rule})
    return {"nftables": items}


def _ipsets(text: str, fam: str) -> dict[str, tuple[str, list[Any], str]]:
    """``create NAME hash:ip|hash:net [family inet6] ...`` and ``add NAME ADDR`` lines: one-dimensional
    address sets of the file's family (others are left out: a match on them is not modelled)."""
    sets: dict[str, tuple[str, list[Any], str]] = {}
    for line in text.splitlines():
        w = line.split()
        if len(w) >= 3 and w[0] == "create" and w[2] in ("hash:ip", "hash:net"):
            six = "inet6" in w
            if (fam == "ip6") == six:
                sets[w[1]] = (w[1], [], "ipv6_addr" if six else "ipv4_addr")
        elif len(w) >= 3 and w[0] == "add" and w[1] in sets:
            sets[w[1]][1].append(_addr(w[2]))
    return sets


def _addr(text: str) -> Any:
    if "/" in text:
        a, n = text.split("/", 1)
        return {"prefix": {"addr": a, "len": int(n)}}
    if "-" in text:
        a, b = text.split("-", 1)
        return {"range": [a, b]}
    return text


def _m(left: Any, right: Any, neg: bool = False, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": "!=" if neg else op, "left": left, "right": right}}


def _pl(proto: str, field: str) -> dict[str, Any]:
    return {"payload": {"protocol": proto, "field": field}}


def _ports(text: str) -> Any:
    items = [{"range": [int(a), int(b)]} if b else int(a)
             for a, _, b in (p.partition(":") for p in text.split(","))]
    return items[0] if len(items) == 1 else {"set": items}


def _iface(name: str) -> str:
    return name[:-1] + "*" if name.endswith("+") else name  # iptables' 'eth+' is nft's 'eth*'


def _rule(words: list[str], fam: str, ipsets: dict[str, Any], chains: set[str], origin: Origin | None,
          no: int) -> tuple[list[dict[str, Any]], str | None]:
    """The expressions of one rule and its comment."""
    expr: list[dict[str, Any]] = []
    comment = None
    proto = None
    module = None
    neg = False
    ip = "ip6" if fam == "ip6" else "ip"
    i = 0

    def arg() -> str:
        nonlocal i
        if i >= len(words):
            raise InputError(f"iptables-save: {words[i - 1]} needs a value", origin, no)
        i += 1
        return words[i - 1]

    while i < len(words):
        w = words[i]
        i += 1
        if w == "!":
            neg = True
            continue
        if w in ("-s", "--source", "-d", "--destination"):
            expr.append(_m(_pl(ip, "saddr" if w in ("-s", "--source") else "daddr"), _addr(arg()), neg))
        elif w in ("-p", "--protocol"):
            proto = arg().lower()
            if proto not in ("all", "0"):
                proto = {"ipv6-icmp": "icmpv6", "icmp6": "icmpv6"}.get(proto, proto)
                expr.append(_m({"meta": {"key": "l4proto"}}, int(proto) if proto.isdigit() else proto, neg))
        elif w in ("-i", "--in-interface", "-o", "--out-interface"):
            key = "iifname" if w in ("-i", "--in-interface") else "oifname"
            expr.append(_m({"meta": {"key": key}}, _iface(arg()), neg))
        elif w in ("-m", "--match"):
            module = arg()
            if module not in SUPPORTED_MATCHES and module not in ("icmpv6",):
                expr.append({"xt": {"type": "match", "name": module}})
        elif w in ("--dport", "--destination-port", "--sport", "--source-port") or w in ("--dports", "--destination-ports", "--sports", "--source-ports"):
            field = "dport" if "d" in w[2:4] else "sport"
            expr.append(_m(_pl(proto or "th", field), _ports(arg()), neg))
        elif w == "--ports":
            arg()
            expr.append({"xt": {"type": "match", "name": "multiport --ports"}})
        elif w == "--syn":
            expr.append(_m({"&": [_pl("tcp", "flags"), ["fin", "syn", "rst", "ack"]]}, "syn", neg))
        elif w == "--tcp-flags":
            mask, comp = arg().lower().split(","), arg().lower()
            bits = [] if comp == "none" else comp.split(",")
            mask = ["fin", "syn", "rst", "psh", "ack", "urg"] if mask == ["all"] else mask
            expr.append(_m({"&": [_pl("tcp", "flags"), mask]}, bits if len(bits) != 1 else bits[0], neg))
        elif w in ("--state", "--ctstate"):
            states = [STATES[s] for s in arg().upper().split(",") if s in STATES]
            expr.append(_m({"ct": {"key": "state"}}, states, op="!" if neg else "in"))
        elif w == "--comment":
            comment = arg()
        elif w in ("--limit", "--limit-burst"):
            value = arg()
            if w == "--limit":
                n, _, per = value.partition("/")
                expr.append({"limit": {"rate": int(n), "per": _PER.get(per.lower(), "second")}})
        elif w in ("--src-type", "--dst-type"):
            expr.append(_m({"fib": {"flags": ["saddr" if w == "--src-type" else "daddr"], "result": "type"}},
                           arg().lower(), neg))
        elif w in ("--src-range", "--dst-range"):
            a, b = arg().split("-", 1)
            expr.append(_m(_pl(ip, "saddr" if w == "--src-range" else "daddr"), {"range": [a, b]}, neg))
        elif w == "--match-set":
            name, dirs = arg(), arg()
            if name in ipsets and dirs in ("src", "dst"):
                expr.append(_m(_pl(ip, "saddr" if dirs == "src" else "daddr"), f"@{name}", neg))
            else:
                expr.append({"xt": {"type": "match", "name": f"set {name} {dirs} (its ipset is not given)"}})
        elif w in ("--icmp-type", "--icmpv6-type"):
            t = arg()
            expr.append(_m(_pl("icmp" if w == "--icmp-type" else "icmpv6", "type"), int(t) if t.isdigit() else t, neg))
        elif w == "--mark":
            mark, _, mark_mask = arg().partition("/")
            left = {"meta": {"key": "mark"}}
            expr.append(_m({"&": [left, int(mark_mask, 0)]} if mark_mask else left, int(mark, 0), neg))
        elif w in ("-j", "--jump", "-g", "--goto"):
            expr += _target(w, arg(), words[i:], chains)
            break
        elif w.startswith("--"):
            if i < len(words) and not words[i].startswith("-"):
                i += 1
            expr.append({"xt": {"type": "match", "name": f"{module or 'unknown'} {w}"}})
        else:
            raise InputError(f"iptables-save: unexpected {w!r}", origin, no)
        neg = False
    return expr, comment


def _opt(rest: list[str], name: str) -> str | None:
    return rest[rest.index(name) + 1] if name in rest and rest.index(name) + 1 < len(rest) else None


def _target(flag: str, t: str, rest: list[str], chains: set[str]) -> list[dict[str, Any]]:
    if flag in ("-g", "--goto"):
        return [{"goto": {"target": t}}]
    if t in ("ACCEPT", "DROP", "RETURN"):
        return [{t.lower(): None}]
    if t == "REJECT":
        return [{"reject": None}]
    if t == "LOG":
        prefix = _opt(rest, "--log-prefix")
        return [{"log": {"prefix": prefix} if prefix else None}]
    if t in ("DNAT", "SNAT"):
        to = _opt(rest, "--to-destination" if t == "DNAT" else "--to-source") or ""
        addr, _, port = to.rpartition(":") if to.count(":") == 1 or to.startswith("[") else (to, "", "")
        addr = addr.strip("[]")
        body: dict[str, Any] = {"addr": addr} if addr else {}
        if port:
            body["port"] = int(port) if port.isdigit() else port
        return [{t.lower(): body}]
    if t == "MASQUERADE":
        return [{"masquerade": None}]
    if t == "REDIRECT":
        to_port = _opt(rest, "--to-ports")
        return [{"redirect": {"port": int(to_port)} if to_port and to_port.isdigit() else None}]
    if t == "MARK" and _opt(rest, "--set-mark"):
        v = (_opt(rest, "--set-mark") or "0").split("/")[0]
        return [{"mangle": {"key": {"meta": {"key": "mark"}}, "value": int(v, 0)}}]
    if t == "NOTRACK" or (t == "CT" and "--notrack" in rest):
        return [{"notrack": None}]
    if t in chains:
        return [{"jump": {"target": t}}]
    return [{"xt": {"type": "target", "name": t}}]

"""Provides ``parse_ruleset``: libnftables JSON (``nft -j list ruleset``) to the typed model.

The JSON schema is libnftables-json(5). Raw dicts never get past this module. Things the engine does not
analyse are kept as notes (bridge, arp and netdev tables) or as ``Unsupported`` statements, never
silently dropped.
"""

from __future__ import annotations

import contextlib
import re
import socket
from typing import Any
from collections.abc import Iterator

from ..errors import InputError, Origin
from . import values as V
from .model import (CHAIN_POLICIES, CHAIN_VERDICTS, NAT_KINDS, RULE_VERDICTS, STATEFUL_MATCHES, Chain, Concat,
                    Effect, Element, Field, Interval, Left, Mangle, Mask, Match, Name, NamedSet, Rule, Ruleset, SetRef, Statement, Terminal, TerminalKind, Unsupported, Verdict,
                    VerdictKind, VerdictStmt, VMap)
from .text import rule_text, stmt_text

_PAYLOAD_KINDS = {
    ("ip", "saddr"): "addr4", ("ip", "daddr"): "addr4", ("ip", "protocol"): "l4proto",
    ("ip6", "saddr"): "addr6", ("ip6", "daddr"): "addr6", ("ip6", "nexthdr"): "l4proto",
    ("tcp", "flags"): "tcpflags",
    ("icmp", "type"): "icmptype", ("icmp", "code"): "icmpcode",
    ("icmpv6", "type"): "icmpv6type", ("icmpv6", "code"): "icmpv6code",
}
_META_KINDS = {"l4proto": "l4proto", "nfproto": "nfproto", "protocol": "ethertype", "iifname": "ifname",
               "oifname": "ifname", "iif": "iface", "oif": "iface", "mark": "mark"}
_CT_KINDS = {"state": "ctstate", "mark": "ctmark", "direction": "ctdir"}
_SET_TYPE_KINDS = {"ipv4_addr": "addr4", "ipv6_addr": "addr6", "inet_service": "port", "inet_proto": "l4proto",
                   "ifname": "ifname", "iface_index": "iface", "mark": "mark", "ct_state": "ctstate",
                   "icmp_type": "icmptype", "icmpv6_type": "icmpv6type", "nf_proto": "nfproto",
                   "ether_type": "ethertype", "tcp_flag": "tcpflags"}
_SYMBOLS = {"l4proto": V.L4PROTO, "nfproto": V.NFPROTO, "ethertype": V.ETHERTYPE, "ctstate": V.CT_STATE,
            "tcpflags": V.TCP_FLAGS, "icmptype": V.ICMP_TYPE, "icmpv6type": V.ICMPV6_TYPE,
            "icmpcode": V.ICMP_CODE, "icmpv6code": V.ICMPV6_CODE, "port": V.SERVICES,
            "ctdir": {"original": 0, "reply": 1}}
BITMASK_KINDS = ("ctstate", "tcpflags")
"""Kinds whose flag lists mean 'any of these bits' (nft(8): bitmask types)."""
VERDICTS = RULE_VERDICTS | CHAIN_VERDICTS


_DEFINE = re.compile(r"^\s*define\s+(\w+)\s*=\s*(.+?)\s*$", re.M)


def read_defines(text: str) -> dict[str, str]:
    """``define NAME = VALUE`` lines of a ruleset file (the matrix names address classes after them)."""
    return {m.group(1): m.group(2).rstrip(";").strip() for m in _DEFINE.finditer(text)}


class _Bad(Exception):
    """A value the engine cannot compile; the match becomes Unsupported."""


@contextlib.contextmanager
def _malformed(kind: str, origin: Origin | None, path: str) -> Iterator[None]:
    """A value of the wrong type or out of range anywhere in one object (``"len": null``, ``"ct": 3``)
    is bad input (exit 2, with the object's path), never a crash (tests/reliability/test_fuzz.py)."""
    try:
        yield
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        raise InputError(f"malformed {kind}: {exc}", origin, path=path) from None


def parse_ruleset(doc: Any, origin: Origin | None = None, defines: dict[str, str] | None = None,
                  description: str = "ruleset") -> Ruleset:
    """Build the model from a ``{"nftables": [...]}`` document.

    Raises:
        InputError: when the document is not libnftables JSON or a rule names a missing chain.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("nftables"), list):
        raise InputError('not libnftables JSON: expected an object with a "nftables" list', origin)
    rs = Ruleset(defines=dict(defines or {}), description=description)
    objs = doc["nftables"]
    skipped: dict[str, list[str]] = {}
    for i, item in enumerate(objs):
        if not isinstance(item, dict) or len(item) != 1:
            raise InputError("each element of the nftables list must be an object with one key", origin,
                             path=f"nftables[{i}]")
        (kind, body), = item.items()
        if kind in ("add", "create", "insert", "replace") and isinstance(body, dict) and len(body) == 1:
            (kind, body), = body.items()  # a batch file: only additions carry a ruleset
        _check_object(kind, body, origin, f"nftables[{i}].{kind}")
        if not isinstance(body, dict):
            continue
        fam = str(body.get("family", ""))
        if kind in ("table", "chain", "rule", "set", "map") and fam not in V.ANALYSED_FAMILIES:
            if kind == "table":
                skipped.setdefault(fam, []).append(str(body.get("name")))
            continue
        path = f"nftables[{i}].{kind}"
        with _malformed(kind, origin, path):
            if kind == "table":
                rs.tables.append((fam, str(body.get("name"))))
                _table_flags(rs, fam, str(body.get("name")), body.get("flags"))
            elif kind == "chain":
                _add_chain(rs, body, origin, path)
            elif kind in ("set", "map"):
                ns = _parse_named_set(body, kind == "map", origin, path)
                rs.sets[(ns.family, ns.table, ns.name)] = ns
    # Rules after chains and sets: a listing has them in that order, a batch may not.
    for i, item in enumerate(objs):
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (kind, body), = item.items()
        if kind in ("add", "insert") and isinstance(body, dict) and "rule" in body:
            kind, body = "rule", body["rule"]
        if kind != "rule" or not isinstance(body, dict) or body.get("family") not in V.ANALYSED_FAMILIES:
            continue
        key = (str(body["family"]), str(body.get("table")), str(body.get("chain")))
        chain = rs.chains.get(key)
        if chain is None:
            raise InputError(f"rule for missing chain {' '.join(key)}", origin, path=f"nftables[{i}].rule")
        with _malformed("rule", origin, f"nftables[{i}].rule"):
            chain.rules.append(parse_rule(body, rs, origin, f"nftables[{i}].rule"))
    _updated_sets(rs)
    for fam, names in sorted(skipped.items()):
        rs.notes.append(f"{fam} table(s) {', '.join(names)}: family {fam} is not analysed "
                        "(only ip, ip6 and inet take part in the verdicts)")
    for c in rs.chains.values():
        if c.hook in ("ingress", "egress"):
            rs.notes.append(f"chain {c.label()} on hook {c.hook} is not analysed")
    _check_targets(rs, origin)
    return rs


def _updated_sets(rs: Ruleset) -> None:
    """Which named sets change with traffic: written by a rule (add/update, meter) or flagged dynamic."""
    for ns in rs.sets.values():
        if "dynamic" in ns.flags:
            rs.updated_sets.add((ns.family, ns.table, ns.name))
    for ch in rs.chains.values():
        for r in ch.rules:
            for s in r.stmts:
                if isinstance(s, Effect) and s.target:
                    rs.updated_sets.add((ch.family, ch.table, s.target))


TABLE_FLAGS = ("dormant", "owner", "persist")
FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")
JSON_SCHEMA_VERSION = 1
"""The libnftables JSON schema version this reader knows; nft refuses a newer one."""
_REQUIRED = {"table": ("family", "name"), "chain": ("family", "table", "name"),
             "rule": ("family", "table", "chain", "expr"), "set": ("family", "table", "name", "type"),
             "map": ("family", "table", "name", "type", "map")}
"""Properties nft's JSON parser requires of each object (libnftables-json(5); src/parser_json.c)."""
_NAMES = ("family", "table", "chain", "name")


def _check_object(kind: str, body: Any, origin: Origin | None, path: str) -> None:
    """Refuse what nft refuses to load (so no verdict is computed for a ruleset no kernel could hold):
    a table, chain, rule, set or map that is not an object or lacks a required property, a family or
    chain policy nft does not know, a handle that is not a number, a newer JSON schema."""
    if kind == "metainfo" and isinstance(body, dict):
        v = body.get("json_schema_version", JSON_SCHEMA_VERSION)
        if isinstance(v, bool) or not isinstance(v, int) or v > JSON_SCHEMA_VERSION:
            raise InputError(f"JSON schema version {v!r} is not supported (nft knows version "
                             f"{JSON_SCHEMA_VERSION})", origin, path=path + ".json_schema_version")
        return
    if kind not in _REQUIRED:
        return
    if not isinstance(body, dict):
        raise InputError(f"a {kind} must be an object, not {type(body).__name__}", origin, path=path)
    for key in _REQUIRED[kind]:
        if key not in body:
            raise InputError(f"{kind} without {key!r} (nft requires it)", origin, path=path)
    for key in _NAMES:
        if key in body and not isinstance(body[key], str):
            raise InputError(f"{kind} {key} must be a string, not {type(body[key]).__name__}", origin,
                             path=f"{path}.{key}")
    if body["family"] not in FAMILIES:
        raise InputError(f"unknown family {body['family']!r} (nft knows {', '.join(FAMILIES)})", origin,
                         path=f"{path}.family")
    handle = body.get("handle")
    if handle is not None and (isinstance(handle, bool) or not isinstance(handle, int) or handle < 0):
        raise InputError(f"{kind} handle must be a number, not {handle!r}", origin, path=f"{path}.handle")
    if kind == "chain" and body.get("policy", VerdictKind.ACCEPT) not in CHAIN_POLICIES:
        raise InputError(f"unknown chain policy {body['policy']!r} (nft knows accept and drop)", origin,
                         path=f"{path}.policy")
    if kind == "rule" and not isinstance(body["expr"], list):
        raise InputError("rule expr must be a list of statements", origin, path=f"{path}.expr")


def _table_flags(rs: Ruleset, family: str, name: str, flags: Any) -> None:
    """``flags dormant`` switches a table off. nft 1.0.6 lists table flags wrongly (the table's name in
    place of the flag names), so unknown words are reported rather than guessed."""
    words = [flags] if isinstance(flags, str) else [str(f) for f in flags] if isinstance(flags, list) else []
    if "dormant" in words:
        rs.dormant.add((family, name))
        rs.notes.append(f"table {family} {name} is dormant: its chains do not run")
    elif any(w not in TABLE_FLAGS for w in words):
        rs.notes.append(f"table {family} {name}: the listing gives its flags as {flags!r} (nft 1.0.6 lists them "
                        "wrongly); if the table is dormant, its chains do not run, which is not assumed here")


def _add_chain(rs: Ruleset, body: dict[str, Any], origin: Origin | None, path: str) -> None:
    prio = body.get("prio")
    if isinstance(prio, str):
        p = V.CHAIN_PRIORITY.get(prio)
        if p is None:
            raise InputError(f"unknown chain priority {prio!r}", origin, path=path)
        prio = p
    elif isinstance(prio, dict):  # {"prio": {"name": ..., "offset"?}} in some writers
        prio = V.CHAIN_PRIORITY.get(str(prio.get("name")), 0) + int(prio.get("offset", 0))
    ch = Chain(family=str(body["family"]), table=str(body.get("table")), name=str(body.get("name")),
               handle=body.get("handle"), type=body.get("type"), hook=body.get("hook"),
               prio=int(prio) if prio is not None else (0 if body.get("hook") else None),
               policy=VerdictKind(body.get("policy", VerdictKind.ACCEPT)), device=body.get("dev"))
    rs.chains[ch.key] = ch


def _check_targets(rs: Ruleset, origin: Origin | None) -> None:
    """Every jump/goto target must exist in the same table (the kernel refuses the ruleset otherwise)."""
    for ch in rs.chains.values():
        for r in ch.rules:
            for s in r.stmts:
                targets = []
                if isinstance(s, VerdictStmt) and s.verdict.target:
                    targets.append(s.verdict.target)
                if isinstance(s, VMap) and not isinstance(s.data, SetRef):
                    targets += [v.target for _, v in s.data if v.target]
                for t in targets:
                    if (ch.family, ch.table, t) not in rs.chains:
                        raise InputError(f"rule {r.handle} of chain {ch.label()} jumps to missing chain {t}", origin)
    _check_loops(rs, origin)


def _jump_targets(rs: Ruleset, ch: Chain) -> list[str]:
    """Chains ``ch`` may jump or go to: verdicts, anonymous verdict maps and named verdict maps."""
    out: list[str] = []
    for r in ch.rules:
        for s in r.stmts:
            if isinstance(s, VerdictStmt) and s.verdict.target:
                out.append(s.verdict.target)
            elif isinstance(s, VMap):
                if isinstance(s.data, SetRef):
                    ns = rs.sets.get((ch.family, ch.table, s.data.name))
                    out += [v.target for _, v in (ns.verdicts if ns else ()) if v.target]
                else:
                    out += [v.target for _, v in s.data if v.target]
    return out


def _check_loops(rs: Ruleset, origin: Origin | None) -> None:
    """A chain reachable from a base chain that can reach itself through jumps/gotos is refused, as the
    kernel refuses it at commit
    (net/netfilter/nf_tables_api.c: nf_tables_check_loops, -ELOOP; nft_chain_validate, -EMLINK "Too many
    links"). Without this the evaluator would follow the jumps forever. Iterative DFS, linear in the jumps."""
    state: dict[tuple[str, str, str], int] = {}  # 1: on the current path, 2: done
    for start in rs.chains:
        if start in state or not rs.chains[start].hook:
            continue  # the kernel validates from base chains: a loop no base chain reaches loads (6.x)
        stack: list[tuple[tuple[str, str, str], list[str]]] = [(start, _jump_targets(rs, rs.chains[start]))]
        path = [start]
        state[start] = 1
        while stack:
            key, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                state[key] = 2
                continue
            nxt = (key[0], key[1], todo.pop())
            if nxt not in rs.chains or state.get(nxt) == 2:
                continue
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                names = " -> ".join(k[2] for k in cycle)
                raise InputError(f"jump loop in table {nxt[0]} {nxt[1]}: {names} (nft refuses this ruleset: "
                                 "Too many links)", origin)
            state[nxt] = 1
            path.append(nxt)
            stack.append((nxt, _jump_targets(rs, rs.chains[nxt])))
    _check_depth(rs, origin)


JUMP_STACK_SIZE = 16
"""NFT_JUMP_STACK_SIZE: nft_chain_validate refuses a chain reached through this many nested jumps from a
base chain (-EMLINK, "Too many links")."""


def _check_depth(rs: Ruleset, origin: Origin | None) -> None:
    """Refuse jumps nested JUMP_STACK_SIZE deep from a base chain (the graph has no loop here)."""
    depth: dict[tuple[str, str, str], tuple[int, list[str]]] = {}  # longest jump chain below a chain

    def below(key: tuple[str, str, str]) -> tuple[int, list[str]]:
        order, stack = [], [key]
        while stack:  # iterative post-order: chains deep enough to matter would exhaust recursion
            k = stack.pop()
            if k in depth or k in order:
                continue
            order.append(k)
            stack += [(k[0], k[1], t) for t in _jump_targets(rs, rs.chains[k]) if (k[0], k[1], t) in rs.chains]
        for k in reversed(order):
            best: tuple[int, list[str]] = (0, [])
            for t in _jump_targets(rs, rs.chains[k]):
                sub = depth.get((k[0], k[1], t))
                if sub is not None and sub[0] + 1 > best[0]:
                    best = (sub[0] + 1, [t] + sub[1])
            depth[k] = best
        return depth[key]

    for key, ch in rs.chains.items():
        if ch.hook:
            n, chain = below(key)
            if n >= JUMP_STACK_SIZE:
                shown = " -> ".join([ch.name] + chain[:JUMP_STACK_SIZE])
                raise InputError(f"jumps nest {n} deep from base chain {ch.label()} ({shown}); nft refuses more "
                                 f"than {JUMP_STACK_SIZE - 1} (Too many links)", origin)


def _parse_named_set(body: dict[str, Any], is_map: bool, origin: Origin | None, path: str) -> NamedSet:
    typ = body.get("type")
    kinds: tuple[str, ...]
    if isinstance(typ, list):
        kinds = tuple(_SET_TYPE_KINDS.get(str(t), "unknown") for t in typ)
    elif isinstance(typ, dict) and "typeof" in typ:
        left = _left(typ["typeof"])
        kinds = tuple(f.kind for f in left.items) if isinstance(left, Concat) else (left.kind,)
    else:
        kinds = (_SET_TYPE_KINDS.get(str(typ), "unknown"),)
    elems: list[Element] = []
    verdicts: list[tuple[Element, Verdict]] = []
    map_type = body.get("map") if is_map else None
    supported = "unknown" not in kinds
    raw_elems = body.get("elem") or [] if supported else []
    fast = _plain_ipv4_elements(raw_elems) if kinds == ("addr4",) and not is_map else None
    if fast is not None:
        elems, raw_elems = fast, []
    for j, raw in enumerate(raw_elems):
        try:
            if is_map:
                key, data = raw if isinstance(raw, list) and len(raw) == 2 else (raw, None)
                el = _element(key, kinds)
                elems.append(el)
                if map_type == "verdict":
                    verdicts.append((el, _verdict(data, origin, f"{path}.elem[{j}]")))
            else:
                elems.append(_element(raw, kinds))
        except _Bad as exc:
            raise InputError(f"set {body.get('name')}: element {j}: {exc}", origin, path=path) from None
    return NamedSet(family=str(body["family"]), table=str(body.get("table")), name=str(body.get("name")),
                    kinds=kinds, elements=tuple(elems), is_map=is_map, map_type=map_type,
                    verdicts=tuple(verdicts), flags=tuple(body.get("flags") or ()), raw=body,
                    supported=supported)


def parse_rule(body: dict[str, Any], rs: Ruleset, origin: Origin | None = None, path: str = "rule") -> Rule:
    """One rule: its statements compiled against the table's named sets."""
    exprs = body.get("expr") or []
    stmts: list[Statement] = [_statement(s, origin, f"{path}.expr[{k}]") for k, s in enumerate(exprs)]
    return Rule(family=str(body["family"]), table=str(body.get("table")), chain=str(body.get("chain")),
                handle=body.get("handle"), stmts=stmts, text=body.get("iptables") or rule_text(exprs),
                comment=body.get("comment"),
                raw=body)


def _statement(s: Any, origin: Origin | None, path: str) -> Statement:
    if not isinstance(s, dict) or len(s) != 1:
        raise InputError("a statement must be an object with one key", origin, path=path)
    (k, v), = s.items()
    if k in ("match", "vmap", "mangle") and not isinstance(v, dict):
        raise InputError(f"a {k} statement must be an object", origin, path=path)
    if k == "match":
        return _match(v, origin, path)
    if k in VERDICTS:
        return VerdictStmt(_verdict(s, origin, path))
    if k == "vmap":
        key = _left(v.get("key"))
        data = v.get("data")
        if isinstance(data, str) and data.startswith("@"):
            return VMap(key, SetRef(data[1:]))
        kinds = _kinds(key)
        items = data.get("set") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return Unsupported("vmap")
        pairs = []
        for it in items:
            if not (isinstance(it, list) and len(it) == 2):
                raise InputError("a vmap element must be [key, verdict]", origin, path=path)
            try:
                pairs.append((_element(it[0], kinds), _verdict(it[1], origin, path)))
            except _Bad:
                return Unsupported("vmap")
        return VMap(key, tuple(pairs))
    if k == TerminalKind.REJECT:
        rtype = v.get("type") if isinstance(v, dict) else None
        return Terminal(TerminalKind.REJECT, {"icmp": 4, "icmpv6": 6}.get(str(rtype)))
    if k == TerminalKind.QUEUE:
        return Terminal(TerminalKind.QUEUE)
    if k in NAT_KINDS:
        return _nat(TerminalKind(k), v, stmt_text(s))
    if k == "mangle":
        key = _left(v.get("key"))
        val = v.get("value")
        if isinstance(key, Field) and key.kind in ("mark", "ctmark") and isinstance(val, int):
            return Mangle(key, val)
        return Mangle(key if isinstance(key, Field) else Field("other", None, "mangle", "unknown"), None)
    if k in STATEFUL_MATCHES:
        return Effect(k, inv=bool(isinstance(v, dict) and v.get("inv")), text=stmt_text(s))
    if k in ("set", "meter") and isinstance(v, dict):
        # add @m { ip saddr limit rate over 1/minute } / meter flood { ip saddr limit rate over 10/second }
        target = v.get("set") if k == "set" else v.get("name")
        key = _left(v.get("elem") if k == "set" else v.get("key"))
        raw_inner = v.get("stmt")
        inner = raw_inner if isinstance(raw_inner, list) else [raw_inner] if isinstance(raw_inner, dict) else []
        stmts = tuple(_statement(x, origin, path) for x in inner)
        effects = tuple(x for x in stmts if isinstance(x, Effect))
        if len(effects) != len(stmts):
            return Unsupported(stmt_text(s))
        return Effect(k, target=str(target).lstrip("@") if target else None, key=key, inner=effects,
                      text=stmt_text(s))
    if k in ("counter", "log", "notrack", "set", "meter", "dup", "fwd", "flow", "synproxy"):
        return Effect(k)
    if k == "xt":
        # iptables-nft's compatibility expressions: the JSON listing names the extension, not its options
        # (read such rules from iptables-save output instead: nft/iptables.py)
        name = str(v.get("name")) if isinstance(v, dict) else "?"
        if isinstance(v, dict) and v.get("type") == "target":
            return Terminal(TerminalKind.UNMODELLED, text=f"iptables target {name}")
        if name == "comment":
            return Effect("comment")  # always matches
        return Unsupported(f"iptables match {name} (xt: options not modelled)")
    return Effect(k)


def _nat(kind: TerminalKind, v: Any, text: str) -> Terminal:
    """``dnat to 10.2.0.2:80``, ``redirect to :8080``, ``snat to 192.0.2.1``, ``masquerade``: the target
    when it is one literal address and/or port (libnftables-json(5) NAT statements)."""
    v = v if isinstance(v, dict) else {}
    addr = port = family = None
    literal = True
    if "addr" in v:
        try:
            family, addr = V.address_value(str(v["addr"])) if isinstance(v["addr"], str) else (None, None)
        except ValueError:
            addr = None
        literal = addr is not None
    if "port" in v:
        port = v["port"] if isinstance(v["port"], int) else None
        literal = literal and port is not None
    return Terminal(kind, family=family, addr=addr, port=port, literal=literal, text=text)


def _verdict(s: Any, origin: Origin | None, path: str) -> Verdict:
    if isinstance(s, dict) and len(s) == 1:
        (k, v), = s.items()
        if k in RULE_VERDICTS:
            return Verdict(VerdictKind(k))
        if k in CHAIN_VERDICTS and isinstance(v, dict) and "target" in v:
            return Verdict(VerdictKind(k), str(v["target"]))
    raise InputError(f"not a verdict: {s!r}", origin, path=path)


def _left(e: Any) -> Left:
    """Compile a left-hand expression into a Field or a Concat of Fields."""
    if isinstance(e, dict) and len(e) == 1:
        (k, v), = e.items()
        if k == "payload" and isinstance(v, dict) and "protocol" in v:
            proto, fld = str(v["protocol"]), str(v.get("field"))
            if fld in ("sport", "dport") and proto in ("tcp", "udp", "sctp", "th", "udplite", "dccp"):
                return Field("payload", proto, fld, "port" if proto in ("tcp", "udp", "sctp", "th") else "unknown")
            return Field("payload", proto, fld, _PAYLOAD_KINDS.get((proto, fld), "unknown"))
        if k == "meta" and isinstance(v, dict):
            key = str(v.get("key"))
            return Field("meta", None, key, _META_KINDS.get(key, "unknown"))
        if k == "ct" and isinstance(v, dict):
            key = str(v.get("key"))
            kind = _CT_KINDS.get(key, "unknown") if not v.get("dir") else "unknown"
            return Field("ct", None, key, kind)
        if k == "concat" and isinstance(v, list):
            items = []
            for x in v:
                f = _left(x)
                items.append(f if isinstance(f, Field) else Field("other", None, "concat", "unknown"))
            return Concat(tuple(items))
        if k == "&" and isinstance(v, list) and len(v) == 2:
            f = _left(v[0])
            if isinstance(f, Field) and f.kind != "unknown":
                try:
                    m = _mask(v[1], f.kind)
                except _Bad:
                    return Field("other", None, "&", "unknown")
                return Field(f.source, f.protocol, f.name, f.kind, mask=m)
    name = next(iter(e)) if isinstance(e, dict) and e else str(e)
    return Field("other", None, str(name), "unknown")


def _kinds(left: Left) -> tuple[str, ...]:
    return tuple(f.kind for f in left.items) if isinstance(left, Concat) else (left.kind,)


def _match(v: dict[str, Any], origin: Origin | None, path: str) -> Statement:
    left = _left(v.get("left"))
    op = str(v.get("op", "=="))
    kinds = _kinds(left)
    if "unknown" in kinds:
        return Unsupported(stmt_text({"match": v}), left)  # 'fib daddr type local', as nft prints it
    right = v.get("right")
    bitmask = len(kinds) == 1 and kinds[0] in BITMASK_KINDS
    try:
        if isinstance(right, str) and right.startswith("@"):
            return Match(left, op, SetRef(right[1:]), is_set=True)
        if isinstance(right, dict) and "set" in right:
            items = right["set"] if isinstance(right["set"], list) else [right["set"]]
            return Match(left, op, tuple(_element(x, kinds) for x in items), is_set=True)
        if bitmask and (isinstance(right, list) or (isinstance(right, dict) and "|" in right) or op == "!"):
            # flags as a list or an OR: 'in' tests any bit, '==' / '!=' the exact value, '!' no bit
            return Match(left, op, Mask(_mask(right, kinds[0])))
        return Match(left, op, (_element(right, kinds),))
    except _Bad as exc:
        raise InputError(f"cannot read match value: {exc}", origin, path=path) from None


def _mask(x: Any, kind: str) -> int:
    table = _SYMBOLS.get(kind, {})
    if isinstance(x, dict) and len(x) == 1 and isinstance(x.get("|"), list):
        x = x["|"]
    if isinstance(x, list):
        bits = 0
        for item in x:
            bits |= _mask(item, kind)
        return bits
    n = V.lookup_symbol(table, x)
    if n is None:
        raise _Bad(f"unknown {kind} value {x!r}")
    return n


def _plain_ipv4_elements(raw: list[Any]) -> list[Element] | None:
    """The elements of an IPv4 address set when every one is a plain dotted quad (a 50,000-address
    blocklist as nft lists it), read in one pass; None when some element needs the general reader (a
    prefix, a range, a value nft would refuse), which then reads them all and names a bad one."""
    pton, af, from_bytes = socket.inet_pton, socket.AF_INET, int.from_bytes
    out: list[Element] = []
    try:
        for x in raw:
            n = from_bytes(pton(af, x), "big")  # a str only; strict dotted quad, as address_value reads it
            out.append((Interval(n, n),))
    except (OSError, TypeError):
        return None
    return out


def _element(x: Any, kinds: tuple[str, ...]) -> Element:
    """One set element or literal, one component per concatenated kind."""
    if isinstance(x, dict) and "elem" in x and isinstance(x["elem"], dict):
        x = x["elem"].get("val")
    if len(kinds) > 1:
        if not (isinstance(x, dict) and isinstance(x.get("concat"), list) and len(x["concat"]) == len(kinds)):
            raise _Bad(f"expected a concatenation of {len(kinds)} values, got {x!r}")
        return tuple(_component(c, k) for c, k in zip(x["concat"], kinds))
    return (_component(x, kinds[0]),)


def _component(x: Any, kind: str) -> Interval | Name:
    if kind == "ifname":
        if not isinstance(x, str):
            raise _Bad(f"interface name expected, got {x!r}")
        if x.endswith("\\*"):  # an escaped asterisk is a literal '*'
            return Name(x[:-2] + "*")
        if x.endswith("*"):
            return Name(x[:-1], prefix=True)
        return Name(x)
    if kind == "iface":
        return Name(str(x) if isinstance(x, str) else f"#{x}")
    if isinstance(x, dict) and len(x) == 1:
        (k, v), = x.items()
        if k == "range" and isinstance(v, list) and len(v) == 2:
            lo, hi = _scalar(v[0], kind), _scalar(v[1], kind)
            if lo >= hi:  # nft: "Range has zero or negative size" (evaluate.c, expr_evaluate_range)
                raise _Bad(f"range {v[0]!r}-{v[1]!r} has zero or negative size")
            return Interval(lo, hi)
        if k == "prefix" and isinstance(v, dict):
            try:
                fam, base = V.address_value(str(v.get("addr")))
            except ValueError:
                raise _Bad(f"not an address: {v.get('addr')!r}") from None
            bits = 32 if fam == 4 else 128
            ln = v.get("len", bits)
            if isinstance(ln, bool) or not isinstance(ln, int) or not 0 <= ln <= bits:
                raise _Bad(f"prefix length {ln!r} is not between 0 and {bits}")
            size = 1 << (bits - ln)
            lo = base & ~(size - 1)
            return Interval(lo, lo + size - 1)
    n = _scalar(x, kind)
    return Interval(n, n)


def _scalar(x: Any, kind: str) -> int:
    if kind in ("addr4", "addr6"):
        try:
            fam, n = V.address_value(str(x))
        except ValueError:
            raise _Bad(f"not an address: {x!r}") from None
        if fam != (4 if kind == "addr4" else 6):
            raise _Bad(f"address {x} is not IPv{4 if kind == 'addr4' else 6}")
        return n
    sym = V.lookup_symbol(_SYMBOLS.get(kind, {}), x)
    if sym is None:
        raise _Bad(f"unknown {kind} value {x!r}")
    n = sym
    bits = _KIND_BITS.get(kind)
    if bits is not None and not 0 <= n < 1 << bits:
        # nft: "Value 99999 exceeds valid range 0-65535"
        raise _Bad(f"{kind} value {x!r} exceeds the valid range 0-{(1 << bits) - 1}")
    return n


_KIND_BITS = {"port": 16, "l4proto": 8, "nfproto": 8, "ethertype": 16, "mark": 32, "ctmark": 32,
              "icmptype": 8, "icmpcode": 8, "icmpv6type": 8, "icmpv6code": 8, "ctstate": 32, "tcpflags": 8,
              "ctdir": 8}
"""Width of each value kind (nft's datatypes): a literal outside it is refused, as nft refuses it."""

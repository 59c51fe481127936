"""Provides the TUI's data layer for host firewalls (nftables): the matrix of one or more hosts and rule traces.

No Textual here. :class:`NftSession` implements the screens' :class:`~.protocol.Session` (as the Kubernetes
session does) plus the nftables views: the cursor line (:meth:`one_line`),
the rule trace of a cell (:meth:`explanation_blocks`) and a chain's rules (:meth:`chain_blocks`).
Rows and columns are address classes and hosts (``kubectl_microseg.nft.matrix``); a cell is explained by
evaluating probe packets (one per allowed port range, and one the rules drop) through the same
evaluator as ``nft explain``, with the trace it records.
"""

from __future__ import annotations

import argparse
import ipaddress
import threading
from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path

from kubectl_microseg.demo import HOST_INVENTORY
from kubectl_microseg.engine.matrix import Matrix
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.nft.evaluate import Evaluation, evaluate
from kubectl_microseg.nft.explain import explain_lines
from kubectl_microseg.nft.matrix import AddressClass, HostSpec, build_matrix, layout, split_address
from kubectl_microseg.nft.hosts import hosts_of
from kubectl_microseg.nft.model import Chain
from kubectl_microseg.nft.packet import Flow
from kubectl_microseg.vocab import FlowVerdict, SessionKind

from .explain_doc import Block
from .grid import Granularity, GridModel
from .protocol import Feature

GRANULARITY_WORDS = {"namespace": "groups", "workload": "classes & hosts", "pod": "classes & hosts"}
MAX_PROBES = 6
"""Allowed port ranges traced per direction of a cell (the rest are listed, not traced)."""
DENIED_PROBES = (("tcp", 22), ("tcp", 443), ("tcp", 5432), ("tcp", 8080), ("tcp", 1), ("udp", 53), ("udp", 1))


def _addr_text(combined: int) -> str:
    fam, a = split_address(combined)
    return str(ipaddress.IPv4Address(a) if fam == 4 else ipaddress.IPv6Address(a))


def chain_text(ch: Chain) -> str:
    """The chain as ``nft -a list chain`` shows it (handles as comments)."""
    lines = [f"table {ch.family} {ch.table} {{", f"  chain {ch.name} {{"]
    if ch.is_base:
        lines.append(f"    type {ch.type or 'filter'} hook {ch.hook} priority {ch.prio or 0}; policy {ch.policy};")
    for r in ch.rules:
        c = f' comment "{r.comment}"' if r.comment and "comment" not in r.text else ""
        lines.append(f"    {r.text}{c}  # handle {r.handle}")
    if not ch.rules:
        lines.append("    # no rules")
    lines += ["  }", "}"]
    return "\n".join(lines)


@dataclass
class Probe:
    """One traced packet of a cell: the flow, its evaluation, and on which host it was evaluated."""

    host: str
    flow: Flow
    ev: Evaluation


@dataclass
class NftSession:
    """The analysed hosts and their matrix (immutable; load again to refresh)."""

    hosts: list[HostSpec]
    matrix: Matrix
    hooks: tuple[str, ...] = ("input", "output")
    description: str = "host firewall"
    args: argparse.Namespace = field(default_factory=argparse.Namespace)
    kind: SessionKind = SessionKind.NFT
    granularities: tuple[Granularity, ...] = ("namespace", "workload")
    features: ClassVar[frozenset[Feature]] = frozenset()
    """No simulate, scaffold, findings or probe views here (``nft simulate`` / ``nft scaffold`` on the CLI)."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    """Nothing updates a host-firewall session in place; the lock is there for the screens' one protocol."""
    classes: dict[str, AddressClass] = field(default_factory=dict, init=False)
    host_addrs: dict[str, list[int]] = field(default_factory=dict, init=False)
    _memo: dict[tuple[str, str], list[Probe]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        lay = layout(self.hosts)  # the classes and host addresses build_matrix used
        self.classes = {c.id: c for c in lay.classes}
        self.host_addrs = lay.addrs

    # ------------------------------------------------------------------ what the app asks of a session
    def grid(self, granularity: Granularity, **kw) -> GridModel:
        """Address classes and hosts; 'namespace' folds the two groups (addresses, hosts)."""
        model = GridModel.from_matrix(self.matrix, granularity="namespace" if granularity == "namespace"
                                      else "workload", **kw)
        if granularity == "namespace":
            model.collapse_all(True)
        return model

    def granularity_word(self, granularity: str) -> str:
        return GRANULARITY_WORDS.get(granularity, granularity)

    def host(self, name: str) -> HostSpec | None:
        return next((h for h in self.hosts if h.name == name), None)

    def chains(self) -> dict[str, tuple[str, Chain]]:
        """Every chain of every host by key ('host|family table chain')."""
        return {f"{h.name}|{ch.label()}": (h.name, ch) for h in self.hosts for ch in h.ruleset.chains.values()}

    # ------------------------------------------------------------------ traces
    def _legs(self, src: str, dst: str) -> list[tuple[HostSpec, str, int, int]]:
        """The (host, hook, source address, destination address) evaluations a src → dst connection crosses."""
        hs, hd = self.host(src), self.host(dst)
        cs, cd = self.classes.get(src), self.classes.get(dst)

        def addr(name: str, fam: int) -> int | None:
            return next((a for a in self.host_addrs[name] if split_address(a)[0] == fam), None)

        if cs is not None and hd is not None:
            a = addr(hd.name, cs.family)
            return [] if a is None else [(hd, "input", cs.representative, a)]
        if hs is not None and cd is not None:
            a = addr(hs.name, cd.family)
            return [] if a is None else [(hs, "output", a, cd.representative)]
        if hs is not None and hd is not None and hs is not hd:
            for a in self.host_addrs[hs.name]:
                b = addr(hd.name, split_address(a)[0])
                if b is not None:
                    return [(hs, "output", a, b), (hd, "input", a, b)]
            return []
        if cs is not None and cd is not None and "forward" in self.hooks and cs.family == cd.family:
            return [(h, "forward", cs.representative, cd.representative) for h in self.hosts]
        return []

    def probes(self, src: str, dst: str) -> list[Probe]:
        """Traced packets for src → dst: one per allowed port range (up to MAX_PROBES), then one the rules drop."""
        key = (src, dst)
        if key in self._memo:
            return self._memo[key]
        legs = self._legs(src, dst)
        allowed = self.matrix.get(src, dst)
        wanted: list[tuple[str, int | None]] = []
        for proto, lo, _hi in allowed:
            p = proto.lower()
            wanted.append((p, None if p.startswith("icmp") else lo))
        wanted = wanted[:MAX_PROBES]
        denied = next(((p, n) for p, n in DENIED_PROBES if not allowed.allows(p.upper(), n)), None)
        if denied is not None:
            wanted.append(denied)
        out: list[Probe] = []
        for proto, port in wanted:
            for h, hook, a, b in legs:
                if proto.startswith("icmp"):
                    proto = "icmp" if split_address(a)[0] == 4 else "icmpv6"
                flow = Flow(_addr_text(a), _addr_text(b), proto, port, hook)
                ev = evaluate(h.ruleset, flow.packet(), hook)
                out.append(Probe(h.name, flow, ev))
                if ev.verdict == FlowVerdict.DENY:
                    break  # the connection stops at the first host that drops it
        self._memo[key] = out
        return out

    def one_line(self, src: str, dst: str) -> str:
        """The cursor line: what decided the first probe (the accepting rule, or what drops the rest)."""
        probes = self.probes(src, dst)
        if not probes:
            return "no path through a host's hooks (rows and columns meet only at a host)"
        ok = [p for p in probes if p.ev.verdict == FlowVerdict.ALLOW]
        bad = [p for p in probes if p.ev.verdict != FlowVerdict.ALLOW]
        parts = []
        if ok:
            parts.append(f"accepted by {ok[0].host}: {ok[0].ev.because()[-1]}")
        if bad:
            b = bad[-1]
            why = b.ev.because()[0] if b.ev.because() else b.ev.verdict
            parts.append(f"{'else ' if ok else ''}{b.ev.verdict} on {b.host}: {why}")
        return " · ".join(parts)

    def explanation_blocks(self, src: str, dst: str) -> list[Block]:
        """Both directions: the verdict, then each probe's flow and its rule trace; the deciding chains."""
        blocks: list[Block] = [Block("title", f"{src} ⇄ {dst}")]
        deciding: dict[str, tuple[str, Chain]] = {}
        for a, b in ((src, dst), (dst, src)):
            conns: ConnSet = self.matrix.get(a, b)
            verdict = conns.describe("all ports") if conns else "denied"
            blocks.append(Block("verdict", f"{a} → {b}: {verdict}", bool(conns)))
            probes = self.probes(a, b)
            if not probes:
                blocks.append(Block("note", f"{a} → {b}: no host hook on this path (nothing to trace)"))
                continue
            for p in probes:
                ok = p.ev.verdict == FlowVerdict.ALLOW
                blocks.append(Block("reason", f"{p.host}: {p.flow.describe()} → {p.ev.verdict}", ok))
                blocks.append(Block("code", "\n".join(explain_lines(p.flow, p.ev))))
                for o in p.ev.outcomes:
                    deciding.setdefault(f"{p.host}|{o.base.label()}", (p.host, o.base))
        if deciding:
            blocks.append(Block("title", "deciding chains"))
            for _key, (host, ch) in deciding.items():
                blocks.append(Block("code", chain_text(ch), origin=f"{host}: {ch.label()}"))
        return blocks

    def chain_blocks(self, key: str) -> list[Block]:
        """A chain's rules (the side tree and the chain list open this)."""
        host, ch = self.chains()[key]
        blocks = [Block("title", f"{host}: {ch.label()}")]
        if ch.is_base:
            blocks.append(Block("direction", f"base chain on hook {ch.hook}, priority {ch.prio or 0}, "
                                             f"policy {ch.policy}"))
        else:
            blocks.append(Block("direction", "regular chain (reached by jump or goto)"))
        spec = self.host(host)
        assert spec is not None  # chains() names hosts of this session
        blocks.append(Block("code", chain_text(ch), origin=f"{host} · {spec.ruleset.description}"))
        return blocks


# ---------------------------------------------------------------------- loading

def read_hosts(args: argparse.Namespace) -> tuple[list[HostSpec], str]:
    """The hosts of ``tui --nft``: --inventory FILE, --ruleset FILE ..., --demo, or the live ruleset (root),
    read by the registry's host-firewall source (``--source``, default nftables)."""
    from kubectl_microseg.load import source_for

    snapshot = source_for(args, SessionKind.NFT).load()
    hosts = hosts_of(snapshot.objects, snapshot.description)
    inventory = getattr(args, "inventory", None)
    if inventory is not None:  # the title names the file, not its path
        inv = inventory or str(HOST_INVENTORY)
        return hosts, f"hosts of {Path(inv).name}"
    return hosts, snapshot.description


def build_nft_session(hosts: list[HostSpec], description: str, hooks: tuple[str, ...] = ("input", "output"),
                      args: argparse.Namespace | None = None) -> NftSession:
    """Compute the hosts' matrix (the slow part; the app runs it in a worker)."""
    m = build_matrix(hosts, hooks=hooks, title=f"nftables connectivity ({description})")
    return NftSession(hosts, m, hooks, description, args if args is not None else argparse.Namespace())


class NftSource:
    """The TUI's source for host firewalls: ``session(args)`` reads the rulesets and builds the matrix."""

    def __init__(self, args: argparse.Namespace, hooks: tuple[str, ...] = ("input", "output")) -> None:
        self.args = args
        self.hooks = hooks

    def session(self, args: argparse.Namespace | None = None) -> NftSession:
        hosts, description = read_hosts(self.args)
        return build_nft_session(hosts, description, self.hooks, self.args)

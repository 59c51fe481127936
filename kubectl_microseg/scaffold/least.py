"""Provides the ``from-matrix`` scaffold: least-privilege policies that allow exactly a set of flows.

For every workload that takes part in a flow, one policy selects exactly that workload's pods and has
one ingress rule per source and one egress rule per destination, each with exactly the flows' ports.
A connection needs the source's egress and the destination's ingress (both sides are written, so it
works whether or not either side is isolated), and a rule is one peer times its ports, so no rule
opens a (peer, port) pair nobody asked for. Together with a default deny in the namespaces involved,
the matrix then allows exactly the flows (checked by a property test against the engine).

Selecting exactly one workload: its pods' common labels, plus, for every other workload of the
namespace whose pods would also match, a requirement that tells them apart (``key DoesNotExist`` for a
label only the other has, ``key NotIn`` for a value only the other has). Workloads whose pods have the
same labels cannot be told apart by any NetworkPolicy: that is an error, not a silent widening.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..model.addresses import V6_BASE, AddressSet, interval_cidrs
from ..engine.matrix import Matrix
from ..model.cluster import Cluster, Workload
from ..model.ports import ConnSet
from ..model.selectors import LabelSelector, Operator, Requirement
from .dns import DnsTarget
from .draft import DraftRule, PolicyDraft, Selector, describe_ports, dns_label, ip_peer, pods_peer, selector_dict
from .flows import Flow, conns_to_ports
from .templates import allow_dns, default_deny

MAX_EXCEPTS = 8


def exact_selector(w: Workload, cluster: Cluster) -> Selector:
    """A pod selector that matches every pod of ``w`` and no pod of another workload of its namespace.

    Raises:
        UsageError: another workload's pods carry the same labels, so no selector can separate them.
    """
    members = [m.label_dict() for m in w.members]
    common = dict(set.intersection(*(set(m.items()) for m in members))) if members else {}
    reqs = [Requirement(k, Operator.IN, frozenset([v])) for k, v in sorted(common.items())]
    for other in cluster.workloads:
        if other is w or other.namespace != w.namespace:
            continue
        for om in other.members:
            labels = om.label_dict()
            if not LabelSelector(tuple(reqs)).matches(labels):
                continue
            req = _separator(labels, members)
            if req is None:
                raise UsageError(f"cannot select {w.id} without {other.id}: their pods have the same labels "
                                 f"({', '.join(f'{k}={v}' for k, v in sorted(labels.items())) or 'none'}), so "
                                 "every NetworkPolicy treats them alike; give one of them a distinguishing label")
            reqs.append(req)
    return selector_dict(LabelSelector(tuple(reqs)))


def _separator(other: dict[str, str], members: list[dict[str, str]]) -> Requirement | None:
    """A requirement every member meets and ``other`` does not."""
    for key in sorted(other):
        if all(key not in m for m in members):
            return Requirement(key, Operator.DOES_NOT_EXIST)
    for key in sorted(other):
        if all(m.get(key) != other[key] for m in members):
            return Requirement(key, Operator.NOT_IN, frozenset([other[key]]))
    for key in sorted({k for m in members for k in m}):
        if key not in other and all(key in m for m in members):
            return Requirement(key, Operator.EXISTS)
    return None


def address_peers(addresses: AddressSet) -> tuple[dict[str, Any], ...]:
    """ipBlock peers covering exactly ``addresses``: per interval, the smallest CIDR that contains it
    with the rest listed under ``except`` (each except must be a strict subset of the cidr), or plain
    CIDRs where that would need more than MAX_EXCEPTS holes."""
    peers = []
    for lo, hi in addresses.intervals:
        v6 = lo >= V6_BASE
        bits = 128 if v6 else 32
        base_off = V6_BASE if v6 else 0
        a, b = lo - base_off, hi - base_off
        prefix = bits - (a ^ b).bit_length()  # the longest prefix shared by the first and last address
        net_lo = a & ~((1 << (bits - prefix)) - 1)
        addr = ipaddress.IPv6Address(net_lo) if v6 else ipaddress.IPv4Address(net_lo)
        net = ipaddress.ip_network(f"{addr}/{prefix}")
        holes = AddressSet.from_cidr(str(net)) - AddressSet([(lo, hi)])
        hole_cidrs = holes.cidrs()
        if len(hole_cidrs) <= MAX_EXCEPTS:
            peers.append(ip_peer(str(net), tuple(hole_cidrs)))
        else:
            peers.extend(ip_peer(c) for c in interval_cidrs(lo, hi))
    return tuple(peers)


@dataclass
class _Side:
    """The rules collected for one workload."""

    workload: Workload
    ingress: dict[str, list[Flow]] = field(default_factory=dict)
    egress: dict[str, list[Flow]] = field(default_factory=dict)


def merge_ports(flows: list[Flow]) -> tuple[dict[str, Any], ...]:
    """The union of the flows' ports as few port items as possible; () if any flow allows every port."""
    conns = ConnSet.none()
    named: set[tuple[str, str]] = set()
    for f in flows:
        if not f.ports:
            return ()
        for p in f.ports:
            port = p.get("port")
            if isinstance(port, str):
                named.add((p["protocol"], port))
            elif port is None:
                conns = conns | ConnSet.protocol(p["protocol"])
            else:
                conns = conns | ConnSet.ports(p["protocol"], port, p.get("endPort"))
    items = list(conns_to_ports(conns)) if conns else []
    if conns and not items:
        return ()
    items.extend({"protocol": proto, "port": name} for proto, name in sorted(named))
    return tuple(items)


def build(flows: list[Flow], cluster: Cluster, *, dns: DnsTarget | None = None,
          with_default_deny: bool = True, no_default_deny_in: frozenset[str] = frozenset()
          ) -> tuple[list[PolicyDraft], list[str]]:
    """Least-privilege policies for the flows to allow (``deny`` flows are ignored here).

    Returns the drafts (default deny and DNS first, then one policy per workload, sorted) and notes.

    Raises:
        UsageError: an end is neither a workload of the model nor an address, or cannot be selected.
    """
    notes: list[str] = []
    by_id = {w.id: w for w in cluster.workloads}
    sides: dict[str, _Side] = {}
    selectors: dict[str, Selector] = {}

    def end(f: Flow, eid: str, addresses: AddressSet | None) -> Workload | None:
        if addresses is not None:
            return None
        w = by_id.get(eid)
        if w is None:
            raise UsageError(f"{f.origin}: {eid!r} is not a workload of the model (namespace/name) nor an IP "
                             "address or CIDR")
        if w.host_network:
            raise UsageError(f"{eid} runs with hostNetwork: NetworkPolicies do not apply to it; leave it out")
        if eid not in selectors:
            selectors[eid] = exact_selector(w, cluster)
        return w

    for f in flows:
        if f.deny:
            continue
        ws, wd = end(f, f.src, f.src_addresses), end(f, f.dst, f.dst_addresses)
        if ws is None and wd is None:
            notes.append(f"skipped {f.src} -> {f.dst}: both ends are outside the cluster")
            continue
        if wd is not None:
            sides.setdefault(wd.id, _Side(wd)).ingress.setdefault(f.src, []).append(f)
        if ws is not None:
            sides.setdefault(ws.id, _Side(ws)).egress.setdefault(f.dst, []).append(f)

    drafts: list[PolicyDraft] = []
    namespaces = sorted({s.workload.namespace for s in sides.values()})
    if with_default_deny:
        drafts.extend(default_deny(ns) for ns in namespaces if ns not in no_default_deny_in)
    if dns is not None:
        drafts.extend(allow_dns(ns, dns) for ns in namespaces)
    for wid in sorted(sides):
        drafts.append(_policy(sides[wid], selectors, flows))
    return drafts, notes


def _peer(eid: str, flow: Flow, selectors: dict[str, Selector], own_ns: str, direction: str) -> tuple[dict[str, Any], ...]:
    addresses = flow.src_addresses if direction == "ingress" else flow.dst_addresses
    if addresses is not None:
        return address_peers(addresses)
    return (pods_peer(selectors[eid], eid.split("/", 1)[0], own_ns),)


def _policy(side: _Side, selectors: dict[str, Selector], flows: list[Flow]) -> PolicyDraft:
    w = side.workload
    rules: dict[str, list[DraftRule]] = {"ingress": [], "egress": []}
    for direction, table in (("ingress", side.ingress), ("egress", side.egress)):
        for peer_id in sorted(table):
            fl = table[peer_id]
            ports = merge_ports(fl)
            where = sorted({f.origin for f in fl})
            arrow = f"From {peer_id}" if direction == "ingress" else f"To {peer_id}"
            why = f"{arrow} on {describe_ports(ports)}: requested in {', '.join(where)}."
            rules[direction].append(DraftRule(why, _peer(peer_id, fl[0], selectors, w.namespace, direction), ports))
    types = tuple(t for t, d in (("Ingress", "ingress"), ("Egress", "egress")) if rules[d])
    header = (f"Least privilege for {w.id} ({w.kind}): exactly the requested flows, nothing more.",
              "Each rule names one peer and only the ports asked for; the peer's own policy has the matching",
              "rule for the other direction. Apply with a default deny in the namespaces involved.")
    return PolicyDraft(w.namespace, dns_label(f"{w.name}-least-privilege"), header, selectors[w.id],
                       f"exactly the pods of {w.id}", types, tuple(rules["ingress"]), tuple(rules["egress"]))


def still_allowed(flows: list[Flow], matrix: Matrix, cluster: Cluster) -> list[str]:
    """Notes for ``expect: deny`` flows that the matrix (after scaffolding) still allows.

    A generated policy never opens them, but policies are additive: another policy of the cluster may.
    """
    notes = []
    ext = [(e.id, _addresses(e.cidrs)) for e in matrix.endpoints if e.is_external]
    for f in flows:
        if not f.deny:
            continue
        src = _endpoint_id(f.src, f.src_addresses, ext)
        dst = _endpoint_id(f.dst, f.dst_addresses, ext)
        if src is None or dst is None:
            continue
        p = f.ports[0]
        port = p.get("port")
        if isinstance(port, str):
            w = cluster.workload(dst)
            nums = {n for m in (w.members if w else []) for (name, proto, n) in m.named_ports
                    if name == port and proto == p["protocol"]}
        else:
            nums = {port} if isinstance(port, int) else set()
        if any(matrix.get(src, dst).allows(p["protocol"], n) for n in nums):
            notes.append(f"{f.origin} expects {f.src} -> {f.dst} {p['protocol']} {port} to be denied, but other "
                         "policies of the cluster still allow it")
    return notes


def _addresses(cidrs: tuple[str, ...]) -> AddressSet:
    out = AddressSet()
    for c in cidrs:
        out = out | AddressSet.from_cidr(c)
    return out


def _endpoint_id(eid: str, addresses: AddressSet | None, ext: list[tuple[str, AddressSet]]) -> str | None:
    if addresses is None:
        return eid
    for lo, _hi in addresses.intervals[:1]:
        return next((i for i, s in ext if s.contains_interval(lo, lo)), None)
    return None

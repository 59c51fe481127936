"""Provides the flows ``from-matrix`` works from: a flows file (the contract's ``test`` format) or the
pairs the current matrix allows between chosen namespaces.

A Flow is one (source, destination, ports) triple; an end is an endpoint id ('production/api') or
addresses outside the cluster (an IP address or CIDR in a flows file, an External endpoint of the
matrix). Flows marked ``expect: deny`` are not generated: they are kept to check that the result
still denies them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable, Mapping

from ..engine.matrix import Matrix
from ..errors import InputError, Origin
from ..model.addresses import AddressSet
from ..model.ports import ANY_PORT, K8S_PROTOCOLS, ConnSet
from .draft import port_entry


@dataclass(frozen=True)
class Flow:
    """A connection to allow (or, with ``deny``, to keep denied)."""

    src: str
    dst: str
    ports: tuple[dict[str, Any], ...]
    """Port items as in a policy; () means every port of every protocol."""
    origin: str
    """Where the flow was asked for ('flows.yaml flow 3', 'the current matrix')."""
    deny: bool = False
    src_addresses: AddressSet | None = None
    """For a source outside the cluster: its addresses."""
    dst_addresses: AddressSet | None = None


def parse_address(text: str) -> AddressSet | None:
    """An IP address (as a /32 or /128) or a CIDR; None when ``text`` is neither (an endpoint id)."""
    try:
        if "/" in text:
            net = ipaddress.ip_network(text.strip(), strict=False)
            return AddressSet.from_cidr(str(net))
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return AddressSet.from_cidr(f"{ip}/{ip.max_prefixlen}")


def parse_flows_file(data: Any, origin: Origin) -> list[Flow]:
    """The ``flows:`` list of a test file -> Flows. A port is required: least privilege needs one.

    Raises:
        InputError: naming the flow and field that is wrong.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("flows"), list):
        raise InputError("a flows file is a mapping with a 'flows' list (the `test` format)", origin)
    out = []
    for i, item in enumerate(data["flows"]):
        path = f"flows[{i}]"
        if not isinstance(item, Mapping):
            raise InputError("a flow is a mapping with from, to, port, protocol, expect", origin, path=path)
        src, dst = item.get("from"), item.get("to")
        for key, val in (("from", src), ("to", dst)):
            if not isinstance(val, str) or not val:
                raise InputError("Required value: an endpoint id (namespace/name) or an IP address", origin,
                                 path=f"{path}.{key}")
        port = item.get("port")
        if isinstance(port, bool) or not isinstance(port, (int, str)) or port == "":
            raise InputError("Required value: a port number or a port name of the destination", origin,
                             path=f"{path}.port")
        if isinstance(port, int) and not 1 <= port <= 65535:
            raise InputError(f"port must be between 1 and 65535 (got {port})", origin, path=f"{path}.port")
        proto = str(item.get("protocol") or "TCP").upper()
        if proto not in K8S_PROTOCOLS:
            raise InputError(f"protocol must be TCP, UDP or SCTP (got {item.get('protocol')!r})", origin,
                             path=f"{path}.protocol")
        expect = item.get("expect", "allow")
        if expect not in ("allow", "deny", None):
            raise InputError(f"expect must be allow or deny (got {expect!r})", origin, path=f"{path}.expect")
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        out.append(Flow(str(src), str(dst), (port_entry(proto, port),), f"{origin.describe()} flow {i + 1}",
                        expect == "deny", parse_address(str(src)), parse_address(str(dst))))
    return out


def conns_to_ports(conns: ConnSet) -> tuple[dict[str, Any], ...]:
    """A ConnSet as policy port items; () when it is every port of every protocol."""
    if conns.is_all():
        return ()
    out = []
    for proto, lo, hi in conns:
        if (lo, hi) == ANY_PORT:
            out.append(port_entry(proto))
        else:
            out.append(port_entry(proto, lo, hi if hi != lo else None))
    return tuple(out)


def flows_from_matrix(matrix: Matrix, namespaces: Iterable[str], *, external: bool = True) -> tuple[list[Flow], list[str]]:
    """The allowed pairs of ``matrix`` between workloads of ``namespaces`` (and, with ``external``,
    between those workloads and addresses outside the cluster). Returns flows and notes."""
    chosen = set(namespaces)
    by_id = {e.id: e for e in matrix.endpoints}
    flows, notes = [], []
    for s, d, cell in matrix.connections():
        es, ed = by_id[s], by_id[d]
        inside = [e for e in (es, ed) if not e.is_external]
        if not inside or any(e.namespace not in chosen for e in inside):
            continue
        if len(inside) < 2 and not external:
            continue
        if any(dict(e.extra).get("fqdn") for e in (es, ed)):
            notes.append(f"skipped {s} -> {d}: a DNS name (Cilium toFQDNs) has no NetworkPolicy form")
            continue
        if any(dict(e.extra).get("hostNetwork") for e in inside):
            notes.append(f"skipped {s} -> {d}: a hostNetwork pod takes part, and NetworkPolicies do not apply to it")
            continue
        if cell.partial:
            notes.append(f"{s} -> {d} holds for only some of the pods; the generated rule allows it for all of them")
        flows.append(Flow(s, d, conns_to_ports(cell.conns), "the current matrix",
                          src_addresses=_cidrs(es.cidrs) if es.is_external else None,
                          dst_addresses=_cidrs(ed.cidrs) if ed.is_external else None))
    return flows, notes


def _cidrs(cidrs: Iterable[str]) -> AddressSet:
    out = AddressSet()
    for c in cidrs:
        out = out | AddressSet.from_cidr(c)
    return out

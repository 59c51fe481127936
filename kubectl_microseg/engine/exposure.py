"""Provides the exposure checks that lint, simulate and apply share (one definition, three uses).

A workload is *exposed* when its own ingress policies admit:

- ``open-to-internet``: public addresses (outside the private, shared, loopback, link-local and multicast
  ranges), on some port;
- ``open-to-cluster``: every pod of every other namespace (``namespaceSelector: {}`` and the like), on
  some port; only its ingress side counts: the sources' egress may change any day.

Severity is what a security reviewer would choose: **error** when the ports include a sensitive service
(databases, caches, remote shells, cluster control ports: :data:`SENSITIVE_PORTS`), **info** otherwise (a
public web front end is exposed on purpose). Workloads that no policy isolates are left to the coverage
rules (MS003): everything reaches them, which those rules already say.

``lint`` reports the exposures of the state; the guards of ``simulate``/``apply`` (``engine/guards.py``)
report those a change creates or widens.

Pure: an Analyzer in, values out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.addresses import AddressSet
from ..model.ports import ConnSet
from ..vocab import Direction
from .k8s import Analyzer

SENSITIVE_PORTS: dict[int, str] = {
    22: "SSH", 23: "Telnet", 1433: "SQL Server", 1521: "Oracle", 2379: "etcd", 2380: "etcd peer",
    3306: "MySQL", 3389: "RDP", 5432: "PostgreSQL", 5984: "CouchDB", 6379: "Redis", 9042: "Cassandra",
    9200: "Elasticsearch", 10250: "kubelet", 11211: "memcached", 27017: "MongoDB",
}
"""Services that must never face the internet or the whole cluster (TCP): databases, caches, remote shells,
cluster control ports."""

NON_PUBLIC_CIDRS: tuple[str, ...] = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
)
"""Not the internet (RFC 1918, RFC 6598 shared, loopback, link-local, multicast, reserved; IPv6 alike)."""

NON_PUBLIC = AddressSet()
for _c in NON_PUBLIC_CIDRS:
    NON_PUBLIC = NON_PUBLIC | AddressSet.from_cidr(_c)

OPEN_TO_INTERNET, OPEN_TO_CLUSTER = "open-to-internet", "open-to-cluster"


def sensitive_ports(conns: ConnSet) -> list[str]:
    """'PostgreSQL (TCP 5432)' for each sensitive service ``conns`` allows."""
    return [f"{name} (TCP {port})" for port, name in SENSITIVE_PORTS.items() if conns.allows("TCP", port)]


@dataclass(frozen=True)
class Exposure:
    """One workload open to the internet or to the whole cluster, on ``ports``."""

    kind: str
    """open-to-internet or open-to-cluster."""
    workload: str
    namespace: str
    ports: ConnSet
    sources: str
    """Who may connect, in words ('the internet (0.0.0.0/0 except ...)', 'every pod of every namespace')."""

    @property
    def sensitive(self) -> list[str]:
        return sensitive_ports(self.ports)

    @property
    def severity(self) -> str:
        return "error" if self.sensitive else "info"

    def message(self, verb: str = "accepts") -> str:
        tail = f": {', '.join(self.sensitive)} must not be reachable from there" if self.sensitive else ""
        return f"{self.workload} {verb} connections from {self.sources} on {self.ports.describe()}{tail}"


def _public_atoms(analyzer: Analyzer) -> list[int]:
    out = []
    for i, atom in enumerate(analyzer.atoms):
        if AddressSet(atom.intervals) - NON_PUBLIC:
            out.append(i)
    return out


def internet_exposure(analyzer: Analyzer, wid: str, public: list[int] | None = None) -> tuple[ConnSet, list[str]]:
    """What public addresses may open to an ingress-isolated workload's pods (any pod), and from which ranges."""
    public = _public_atoms(analyzer) if public is None else public
    got, ranges = ConnSet.none(), []
    for cls in analyzer.workload_classes.get(wid, []):
        if analyzer.classes[cls].host_network or not analyzer.isolating["ingress"][cls]:
            continue
        mp = analyzer.atom_map(Direction.INGRESS, cls) or {}
        for i in public:
            if mp.get(i):
                got = got | mp[i]
                if analyzer.atoms[i].id not in ranges:
                    ranges.append(analyzer.atoms[i].id)
    return got, ranges


def cluster_exposure(analyzer: Analyzer, wid: str) -> ConnSet:
    """What a workload's ingress accepts from every pod of every other namespace (ingress side only).

    The sources' own egress policies are left out on purpose: a destination whose policies admit the whole
    cluster is exposed to any pod that is, or will be, allowed out.
    """
    w_ns = wid.split("/", 1)[0]
    # classes some pod still belongs to (an incrementally updated analyzer keeps dead classes' indices)
    others = [c.index for c in analyzer.classes if c.namespace != w_ns and not c.host_network
              and analyzer.class_workloads[c.index]]
    mine = [b for b in analyzer.workload_classes.get(wid, []) if not analyzer.classes[b].host_network]
    if not others or not mine:
        return ConnSet.none()
    result: ConnSet | None = None
    for b in mine:
        if not analyzer.isolating["ingress"][b]:
            conns = ConnSet.all()
        else:
            named = analyzer.classes[b].named_ports
            conns = ConnSet.all()
            for a in others:
                got = ConnSet.none()
                for cr in analyzer.rules_of["ingress"][b]:
                    if cr.classes >> a & 1:
                        got = got | cr.conns(named)
                conns = conns & got
                if not conns:
                    break
        result = conns if result is None else result & conns
    return result or ConnSet.none()


def _isolated(analyzer: Analyzer, wid: str) -> bool:
    return any(analyzer.isolating["ingress"][c] for c in analyzer.workload_classes.get(wid, [])
               if not analyzer.classes[c].host_network)


def exposures(analyzer: Analyzer) -> dict[tuple[str, str], Exposure]:
    """(kind, workload id) -> the exposure, for every ingress-isolated workload that has one."""
    public = _public_atoms(analyzer)
    out: dict[tuple[str, str], Exposure] = {}
    for w in analyzer.cluster.workloads:
        if not _isolated(analyzer, w.id):
            continue
        net, ranges = internet_exposure(analyzer, w.id, public)
        if net:
            shown = "; ".join(ranges[:3]) + ("; ..." if len(ranges) > 3 else "")
            out[(OPEN_TO_INTERNET, w.id)] = Exposure(OPEN_TO_INTERNET, w.id, w.namespace, net,
                                                     f"the internet ({shown})")
        wide = cluster_exposure(analyzer, w.id)
        if wide:
            out[(OPEN_TO_CLUSTER, w.id)] = Exposure(OPEN_TO_CLUSTER, w.id, w.namespace, wide,
                                                    "every pod of every namespace")
    return out

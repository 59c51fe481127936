"""Provides observed flows joined with the policy: each observed connection mapped onto endpoints and judged.

Categories (``Row.category``):
- ``allowed``: observed, and the policies allow it;
- ``denied-dropped``: observed, the policies deny it and the network dropped it (enforced as written);
- ``denied-forwarded``: observed and forwarded although the policies deny it: it *would be dropped if the
  policies were applied* (they are not yet, or the flows come from before them) -- the input of
  ``simulate --observed`` and of a review before enforcing;
- ``allowed-dropped``: the policies allow it but the network dropped it (a dataplane disagreement, as in
  ``probe``);
- ``unused``: allowed between endpoints in view, never observed in the window (least-privilege candidates).

An observed connection maps onto endpoints by pod IP, else by namespace and pod name (Calico's aggregated
``name-*`` prefixes included, when they name one endpoint); an address that is no pod is an outside address
(its External range). Conntrack's original destination may be a Service's ClusterIP: the reply tuple's
source (the backend pod) is used then.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterable

from ..engine.explain import explain_pair, find_workload, quick_allowed
from ..engine.k8s import Analyzer
from ..model.ports import ConnSet
from ..errors import InputError, Origin
from .flowlogs import Format, Seen, Verdict, parse
from .pods import PodRef, running_pods


class Category:
    ALLOWED = "allowed"
    DENIED_DROPPED = "denied-dropped"
    DENIED_FORWARDED = "denied-forwarded"
    ALLOWED_DROPPED = "allowed-dropped"
    UNUSED = "unused"


@dataclass
class Row:
    src: str
    dst: str
    protocol: str
    port: int | None
    category: str
    model: str
    network: str
    count: int = 0
    because: list[str] = field(default_factory=list)
    allowed: str = ""
    """For ``unused``: the ports allowed and never observed."""
    reasons: list[str] = field(default_factory=list)
    """Drop reasons reported by the dataplane (Hubble's drop_reason_desc)."""
    src_addresses: list[str] = field(default_factory=list)
    """For an end outside the cluster: the addresses observed (its endpoint is the whole External range)."""
    dst_addresses: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"from": self.src, "to": self.dst, "protocol": self.protocol, "port": self.port,
                             "category": self.category, "model": self.model, "network": self.network,
                             "count": self.count, "because": self.because}
        if self.allowed:
            d["allowed"] = self.allowed
        if self.reasons:
            d["dropReasons"] = self.reasons
        if self.src_addresses:
            d["fromAddresses"] = self.src_addresses
        if self.dst_addresses:
            d["toAddresses"] = self.dst_addresses
        return d


@dataclass
class Joined:
    rows: list[Row]
    unmapped: int = 0
    notes: list[str] = field(default_factory=list)

    def of(self, *cats: str) -> list[Row]:
        return [r for r in self.rows if r.category in cats]


class EndpointIndex:
    """Pod IPs and names -> the endpoint (and pod) they belong to."""

    def __init__(self, analyzer: Analyzer, pods: Iterable[PodRef]):
        self.analyzer = analyzer
        self.pods = list(pods)
        self.by_ip = {p.ip: p for p in self.pods}
        self.by_name = {(p.namespace, p.name): p for p in self.pods}
        self._views: dict[str, Any] = {}

    def pod_of(self, ip: str | None, ns: str | None, name: str | None) -> PodRef | str | None:
        """The pod (or an endpoint id, for an aggregated name) a record names; None if it names none."""
        if ip and ip in self.by_ip:
            return self.by_ip[ip]
        if ns and name:
            if name.endswith("*"):
                prefix = name[:-1]
                ids = {p.workload for p in self.pods if p.namespace == ns and p.name.startswith(prefix)}
                if len(ids) == 1:
                    return ids.pop()
                w = self.analyzer.cluster.workload(f"{ns}/{prefix.rstrip('-')}")
                return w.id if w else None
            if (ns, name) in self.by_name:
                return self.by_name[(ns, name)]
            try:  # a pod that is gone, named after its workload ("api-7d9f-x2x")
                return find_workload(self.analyzer, name, ns).id
            except Exception:
                return None
        return None

    def view(self, end: PodRef | str):
        """The engine's peer for a pod, an endpoint id or an outside address."""
        key = end.id if isinstance(end, PodRef) else end
        if key not in self._views:
            if isinstance(end, PodRef):
                w = find_workload(self.analyzer, end.workload, None)
                self._views[key] = w.pod_view(end.name) if end.name in w.pods and end.name != w.name else w
            elif "/" in end:
                self._views[key] = find_workload(self.analyzer, end, None)
            else:
                self._views[key] = self.analyzer.atom_for(end)
        return self._views[key]


def _end(index: EndpointIndex, ip: str | None, ns: str | None, name: str | None,
         alt_ip: str | None = None) -> PodRef | str | None:
    found = index.pod_of(ip, ns, name)
    if found is None and alt_ip:
        found = index.pod_of(alt_ip, None, None)
    if found is None and ip and not ns:
        return ip  # an address outside the cluster's pods
    return found


def join(analyzer: Analyzer, pods: list[PodRef], seen: Iterable[Seen], *,
         namespace: str | None = None, unused: bool = True) -> Joined:
    """Map every observed attempt onto endpoints, judge it, and add the allowed pairs never observed."""
    index = EndpointIndex(analyzer, pods)
    groups: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    unmapped = 0
    for s in seen:
        src = _end(index, s.src_ip, s.src_ns, s.src_name)
        dst = _end(index, s.dst_ip, s.dst_ns, s.dst_name, s.dst_alt)
        if src is None or dst is None or (isinstance(src, str) and "/" not in src
                                          and isinstance(dst, str) and "/" not in dst):
            unmapped += 1
            continue
        s_id = src.workload if isinstance(src, PodRef) else index.view(src).id
        d_id = dst.workload if isinstance(dst, PodRef) else index.view(dst).id
        if namespace and namespace not in (_ns(s_id), _ns(d_id)):
            continue
        g = groups.setdefault((s_id, d_id, s.protocol, s.port),
                              {"src": src, "dst": dst, "verdicts": {}, "reasons": set(), "src_ips": set(),
                               "dst_ips": set()})
        for end, key in ((src, "src_ips"), (dst, "dst_ips")):
            if isinstance(end, str) and "/" not in end:
                g[key].add(end)
        g["verdicts"][s.verdict] = g["verdicts"].get(s.verdict, 0) + s.count
        if s.reason:
            g["reasons"].add(s.reason)
    rows: list[Row] = []
    observed_pairs: dict[tuple[str, str], ConnSet] = {}
    for (s_id, d_id, proto, port), g in sorted(groups.items()):
        sv, dv = index.view(g["src"]), index.view(g["dst"])
        allowed = quick_allowed(analyzer, sv, dv).allows(proto, port)
        vs = g["verdicts"]
        network = Verdict.FORWARDED if vs.get(Verdict.FORWARDED) else \
            Verdict.DROPPED if vs.get(Verdict.DROPPED) else Verdict.UNANSWERED
        if allowed:
            cat = Category.ALLOWED_DROPPED if network == Verdict.DROPPED else Category.ALLOWED
        else:
            cat = Category.DENIED_FORWARDED if network == Verdict.FORWARDED else Category.DENIED_DROPPED
        because = []
        if cat != Category.ALLOWED:
            because = [r.short() for r in explain_pair(analyzer, sv, dv).deciding(proto, port)]
        rows.append(Row(s_id, d_id, proto, port, cat, "allow" if allowed else "deny", network, sum(vs.values()),
                        because, reasons=sorted(g["reasons"]), src_addresses=sorted(g["src_ips"]),
                        dst_addresses=sorted(g["dst_ips"])))
        pair = (s_id, d_id)
        observed_pairs[pair] = observed_pairs.get(pair, ConnSet.none()) | ConnSet.ports(proto, port)
    if unused:
        rows += _unused(analyzer, observed_pairs, namespace)
    notes = [f"{unmapped} observed record(s) not mapped onto endpoints (addresses or pods not in the model)"] \
        if unmapped else []
    return Joined(rows, unmapped, notes)


def _ns(eid: str) -> str | None:
    return eid.split("/", 1)[0] if "/" in eid else None


def _unused(analyzer: Analyzer, observed: dict[tuple[str, str], ConnSet], namespace: str | None) -> list[Row]:
    """Allowed connections between endpoints in view that were never observed (or only on some ports)."""
    in_view = {e for pair in observed for e in pair if "/" in e}
    if namespace:
        in_view |= {w.id for w in analyzer.cluster.workloads if w.namespace == namespace}
    keep = [w for w in analyzer.cluster.workloads if w.id in in_view]
    matrix = analyzer.matrix(keep, external=False)
    out = []
    for s, d, cell in matrix.connections():
        if s == d and (s, d) not in observed:
            continue  # an endpoint to itself: rarely a policy decision worth a line
        rest = cell.conns - observed.get((s, d), ConnSet.none())
        if rest:
            out.append(Row(s, d, "", None, Category.UNUSED, "allow", "never observed",
                           allowed=rest.describe("every port")))
    return out


def flows_document(rows: Iterable[Row]) -> dict[str, Any]:
    """The observed connections as a ``test`` flows file (what ``scaffold from-matrix --flows`` reads).

    What went through, and what the policies allow but the network dropped, is to keep (``expect: allow``);
    what the policies deny and the network dropped (or never answered) stays denied (``expect: deny``).
    Outside ends are the addresses observed, never their whole range."""
    flows = []
    for r in rows:
        if r.category == Category.UNUSED:
            continue
        expect = "deny" if r.category == Category.DENIED_DROPPED else "allow"
        for src in r.src_addresses or [r.src]:
            for dst in r.dst_addresses or [r.dst]:
                flows.append({"from": src, "to": dst, "port": r.port, "protocol": r.protocol, "expect": expect})
    return {"flows": flows}


def read_exports(paths: list[str], fmt: str = Format.AUTO) -> tuple[list[Seen], int]:
    """Every observed attempt of the files (errors name the file and line)."""
    seen: list[Seen] = []
    skipped = 0
    for path in paths:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", Origin(file=path)) from None
        except UnicodeDecodeError:
            raise InputError("not a text file", Origin(file=path)) from None
        got, n = parse(text, path, fmt)
        seen += got
        skipped += n
    return seen, skipped


def observe(analyzer: Analyzer, snapshot: Any, paths: list[str], *, fmt: str = Format.AUTO,
            namespace: str | None = None, unused: bool = True) -> Joined:
    """Read the exports and join them with the model of ``analyzer`` (whose pods come from ``snapshot``)."""
    seen, skipped = read_exports(paths, fmt)
    pods = running_pods(snapshot.objects, analyzer.cluster, running_only=False)
    joined = join(analyzer, pods, seen, namespace=namespace, unused=unused)
    if skipped:
        joined.notes.append(f"{skipped} record(s) skipped: replies, non-opening packets, no port (ICMP), or other "
                            "events")
    if not seen:
        joined.notes.append("no connection attempt in the exports: an empty window is not a clean one")
    return joined

"""Provides the service-mesh layer: Istio's verdict on a connection that L3/L4 (engine/pipeline.py) allows.

The mesh sits on top of the L4 pipeline and never changes it: a matrix cell that L4 allows gains a mesh
verdict (allowed / denied at L7 for every request / allowed for some requests) and an mTLS state (mtls /
plaintext / refused). Everything Istio decides is written here once, each rule citing istio.io's security
reference (docs/reference/config/security/authorization-policy and peer_authentication; the concepts page
docs/concepts/security "Authorization policies"):

- scope: a policy in the root namespace applies mesh-wide, elsewhere to its namespace; ``selector``
  narrows it to matching workloads; a policy with ``targetRefs`` binds to a gateway/waypoint/Service, not
  to sidecars (noted, not evaluated);
- order: "CUSTOM ... first, then the DENY action, and finally the ALLOW action"; AUDIT policies "do not
  affect whether requests are allowed or denied"; "If there are no ALLOW policies for the workload, allow
  the request ... If any of the ALLOW policies match the request, allow the request ... Deny the request";
- a policy without rules never matches (an ALLOW without rules allows nothing: "allow-nothing"); a rule
  ``{}`` matches every request ("allow-all");
- within a rule, ``from``, ``to`` and ``when`` are AND'ed; the items of a list OR'ed; the fields of a source
  or operation AND'ed; values match exactly, by prefix ``abc*``, suffix ``*abc`` or presence ``*``;
- ``principals`` and ``namespaces`` "require mTLS": a client without a sidecar has no identity, so they
  never match it (and their not- forms always do);
- PeerAuthentication: workload (selector) → namespace → mesh (root namespace, no selector; "policies with
  workload selectors are ignored when deployed in the root namespace"); UNSET inherits; "Mesh-wide peer
  authentication policies with an unset mode use the PERMISSIVE mode"; ``portLevelMtls`` overrides per
  workload port.

What a request carries (method, path, host, JWT, headers) is not known from the configuration: a rule that
depends on it matches *some* requests, and a cell whose verdict depends on it is "allowed for some
requests". ``when`` conditions on request data and CUSTOM (external) authorizers make the verdict uncertain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from ipaddress import ip_network
from typing import TYPE_CHECKING, Any, NamedTuple
from collections.abc import Iterable

from ..gcpause import paused_gc
from ..model.istio import (AUTHZ_KIND, PEER_AUTHN_KIND, AuthorizationPolicy, AuthzAction, AuthzRule, Dataplane,
                           OPAQUE_PROTOCOLS, Condition, MeshOptions, MeshService, MtlsMode, PeerAuthentication, pod_dataplane, pod_template, principal, service_account)
from ..model.ports import ConnSet
from ..vocab import StrEnum

if TYPE_CHECKING:
    from ..model.cluster import Cluster, Workload
    from .matrix import Matrix


class Match(IntEnum):
    """How much of the traffic of a pair a rule (or field) matches."""

    NEVER = 0
    SOME = 1
    ALWAYS = 2


class MeshVerdict(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    SOME = "some-requests"


class PeerAuthLevel(StrEnum):
    """Where a PeerAuthentication applies (peer_authentication: mesh-wide in the root namespace without a
    selector, namespace-wide without one, workload-specific with one); the narrowest with a mode wins."""

    MESH = "mesh"
    NAMESPACE = "namespace"
    WORKLOAD = "workload"


class MtlsState(StrEnum):
    MTLS = "mtls"
    PLAINTEXT = "plaintext"
    REFUSED = "refused"
    MIXED = "mixed"


@dataclass(frozen=True)
class MeshStep:
    """One line of the mesh chain of ``explain``: what an object says about the pair, and where it is."""

    text: str
    object: str = ""
    source: Any = field(default=None, compare=False, repr=False)
    path: tuple[Any, ...] = ()
    kind: str = ""
    """The object's kind (AuthorizationPolicy, PeerAuthentication) when ``object`` is set."""
    uncertain: bool = False
    """The step is a guess the input cannot settle (the verdict is then uncertain)."""

    @property
    def location(self) -> str:
        """'file, document N, line L' (looked up only when shown: finding a line may re-read the file)."""
        if self.source is None:
            return ""
        return str(self.source.origin.describe(self.source.line_of(self.path)))


@dataclass(frozen=True)
class MeshResult:
    verdict: MeshVerdict
    mtls: MtlsState
    mtls_ports: tuple[tuple[int, MtlsState], ...] = ()
    """Ports whose state differs from ``mtls`` (portLevelMtls)."""
    uncertain: bool = False
    steps: tuple[MeshStep, ...] = ()
    allowed_requests: tuple[str, ...] = ()
    """The operations the deciding ALLOW rules admit ("GET,POST /api/v1/*"), for 'some-requests'."""

    def to_contract(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict.value, "mtls": self.mtls.value}
        if self.mtls_ports:
            out["mtlsPorts"] = {str(p): s.value for p, s in self.mtls_ports}
        if self.allowed_requests:
            out["requests"] = list(self.allowed_requests)
        if self.uncertain:
            out["uncertain"] = True
        return out


class Side(NamedTuple):
    """A workload (or an outside address range) as the mesh sees it (a tuple: one per workload per matrix,
    built 5x faster than a frozen dataclass)."""

    namespace: str | None
    labels: tuple[tuple[str, str], ...]
    dataplane: Dataplane
    principal: str | None
    ips: tuple[str, ...] = ()
    name: str = ""
    """For messages (the matrix's verdicts are shared by client class, not by side)."""
    ports: tuple[tuple[str, int], ...] = ()
    """Its named TCP container ports (name, number): what a Service's named targetPort resolves to."""

    @property
    def in_mesh(self) -> bool:
        return self.dataplane is not Dataplane.NONE


def pattern_match(value: str, pats: Iterable[str]) -> bool:
    """authorization-policy: "exact match, prefix match (abc*), suffix match (*abc) and presence match (*)"."""
    for p in pats:
        if p == "*" or p == value or (p.endswith("*") and value.startswith(p[:-1])) or (
                p.startswith("*") and value.endswith(p[1:])):
            return True
    return False


def _describe_op(op: dict[str, tuple[str, ...]]) -> str:
    parts = []
    for k in ("methods", "paths", "hosts", "ports"):
        if op.get(k):
            parts.append(",".join(op[k]))
    for k in ("notMethods", "notPaths", "notHosts", "notPorts"):
        if op.get(k):
            parts.append(f"{k}={','.join(op[k])}")
    return " ".join(parts) or "any request"


@dataclass(frozen=True)
class Request:
    """An HTTP request a flow names (``test``, explain): what its method/path/host rules are matched against."""

    method: str | None = None
    path: str | None = None
    host: str | None = None

    def value(self, field_name: str) -> str | None:
        return {"methods": self.method, "paths": self.path, "hosts": self.host}[field_name]


_REQUEST_FIELDS = ("methods", "notMethods", "paths", "notPaths", "hosts", "notHosts")


_PLANE_KEYS = ("istio-injection", "istio.io/rev", "istio.io/dataplane-mode")
"""Namespace labels that may put its pods in the mesh (sidecar injection, a revision, ambient)."""
_OPT_IN_KEYS = ("sidecar.istio.io/inject", "istio.io/dataplane-mode")
"""A pod template's own opt-in keys: a label, or the older annotation."""


def namespace_may_mesh(labels: dict[str, str]) -> bool:
    """Whether a namespace's labels may put its pods in the mesh (what :attr:`MeshAnalyzer.active` looks for)."""
    return any(k in labels for k in _PLANE_KEYS)


def workload_may_mesh(w: Workload) -> bool:
    """Whether a workload's pod template opts in or out of the mesh itself (label or annotation)."""
    meta = pod_template(w.kind, w.source.raw if w.source is not None else {})[0]
    labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
    return any(k in labels or k in notes for k in _OPT_IN_KEYS)


class MeshCandidates:
    """The namespaces whose labels or workloads may put a pod in the mesh, kept current per event: a live
    model's O(changed namespaces) pre-check before :attr:`MeshAnalyzer.active` (which reads every workload).
    With no mesh objects and no candidate namespace, the mesh layer is not active."""

    def __init__(self, analyzer: Any):
        self.analyzer = analyzer
        """The engine.k8s.Analyzer read (a live model's; a rebuild makes a new one, so new candidates)."""
        self.namespaces: set[str] = set()
        for name in set(analyzer.cluster.namespaces) | set(analyzer.by_namespace):
            self.update(name)

    def update(self, ns: str) -> None:
        """Look at one namespace again (its labels and the workloads of its classes)."""
        a = self.analyzer
        labels = a.cluster.namespaces[ns].labels if ns in a.cluster.namespaces else {}
        if namespace_may_mesh(labels) or any(workload_may_mesh(w) for i in a.by_namespace.get(ns, ())
                                             for w in a.class_workloads[i]):
            self.namespaces.add(ns)
        else:
            self.namespaces.discard(ns)

    def may_mesh(self) -> bool:
        """False only when :attr:`MeshAnalyzer.active` is False (no mesh objects, no candidate namespace)."""
        return bool(self.analyzer.cluster.mesh) or bool(self.namespaces)


class MeshAnalyzer:
    """The mesh layer of one cluster: sides of workloads, scopes of policies, and the pair verdicts."""

    def __init__(self, cluster: Cluster, options: MeshOptions | None = None):
        options = options or MeshOptions()
        self.cluster = cluster
        self.root = options.root_namespace
        self.trust_domain = options.trust_domain
        self.authz = cluster.mesh.authz
        self.peer_authn = sorted(cluster.mesh.peer_authn, key=lambda e: (e[0].namespace, e[0].name))
        self._cache: dict[tuple[Any, ...], MeshResult] = {}
        self._traced: dict[tuple[Any, ...], MeshResult] = {}
        self._sides: dict[str, Side] | None = None
        self._dst_cache: dict[tuple[Any, ...], _Destination] = {}
        self._kinds: dict[tuple[Any, ...], _Destination] = {}
        self._classes: dict[tuple[Any, ...], tuple[Match, ...]] = {}
        self._selectors: dict[str | None, list[Any]] = {}
        self._uniform: dict[str | None, bool] = {}
        self._ops: dict[int, str] = {}
        self._authz_by_ns: dict[str, list[tuple[AuthorizationPolicy, Any]]] = {}
        for entry in self.authz:
            self._authz_by_ns.setdefault(entry[0].namespace, []).append(entry)
        self._pa_by_ns: dict[str, list[tuple[PeerAuthentication, Any]]] = {}
        for pa_entry in self.peer_authn:
            self._pa_by_ns.setdefault(pa_entry[0].namespace, []).append(pa_entry)
        self._services_by_ns: dict[str, list[MeshService]] = {}
        for svc in cluster.mesh.services:  # only those that make a port TCP-only matter
            if any(proto in OPAQUE_PROTOCOLS for _, proto in svc.ports):
                self._services_by_ns.setdefault(svc.namespace, []).append(svc)
        self._named_targets = any(isinstance(t, str) for ss in self._services_by_ns.values() for s in ss
                                  for t, _ in s.ports)
        self._uses_ips = any(k in ("ipBlocks", "notIpBlocks") for p, _ in self.authz for r in p.rules
                             for src in r.sources for k in src)
        self.notes: list[str] = []
        for pa, src in self.peer_authn:
            if pa.namespace == self.root and pa.selector is not None:
                self.notes.append(f"PeerAuthentication {pa.id} ({src.origin.describe()}): ignored, a policy with a "
                                  "workload selector in the root namespace is ignored (peer_authentication reference)")

    @property
    def active(self) -> bool:
        """Whether the mesh layer has anything to say (objects, or a workload in the mesh). Asked on every live
        update: without mesh objects it reads only what puts a pod in the mesh (no sides are built)."""
        if self.cluster.mesh:
            return True
        if any(namespace_may_mesh(ns.labels) for ns in self.cluster.namespaces.values()) \
                or any(workload_may_mesh(w) for w in self.cluster.workloads):
            return any(s.in_mesh for s in self.sides().values())
        return False

    def sides(self) -> dict[str, Side]:
        """Every workload's side by workload id (computed once)."""
        if self._sides is None:
            self._sides = {w.id: self.side(w) for w in self.cluster.workloads}
        return self._sides

    # -- sides ---------------------------------------------------------------------------------------
    def side(self, w: Workload) -> Side:
        meta, spec = pod_template(w.kind, w.source.raw if w.source is not None else {})
        ns = self.cluster.namespaces.get(w.namespace)
        plane = pod_dataplane(ns.labels if ns else {}, meta.get("labels") or {}, meta.get("annotations") or {})
        sa = service_account(spec)
        ips = tuple(ip for m in w.members for ip in m.ips) if self._uses_ips else ()
        ports = tuple(sorted({(n, num) for m in w.members for n, proto, num in m.named_ports if proto == "TCP"})) \
            if self._named_targets else ()
        return Side(w.namespace, tuple(sorted(w.labels.items())), plane,
                    principal(self.trust_domain, w.namespace, sa) if plane is not Dataplane.NONE else None,
                    ips, w.id, ports)

    # -- PeerAuthentication --------------------------------------------------------------------------
    def mtls_modes(self, dst: Side) -> tuple[MtlsMode, dict[int, MtlsMode], list[MeshStep]]:
        """The effective mode of the destination and its port-level overrides, with the deciding objects."""
        labels = dict(dst.labels)
        levels: dict[PeerAuthLevel, list[tuple[PeerAuthentication, Any]]] = {lv: [] for lv in PeerAuthLevel}
        for pa, src in self._pa_by_ns.get(self.root, []) + (
                self._pa_by_ns.get(dst.namespace or "", []) if dst.namespace != self.root else []):
            if pa.namespace == self.root and pa.selector is None:
                levels[PeerAuthLevel.MESH].append((pa, src))
            if pa.namespace == dst.namespace and pa.namespace != self.root:
                if pa.selector is None:
                    levels[PeerAuthLevel.NAMESPACE].append((pa, src))
                elif pa.selector.matches(labels):
                    levels[PeerAuthLevel.WORKLOAD].append((pa, src))
        steps: list[MeshStep] = []
        mesh, ns_pa, wl = (self._oldest(levels[k], k, steps) for k in PeerAuthLevel)
        if dst.namespace == self.root and mesh is not None:
            ns_pa = mesh
        mode = MtlsMode.UNSET
        for level, entry in ((PeerAuthLevel.WORKLOAD, wl), (PeerAuthLevel.NAMESPACE, ns_pa), (PeerAuthLevel.MESH, mesh)):
            if entry is None:
                continue
            pa, src = entry
            if mode is MtlsMode.UNSET and pa.mode is not MtlsMode.UNSET:
                mode = pa.mode
                steps.append(MeshStep(f"PeerAuthentication {pa.id} ({level}): mTLS {pa.mode.value}", pa.id,
                                      src, ("spec", "mtls", "mode"), PEER_AUTHN_KIND))
            elif pa.mode is MtlsMode.UNSET and mode is MtlsMode.UNSET:
                steps.append(MeshStep(f"PeerAuthentication {pa.id} ({level}): mode UNSET, inherits", pa.id,
                                      src, ("spec",), PEER_AUTHN_KIND))
        if mode is MtlsMode.UNSET:
            mode = MtlsMode.PERMISSIVE  # "Mesh-wide ... unset mode use the PERMISSIVE mode by default"
            steps.append(MeshStep("no PeerAuthentication sets a mode: PERMISSIVE (Istio's default)"))
        ports: dict[int, MtlsMode] = {}
        if wl is not None:
            for port, pm in wl[0].port_modes:
                ports[port] = mode if pm is MtlsMode.UNSET else pm
                steps.append(MeshStep(f"PeerAuthentication {wl[0].id}: port {port} mTLS {ports[port].value}", wl[0].id,
                                      wl[1], ("spec", "portLevelMtls", str(port)), PEER_AUTHN_KIND))
        if dst.dataplane is Dataplane.AMBIENT and mode is MtlsMode.DISABLE:
            # peer_authentication: "In ambient mode ... DISABLE mode is not supported"
            mode = MtlsMode.PERMISSIVE
            steps.append(MeshStep("ambient workload: DISABLE is not supported, taken as PERMISSIVE"))
        return mode, ports, steps

    @staticmethod
    def _oldest(found: list[tuple[PeerAuthentication, Any]], level: PeerAuthLevel,
                steps: list[MeshStep]) -> tuple[PeerAuthentication, Any] | None:
        """The PeerAuthentication Istio uses among several of one level (concepts/security, "Selector field":
        "When you configure multiple mesh- or namespace-wide peer authentication policies ... Istio ignores the
        newer policies. When more than one workload-specific peer authentication policy matches, Istio picks
        the oldest one"), by ``creationTimestamp``; without the timestamps to tell, name order, uncertain."""
        if len(found) < 2:
            return found[0] if found else None
        ordered = sorted(found, key=lambda e: (e[0].created or "~", e[0].name))
        names = ", ".join(p.id for p, _ in ordered)
        stamps = [p.created for p, _ in ordered]
        if all(stamps) and len(set(stamps)) == len(stamps):
            steps.append(MeshStep(f"{len(found)} PeerAuthentications at the {level} level ({names}): Istio uses the "
                                  f"oldest, {ordered[0][0].id} (created {ordered[0][0].created})"))
        else:
            steps.append(MeshStep(f"{len(found)} PeerAuthentications at the {level} level ({names}): Istio uses the "
                                  f"oldest; the input does not say which (no or equal creationTimestamp): "
                                  f"{ordered[0][0].id} taken, uncertain", uncertain=True))
        return ordered[0]

    @staticmethod
    def _state(client: Side, mode: MtlsMode) -> MtlsState:
        if mode is MtlsMode.DISABLE:
            return MtlsState.PLAINTEXT  # auto mTLS sends plaintext to a DISABLE server
        if client.in_mesh:
            return MtlsState.MTLS
        return MtlsState.REFUSED if mode is MtlsMode.STRICT else MtlsState.PLAINTEXT

    # -- AuthorizationPolicy -------------------------------------------------------------------------
    def policies_for(self, dst: Side) -> tuple[list[tuple[AuthorizationPolicy, Any]], list[MeshStep]]:
        labels = dict(dst.labels)
        out, notes = [], []
        scope = self._authz_by_ns.get(self.root, []) + (
            self._authz_by_ns.get(dst.namespace or "", []) if dst.namespace != self.root else [])
        for pol, src in sorted(scope, key=lambda e: (e[0].namespace, e[0].name)):
            if pol.namespace != dst.namespace and pol.namespace != self.root:
                continue
            if pol.target_refs:
                kinds = ", ".join(f"{r.get('kind', '?')} {r.get('name', '?')}" for r in pol.target_refs)
                notes.append(MeshStep(f"AuthorizationPolicy {pol.id} binds to {kinds} (a gateway or waypoint), not to "
                                      "this workload's sidecar: not evaluated here", pol.id,
                                      src, ("spec", "targetRefs"), AUTHZ_KIND))
                continue
            if pol.selector is not None and not pol.selector.matches(labels):
                continue
            out.append((pol, src))
        return out, notes

    def _source(self, s: dict[str, tuple[str, ...]], client: Side, identity: bool,
                why: list[str]) -> Match:
        m = Match.ALWAYS
        for k, vals in s.items():
            neg = k.startswith("not")
            base = k[3].lower() + k[4:] if neg else k
            if base in ("principals", "namespaces", "serviceAccounts"):
                if not identity:
                    hit = False
                    why.append(f"{k} need the client's mTLS identity; the client has "
                               f"{'no sidecar' if not client.in_mesh else 'no mTLS to this port'}")
                elif base == "principals":
                    hit = pattern_match(client.principal or "", vals)
                elif base == "namespaces":
                    hit = pattern_match(client.namespace or "", vals)
                else:  # serviceAccounts: "ns/sa" of the client
                    sa = (client.principal or "").rsplit("/sa/", 1)[-1]
                    hit = pattern_match(f"{client.namespace}/{sa}", vals)
                r = Match.ALWAYS if hit != neg else Match.NEVER
            elif base == "ipBlocks":
                r = _ip_match(client.ips, vals, neg)
                if r is Match.SOME:
                    why.append(f"{k}: the client's addresses are not (all) known")
            else:  # requestPrincipals (JWT), remoteIpBlocks (X-Forwarded-For): request data
                r = Match.SOME
            m = min(m, r)
        return m

    def _operation(self, op: dict[str, tuple[str, ...]], ports: ConnSet, request: Request | None = None) -> Match:
        m = Match.ALWAYS
        for k, vals in op.items():
            if k in ("ports", "notPorts"):
                listed = ConnSet({"TCP": [(int(p), int(p)) for p in vals]})
                tcp = ports & ConnSet.protocol("TCP")
                inside = tcp & listed
                if k == "notPorts":
                    inside = tcp - listed
                r = Match.NEVER if not inside else Match.ALWAYS if inside == tcp else Match.SOME
            elif "*" in vals:
                r = Match.NEVER if k.startswith("not") else Match.ALWAYS
            elif request is not None and request.value(k[3].lower() + k[4:] if k.startswith("not") else k) is not None:
                hit = pattern_match(request.value(k[3].lower() + k[4:] if k.startswith("not") else k) or "", vals)
                r = Match.ALWAYS if hit != k.startswith("not") else Match.NEVER
            else:
                r = Match.SOME  # methods, paths, hosts: what the request carries
            m = min(m, r)
        return m

    def _when(self, conds: tuple[Condition, ...], client: Side, identity: bool, why: list[str]) -> tuple[Match, bool]:
        m, unsure = Match.ALWAYS, False
        for c in conds:
            if c.key in ("source.principal", "source.namespace") and identity:
                v = client.principal if c.key == "source.principal" else client.namespace
                hit = (not c.values or pattern_match(v or "", c.values)) and not pattern_match(v or "", c.not_values)
                m = min(m, Match.ALWAYS if hit else Match.NEVER)
            elif c.key in ("source.principal", "source.namespace"):
                m = Match.NEVER
            else:
                m, unsure = min(m, Match.SOME), True
                why.append(f"when {c.key} depends on request data: not evaluated")
        return m, unsure

    def rule_match(self, rule: AuthzRule, client: Side, ports: ConnSet, identity: bool,
                   why: list[str], request: Request | None = None) -> tuple[Match, bool]:
        if rule.is_empty:
            return Match.ALWAYS, False
        frm = max((self._source(s, client, identity, why) for s in rule.sources), default=Match.ALWAYS)
        to = max((self._operation(o, ports, request) for o in rule.operations), default=Match.ALWAYS)
        when, unsure = self._when(rule.conditions, client, identity, why)
        return min(frm, to, when), unsure

    def _rule_on_ports(self, action: AuthzAction, rule: AuthzRule, client: Side, conns: ConnSet, identity: bool,
                       why: list[str], request: Request | None, opaque: ConnSet) -> tuple[Match, bool]:
        """A rule's match, split between the ports that carry only TCP (a Service names a non-HTTP protocol)
        and the others. On TCP-only ports a rule with HTTP-only fields is handled as istio.io's authz-tcp task
        shows: an ALLOW rule "becomes invalid ... Istio ignores the invalid ALLOW rule" (it never matches); a
        DENY rule is applied without them ("due to it's restrictive nature it denies all the traffic")."""
        tcp_only = conns & opaque if opaque else ConnSet.none()
        if not tcp_only or not _http_only(rule):
            return self.rule_match(rule, client, conns, identity, why, request)
        rest = conns - opaque
        if action is AuthzAction.ALLOW:
            m_tcp, unsure_tcp = Match.NEVER, False
            why.append(f"HTTP-only fields on TCP-only port(s) {tcp_only.describe()}: the ALLOW rule is ignored there")
        else:
            m_tcp, unsure_tcp = self.rule_match(_without_http(rule), client, tcp_only, identity, why, request)
            why.append(f"HTTP-only fields on TCP-only port(s) {tcp_only.describe()}: applied without them there")
        if not rest:
            return m_tcp, unsure_tcp
        m_rest, unsure_rest = self.rule_match(rule, client, rest, identity, why, request)
        return (m_tcp if m_tcp is m_rest else Match.SOME), unsure_tcp or unsure_rest

    # -- the pair ------------------------------------------------------------------------------------
    def verdict(self, client: Side, dst: Side, conns: ConnSet, request: Request | None = None, *,
                trace: bool = True) -> MeshResult | None:
        """The mesh verdict of a connection L4 allows (``conns``; one request when given); None when the
        destination is not in the mesh. Without ``trace`` the result has no explain chain (the matrix), and
        is shared by every client of the same class (:meth:`client_class`)."""
        if not dst.in_mesh:
            return None
        dest = self._destination(dst)
        if not trace:
            return self.class_verdict(client, dst, dest, conns, request)
        key = (client, dest.key, conns, request)
        hit = self._traced.get(key)
        if hit is None:
            hit = self._traced[key] = self._verdict(client, dst, dest, conns, request, True)
        return hit

    def class_verdict(self, client: Side, dst: Side, dest: _Destination, conns: ConnSet,
                      request: Request | None = None) -> MeshResult:
        """The verdict without explain chain, computed once per destination kind, client class and ports."""
        # the states follow from (client in the mesh, destination, ports): the key holds those, not the states
        identity = self._state(client, dest.mode) is MtlsState.MTLS
        cls = self.client_class(client, dest, identity) if dest.sources or dest.conditions else ()
        key = (dest.key, client.dataplane is not Dataplane.NONE, cls, conns if dest.port_sensitive else None, request)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._verdict(client, dst, dest, conns, request, False)
        return hit

    def client_class(self, client: Side, dest: _Destination, identity: bool) -> tuple[Match, ...]:
        """What the destination's rules can tell of a client: the match of each of their distinct sources and
        identity conditions. Clients of one class get the same verdict (a policy naming ``ns/X/sa/*`` makes
        all of X's clients one class), so a matrix computes a verdict once per class, not once per pair.
        Memoised on what those rules test of a client: its principal, namespace and addresses."""
        key = (client.principal if not dest.by_namespace else client.principal is None, client.namespace,
               client.ips, dest.key, identity)
        hit = self._classes.get(key)
        if hit is None:
            scratch: list[str] = []
            hit = self._classes[key] = tuple(self._source(s, client, identity, scratch) for s in dest.sources) + tuple(
                self._when(c, client, identity, scratch)[0] for c in dest.conditions)
        return hit

    def _destination(self, dst: Side) -> _Destination:
        """What a destination's own configuration says (its mTLS modes and policies): once per kind of
        destination, a kind being its namespace, dataplane and which selectors in its scope match it."""
        uniform = self._uniform.get(dst.namespace)
        if uniform is None:  # no selector or Service in its scope: every destination of the namespace is alike
            uniform = self._uniform[dst.namespace] = not self._selectors_of(dst.namespace) and \
                not self._services_by_ns.get(dst.namespace or "")
        # (the booleans hash faster than the enum)
        key = (dst.namespace, dst.dataplane is Dataplane.AMBIENT, dst.dataplane is Dataplane.NONE) if uniform else \
            (dst.namespace, dst.labels, dst.dataplane is Dataplane.AMBIENT, dst.dataplane is Dataplane.NONE, dst.ports)
        hit = self._dst_cache.get(key)
        if hit is None:
            selectors = self._selectors_of(dst.namespace)
            services = self._services_by_ns.get(dst.namespace or "", [])
            labels = dict(dst.labels) if selectors or services else {}
            opaque = self._opaque_ports(services, labels, dict(dst.ports))
            kind = (dst.namespace, dst.dataplane, tuple(sel.matches(labels) for sel in selectors), opaque)
            hit = self._kinds.get(kind)
            if hit is None:
                mode, port_modes, steps = self.mtls_modes(dst)
                pols, notes = self.policies_for(dst)
                rules = [r for p, _ in pols if p.action is not AuthzAction.AUDIT for r in p.rules]
                sources = tuple({id(s): s for r in rules for s in r.sources}.values())
                conditions = tuple({id(r.conditions): r.conditions for r in rules
                                    if any(c.key in _IDENTITY_KEYS for c in r.conditions)}.values())
                port_sensitive = bool(port_modes) or bool(opaque) or any(
                    "ports" in o or "notPorts" in o for r in rules for o in r.operations)
                hit = self._kinds[kind] = _Destination(len(self._kinds), mode, port_modes, tuple(steps), pols,
                                                       tuple(notes), sources, conditions, port_sensitive, opaque,
                                                       _by_namespace(sources, conditions))
            self._dst_cache[key] = hit
        return hit

    @staticmethod
    def _opaque_ports(services: list[MeshService], labels: dict[str, str], named: dict[str, int]) -> ConnSet:
        """The TCP ports of the destination that a Service selecting it declares as a non-HTTP protocol
        (protocol-selection: port name ``<protocol>[-<suffix>]`` or ``appProtocol``). HTTP-only rule fields do
        not apply there (:meth:`_tcp_only`). Ports no Service names a protocol for are detected by Istio at run
        time: taken as able to carry HTTP."""
        ports: set[int] = set()
        for svc in services:
            if svc.selector is None or not svc.selector.matches(labels):
                continue
            for target, proto in svc.ports:
                number = named.get(target) if isinstance(target, str) else target
                if proto in OPAQUE_PROTOCOLS and number is not None:
                    ports.add(number)
        return ConnSet({"TCP": [(p, p) for p in sorted(ports)]}) if ports else ConnSet.none()

    def _selectors_of(self, namespace: str | None) -> list[Any]:
        """The workload selectors of the objects that may apply in ``namespace`` (its own and the root's)."""
        hit = self._selectors.get(namespace)
        if hit is None:
            scope = [namespace, self.root] if namespace != self.root else [self.root]
            hit = self._selectors[namespace] = [
                o.selector for ns in scope for o, _ in self._authz_by_ns.get(ns or "", []) + self._pa_by_ns.get(ns or "", [])
                if o.selector is not None]
        return hit

    def _states(self, client: Side, dest: _Destination, conns: ConnSet) -> tuple[MtlsState, tuple[tuple[int, MtlsState], ...],
                                                                            frozenset[MtlsState], bool]:
        """The pair's mTLS state (MIXED when its ports differ), the ports whose state differs from the
        destination's own mode, every state, and whether the client's identity is known (mTLS under that mode)."""
        base = self._state(client, dest.mode)
        if not dest.port_modes:
            return _SINGLE[base]
        overrides = tuple((p, self._state(client, m)) for p, m in sorted(dest.port_modes.items())
                          if conns.allows("TCP", p))
        rest = conns - ConnSet({"TCP": [(p, p) for p in dest.port_modes]})
        states = frozenset(({base} if rest else set()) | {s for _, s in overrides})
        if len(states) == 1:
            only = next(iter(states))
            return only, (), states, only is MtlsState.MTLS
        return MtlsState.MIXED, tuple((p, s) for p, s in overrides if s is not base), states, base is MtlsState.MTLS

    def _ops_text(self, rule: AuthzRule) -> str:
        text = self._ops.get(id(rule))
        if text is None:
            text = self._ops[id(rule)] = " or ".join(_describe_op(o) for o in rule.operations) or "any request"
        return text

    def _verdict(self, client: Side, dst: Side, dest: _Destination, conns: ConnSet, request: Request | None,
                 trace: bool) -> MeshResult:
        steps = list(dest.pa_steps)
        state, overrides, states, identity = self._states(client, dest, conns)
        pols, notes = dest.pols, dest.notes
        if state is MtlsState.REFUSED:
            steps.append(MeshStep("the client has no sidecar and the server is STRICT: the connection is refused"))
        steps.extend(notes)
        uncertain = ((bool(notes) and dst.dataplane is Dataplane.AMBIENT)  # a waypoint may enforce them
                     or any(s.uncertain for s in dest.pa_steps))
        best = {AuthzAction.CUSTOM: Match.NEVER, AuthzAction.DENY: Match.NEVER, AuthzAction.ALLOW: Match.NEVER}
        has_allow = False
        requests: list[str] = []
        for pol, src in pols:
            if pol.action is AuthzAction.AUDIT:
                steps.append(MeshStep(f"AuthorizationPolicy {pol.id} (AUDIT): no effect on the verdict", pol.id, src,
                                      ("spec",), AUTHZ_KIND))
                continue
            has_allow |= pol.action is AuthzAction.ALLOW
            if not pol.rules:
                steps.append(MeshStep(f"AuthorizationPolicy {pol.id} ({pol.action.value}) has no rules: matches "
                                      "nothing", pol.id, src, ("spec",), AUTHZ_KIND))
                continue
            for rule in pol.rules:
                why: list[str] = []
                m, unsure = self._rule_on_ports(pol.action, rule, client, conns, identity, why, request, dest.opaque)
                uncertain |= unsure
                if dst.dataplane is Dataplane.AMBIENT and any(k in o for o in rule.operations for k in _REQUEST_FIELDS):
                    uncertain = True
                    why.append("ambient: L7 fields are enforced only by a waypoint")
                best[pol.action] = max(best[pol.action], m)
                if m is Match.NEVER and not trace:
                    continue
                ops = self._ops_text(rule)
                if pol.action is AuthzAction.ALLOW and m is not Match.NEVER:
                    requests.append(ops)
                if trace:
                    word = {Match.ALWAYS: "matches every request", Match.SOME: f"matches some requests ({ops})",
                            Match.NEVER: "does not match"}[m]
                    steps.append(MeshStep(f"AuthorizationPolicy {pol.id} ({pol.action.value}) rule {rule.index}: "
                                          f"{word}" + (f" — {'; '.join(why)}" if why else ""), pol.id, src, rule.path,
                                          AUTHZ_KIND))
        if best[AuthzAction.CUSTOM] is not Match.NEVER:
            uncertain = True
            steps.append(MeshStep("a CUSTOM policy sends requests to an external authorizer: its answer is unknown"))
        allow = best[AuthzAction.ALLOW] if has_allow else Match.ALWAYS
        if not pols:
            steps.append(MeshStep("no AuthorizationPolicy applies: every request allowed"))
        elif not has_allow:
            steps.append(MeshStep("no ALLOW policy applies: what no DENY matches is allowed"))
        deny = best[AuthzAction.DENY]
        if states == {MtlsState.REFUSED} or deny is Match.ALWAYS or allow is Match.NEVER:
            verdict = MeshVerdict.DENIED
            if has_allow and allow is Match.NEVER and deny is not Match.ALWAYS:
                steps.append(MeshStep("ALLOW policies apply and none matches: denied"))
        elif (allow is Match.ALWAYS and deny is Match.NEVER and best[AuthzAction.CUSTOM] is Match.NEVER
              and MtlsState.REFUSED not in states):
            verdict = MeshVerdict.ALLOWED
        else:
            verdict = MeshVerdict.SOME
        return MeshResult(verdict, state, overrides, uncertain, tuple(steps),
                          tuple(dict.fromkeys(requests)) if verdict is MeshVerdict.SOME else ())


_HTTP_SOURCE_FIELDS = frozenset({"requestPrincipals", "notRequestPrincipals"})


def _http_only(rule: AuthzRule) -> bool:
    """Whether a rule names fields only HTTP requests carry (concepts/security, "Using Istio authorization on
    plain TCP protocols": request principals; hosts, methods, paths; ``request.*`` conditions)."""
    return (any(k in _HTTP_SOURCE_FIELDS for s in rule.sources for k in s)
            or any(k in _REQUEST_FIELDS for o in rule.operations for k in o)
            or any(c.key.startswith("request.") for c in rule.conditions))


def _without_http(rule: AuthzRule) -> AuthzRule:
    """The rule with its HTTP-only fields left out (an emptied source or operation matches anything)."""
    from dataclasses import replace

    return replace(rule, sources=tuple({k: v for k, v in s.items() if k not in _HTTP_SOURCE_FIELDS}
                                       for s in rule.sources),
                   operations=tuple({k: v for k, v in o.items() if k not in _REQUEST_FIELDS} for o in rule.operations),
                   conditions=tuple(c for c in rule.conditions if not c.key.startswith("request.")))


_SINGLE = {s: (s, (), frozenset((s,)), s is MtlsState.MTLS) for s in MtlsState}
_IDENTITY_KEYS = ("source.principal", "source.namespace")


@dataclass(frozen=True, eq=False)
class _Destination:
    """What a kind of destination's own configuration says: computed once, shared by its pairs."""

    key: int
    mode: MtlsMode
    port_modes: dict[int, MtlsMode]
    pa_steps: tuple[MeshStep, ...]
    pols: list[tuple[AuthorizationPolicy, Any]]
    notes: tuple[MeshStep, ...]
    sources: tuple[dict[str, tuple[str, ...]], ...]
    """The distinct ``from.source`` entries of its rules: what its verdicts can tell clients apart by."""
    conditions: tuple[tuple[Any, ...], ...]
    """The ``when`` lists of its rules that test the client's identity."""
    port_sensitive: bool
    """Whether its verdicts depend on the ports L4 allows (portLevelMtls, ``ports``/``notPorts``, TCP-only ports)."""
    opaque: ConnSet
    """Its TCP ports a Service declares non-HTTP (tcp, tls, https, mongo, ...): HTTP-only fields do not apply."""
    by_namespace: bool
    """Its rules tell clients apart by namespace at most (no service account, no address): every client of a
    namespace (in the mesh, or not) is one class."""


_NS_WIDE = re.compile(r"^[^/*]+/ns/[^/*]+/sa/\*$")
"""A principal pattern naming a whole namespace (``TD/ns/NS/sa/*``)."""
_NAMESPACE_LEVEL = frozenset({"requestPrincipals", "notRequestPrincipals", "remoteIpBlocks", "notRemoteIpBlocks",
                              "namespaces", "notNamespaces"})
"""Source fields that tell clients apart by namespace at most (the request ones do not look at the client)."""


def _by_namespace(sources: tuple[dict[str, tuple[str, ...]], ...], conditions: tuple[tuple[Any, ...], ...]) -> bool:
    """Whether rules with these sources and identity conditions match every client of a namespace alike."""
    def ns_level(vals: tuple[str, ...]) -> bool:
        return all(v == "*" or _NS_WIDE.match(v) for v in vals)
    return (all(k in _NAMESPACE_LEVEL or (k in ("principals", "notPrincipals") and ns_level(v))
                for s in sources for k, v in s.items())
            and all(c.key == "source.namespace" or (c.key == "source.principal" and ns_level(c.values)
                                                    and ns_level(c.not_values))
                    for conds in conditions for c in conds))


def _ip_match(ips: tuple[str, ...], blocks: tuple[str, ...], neg: bool) -> Match:
    if not ips:
        return Match.SOME
    nets = []
    for b in blocks:
        try:
            nets.append(ip_network(b, strict=False))
        except ValueError:
            continue
    hits = []
    for ip in ips:
        try:
            n = ip_network(ip, strict=False)
        except ValueError:
            return Match.SOME
        inside = any(n.version == x.version and n.subnet_of(x) for x in nets)  # type: ignore[arg-type]
        hits.append(inside != neg)
    return Match.ALWAYS if all(hits) else Match.NEVER if not any(hits) else Match.SOME


def external_side(cidrs: tuple[str, ...], name: str) -> Side:
    return Side(None, (), Dataplane.NONE, None, cidrs, name)


def annotate(m: Matrix, mesh: MeshAnalyzer) -> Matrix:
    """Give every allowed cell whose destination is in the mesh its mesh verdict (the L4 cell is kept).

    Cyclic collection is paused meanwhile: the new cells and keys hold no cycles, and collections
    triggered by their allocation would walk the whole model (measured: a third of the time at size L)."""
    with paused_gc():
        return _annotate(m, mesh)


def _annotate(m: Matrix, mesh: MeshAnalyzer) -> Matrix:
    sides = dict(mesh.sides())
    for e in m.endpoints:
        if e.is_external:
            sides[e.id] = external_side(e.cidrs, e.id)
    dests = {i: (d, mesh._destination(d)) for i, d in sides.items() if d.in_mesh}
    # a client towards one kind of destination gets one verdict whatever the ports, unless they matter
    memo: dict[tuple[Any, ...], MeshResult] = {}
    for key, cell in m.cells.items():
        hit = dests.get(key[1])
        s = sides.get(key[0])
        if hit is None or s is None:
            continue
        d, dest = hit
        if dest.port_sensitive:
            r = mesh.class_verdict(s, d, dest, cell.conns)
        else:
            # a destination whose rules tell clients apart by namespace at most: one verdict per client namespace
            mk = (s.namespace, s.dataplane is Dataplane.NONE, dest.key) if dest.by_namespace else (key[0], dest.key)
            cached = memo.get(mk)
            if cached is None:
                cached = memo[mk] = mesh.class_verdict(s, d, dest, cell.conns)
            r = cached
        m.cells[key] = cell.with_mesh(r)
    m.notes.extend(n for n in mesh.notes if n not in m.notes)
    return m


def side_of(mesh: MeshAnalyzer, peer: Any) -> Side:
    """A Workload or an ExternalAtom as the mesh sees it."""
    if hasattr(peer, "members"):
        return mesh.side(peer)
    return external_side(tuple(getattr(peer, "cidrs", ())), peer.id)


def pair_verdict(mesh: MeshAnalyzer, src: Any, dst: Any, conns: ConnSet,
                 request: Request | None = None) -> MeshResult | None:
    """The mesh verdict of one pair L4 allows on ``conns`` (explain, test); None outside the mesh."""
    if not conns:
        return None
    return mesh.verdict(side_of(mesh, src), side_of(mesh, dst), conns, request)


def mesh_changes(before: Matrix, after: Matrix, mesh_b: MeshAnalyzer | None = None,
                 mesh_a: MeshAnalyzer | None = None) -> list[dict[str, Any]]:
    """Pairs L4 allows in both states whose mesh verdict or mTLS state differs (simulate/diff): each
    ``{"from", "to", "before", "after", "newlyDenied", "causes"}`` with the ``mesh`` objects (None: outside the
    mesh). With both states' analyzers, ``causes`` names what changed among the objects that decide the pair
    (:func:`change_causes`)."""
    out = []
    changed = changed_objects(mesh_b, mesh_a) if mesh_b is not None and mesh_a is not None else {}
    for key, cell in after.cells.items():
        old = before.cells.get(key)
        if old is None:
            continue
        b = old.mesh.to_contract() if old.mesh is not None else None
        a = cell.mesh.to_contract() if cell.mesh is not None else None
        if b == a:
            continue
        rank = {"allowed": 2, "some-requests": 1, "denied": 0}
        worse = (rank[(a or {}).get("verdict", "allowed")] < rank[(b or {}).get("verdict", "allowed")])
        change: dict[str, Any] = {"from": key[0], "to": key[1], "before": b, "after": a, "newlyDenied": worse}
        if mesh_b is not None and mesh_a is not None:
            change["causes"] = change_causes(key, (before, mesh_b, old.conns), (after, mesh_a, cell.conns), changed)
        out.append(change)
    return sorted(out, key=lambda x: (x["from"], x["to"]))


def describe_mesh(m: dict[str, Any] | None) -> str:
    """A mesh verdict of a diff (``MeshResult.to_contract``) in words: 'denied, mTLS refused'."""
    return "not in the mesh" if m is None else f"{m['verdict']}, mTLS {m['mtls']}"


def change_line(c: dict[str, Any]) -> str:
    """One mesh change of a diff: 'A -> B: allowed, mTLS mtls -> denied, mTLS mtls'."""
    return f"{c['from']} -> {c['to']}: {describe_mesh(c['before'])} -> {describe_mesh(c['after'])}"


def changed_objects(mesh_b: MeshAnalyzer, mesh_a: MeshAnalyzer) -> dict[tuple[str, str], str]:
    """(kind, 'ns/name') -> 'added' / 'changed' / 'deleted' for the mesh objects that differ between two states."""
    def index(mesh: MeshAnalyzer) -> dict[tuple[str, str], Any]:
        return {**{(AUTHZ_KIND, p.id): p for p, _ in mesh.authz}, **{(PEER_AUTHN_KIND, p.id): p for p, _ in mesh.peer_authn}}
    b, a = index(mesh_b), index(mesh_a)
    out = {k: "deleted" for k in b if k not in a}
    out.update({k: "added" if k not in b else "changed" for k, v in a.items() if b.get(k) != v})
    return out


def change_causes(key: tuple[str, str], before: tuple[Matrix, MeshAnalyzer, ConnSet],
                  after: tuple[Matrix, MeshAnalyzer, ConnSet],
                  changed: dict[tuple[str, str], str]) -> list[dict[str, str]]:
    """Why one pair's mesh verdict changed: the changed objects named in its mesh chain before or after (a
    policy added appears in the chain after, one deleted in the chain before), a change of sidecar injection at
    either end, else a change of the ports L4 allows. Each ``{"kind", "object", "change", "text"}``."""
    chains, planes, results = [], [], []
    for m, mesh, conns in (before, after):
        src, dst = _side_in(mesh, m, key[0]), _side_in(mesh, m, key[1])
        planes.append((src.dataplane, dst.dataplane))
        r = mesh.verdict(src, dst, conns) if conns else None
        chains.append(r.steps if r is not None else ())
        results.append(r)
    b, a = results
    # a PeerAuthentication explains a change of the mTLS state, an AuthorizationPolicy one of the verdict
    # (unless the connection is refused either way: then no policy is consulted)
    mtls_changed = (b.mtls if b else None) != (a.mtls if a else None)
    refused = any(r is not None and r.mtls is MtlsState.REFUSED for r in results)
    authz_changed = ((b.verdict, b.allowed_requests) if b else None) != ((a.verdict, a.allowed_requests) if a else None)
    relevant = {PEER_AUTHN_KIND: mtls_changed, AUTHZ_KIND: authz_changed and not (refused and mtls_changed)}
    causes: dict[tuple[str, str], dict[str, str]] = {}
    for steps in chains:
        for st in steps:
            what = changed.get((st.kind, st.object)) if st.object and relevant.get(st.kind) else None
            if what and (st.kind, st.object) not in causes:
                causes[(st.kind, st.object)] = {"kind": st.kind, "object": st.object, "change": what,
                                                "text": f"{st.kind} {st.object} {what}"}
    out = list(causes.values())
    for end, (b, a) in zip(key, zip(*planes)):
        if b is not a:
            out.append({"kind": "Workload", "object": end, "change": "dataplane",
                        "text": f"{end}: {b.value} -> {a.value} (sidecar injection labels)"})
    if not out and before[2] != after[2]:
        out.append({"kind": "Ports", "object": f"{key[0]} -> {key[1]}", "change": "l4",
                    "text": f"the ports L4 allows changed ({before[2].describe()} -> {after[2].describe()})"})
    return out


def _side_in(mesh: MeshAnalyzer, m: Matrix, endpoint: str) -> Side:
    side = mesh.sides().get(endpoint)
    if side is not None:
        return side
    e = next((e for e in m.endpoints if e.id == endpoint), None)
    return external_side(tuple(e.cidrs) if e is not None else (), endpoint)

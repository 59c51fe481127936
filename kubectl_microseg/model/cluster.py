"""Provides the cluster model (namespaces, workloads, policies) and ``build_cluster`` from raw objects.

Workloads are the endpoints of the Kubernetes matrix (CONTRACT.md): a Deployment, StatefulSet,
DaemonSet, ReplicaSet, ReplicationController, Job or CronJob stands for its pods; a Pod with a
controlling ownerReference stands under its owner (climbing to the top owner the input reveals); a bare
Pod is its own endpoint. A workload's members are its real Pods when the input has them, else its pod
template.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any
from collections.abc import Iterable, Mapping

from ..errors import InputError
from ..vocab import Direction
from .addresses import V4_MAX
from .cilium import KINDS as CILIUM_KINDS
from .cilium import TWO_CNIS_NOTE, CiliumEntry
from .cilium import build as build_cilium
from .calico import CalicoObjects, is_calico
from .admin import ADMIN_KINDS, BANP_KIND, CNP_API_VERSION, CNP_KIND, AdminPolicy, parse_any_admin_policy
from .istio import (AUTHZ_KIND, MESH_API_VERSIONS, MESH_KINDS, MeshObjects, parse_authorization_policy,
                    parse_peer_authentication, parse_service, service_account)
from .objects import FieldPath, SourceObject
from .policy import (_DNS1123_LABEL, PROTOCOLS, FieldError, NetworkPolicy, parse_network_policy, type_name,
                     validate_label_key, validate_label_value, validate_port_name)
from .validation import check_annotations, check_object_fields, name_problem, parse_ip
import itertools

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob")
NAMESPACED_KINDS = frozenset(("NetworkPolicy", "Pod") + WORKLOAD_KINDS)
"""Namespaced kinds the model reads (their identity includes the namespace, "default" when omitted)."""
LIST_SUFFIX = "List"
# Kinds that are read but have no bearing on NetworkPolicy connectivity: skipped without a note.
QUIET_KINDS = frozenset({"Service", "Endpoints", "EndpointSlice", "ConfigMap", "Secret", "ServiceAccount",
                         "Ingress", "IngressClass", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                         "PersistentVolumeClaim", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})

@dataclass(frozen=True)
class Member:
    """One pod (or a pod template) of a workload, reduced to what policies can see."""

    namespace: str
    labels: tuple[tuple[str, str], ...]
    named_ports: frozenset[tuple[str, str, int]] = frozenset()
    """(port name, protocol, number) of the containers' named ports."""
    host_network: bool = False
    ips: tuple[str, ...] = ()
    name: str = ""
    """The Pod's name ('' for a template)."""
    service_account: str = "default"
    """The pod's service account (``model.istio.service_account``: serviceAccountName, else the deprecated
    serviceAccount, else 'default', as the API server's admission sets it); Calico matches by it."""

    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass
class Workload:
    """An endpoint of the Kubernetes matrix."""

    namespace: str
    name: str
    kind: str
    labels: dict[str, str]
    members: list[Member]
    source: SourceObject | None = None
    pods: list[str] = field(default_factory=list)
    """Names of the Pod objects grouped under this workload."""
    qualified: bool = False
    """Another workload of the namespace has the same name (a Deployment and a bare Pod 'nginx'): the id
    then names the kind too, 'ns/nginx[Pod]'."""
    only_pod: str | None = None
    """Set on a view of one Pod of the workload (``pod_view``): explanations use that pod's class only."""

    @cached_property
    def id(self) -> str:
        """'namespace/name' ('namespace/name[Kind]' when ``qualified``). Computed once: read per cell and per
        event at scale; the fields it reads are set before it is first read (:func:`build_cluster`) and never
        change afterwards (``replace`` makes a new workload)."""
        return f"{self.namespace}/{self.name}[{self.kind}]" if self.qualified else f"{self.namespace}/{self.name}"

    def pod_view(self, pod: str) -> Workload:
        """The workload narrowed to one of its Pods (what ``explain pod POD`` and a flow to a pod mean)."""
        members = [m for m in self.members if m.name == pod] or self.members
        return replace(self, members=members, pods=[pod], labels=members[0].label_dict(), only_pod=pod)

    @property
    def host_network(self) -> bool:
        return any(m.host_network for m in self.members)


@dataclass
class Namespace:
    name: str
    labels: dict[str, str]
    declared: bool
    source: SourceObject | None = None


@dataclass
class PolicyEntry:
    """A parsed policy and the object it came from (for explanations with file and line)."""

    policy: NetworkPolicy
    source: SourceObject


@dataclass
class AdminEntry:
    """A parsed cluster-wide admin policy (ClusterNetworkPolicy, or a v1alpha1 AdminNetworkPolicy or
    BaselineAdminNetworkPolicy) and the object it came from."""

    policy: AdminPolicy
    source: SourceObject


@dataclass
class Cluster:
    """Everything the Kubernetes engine needs, validated."""

    namespaces: dict[str, Namespace]
    workloads: list[Workload]
    policies: list[PolicyEntry]
    notes: list[str] = field(default_factory=list)
    admin_policies: list[AdminEntry] = field(default_factory=list)
    """Admin-tier policies by precedence (priority, then name), then the Baseline tier's the same way."""
    calico: CalicoObjects = field(default_factory=CalicoObjects)
    """projectcalico.org objects (model/calico.py); empty on a cluster without Calico."""
    cilium: list[CiliumEntry] = field(default_factory=list)
    """Cilium policies (model.cilium.CiliumEntry), one per rule object."""
    mesh: MeshObjects = field(default_factory=MeshObjects)
    """Istio AuthorizationPolicies and PeerAuthentications (the mesh layer, engine/mesh.py)."""
    service_accounts: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    """(namespace, name) -> labels of the ServiceAccount objects of the input (Calico's serviceAccount
    matches select pods by them)."""

    def workload(self, wid: str) -> Workload | None:
        for w in self.workloads:
            if w.id == wid:
                return w
        return None


def expand_lists(objects: Iterable[SourceObject]) -> list[SourceObject]:
    """Flatten ``kind: List`` / ``XxxList`` objects into their items (keeping the origin)."""
    out: list[SourceObject] = []
    for obj in objects:
        kind = obj.kind
        items = obj.raw.get("items")
        if (kind.endswith(LIST_SUFFIX) and kind != LIST_SUFFIX) or kind == LIST_SUFFIX:
            if not isinstance(items, list):
                if items is None:
                    continue
                raise InputError(f"{kind}.items must be a list, not {type_name(items)}", obj.origin)
            item_kind = kind[: -len(LIST_SUFFIX)] if kind != LIST_SUFFIX else None
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    raise InputError(f"{kind} item {i} must be an object, not {type_name(item)}", obj.origin)
                if item_kind and not item.get("kind"):
                    item = {**item, "kind": item_kind}  # typed lists (PodList) often omit the items' kind
                origin = replace(obj.origin, item=i)
                out.extend(expand_lists([SourceObject(item, origin, obj.locate_item(i))]))
        else:
            out.append(obj)
    return out


def build_cluster(objects: Iterable[SourceObject]) -> Cluster:
    """Validate raw objects and build the model. Raises InputError on the first bad object."""
    notes: list[str] = []
    objs = expand_lists(objects)
    namespaces: dict[str, Namespace] = {}
    policies: list[PolicyEntry] = []
    workload_objs: dict[tuple[str, str, str], SourceObject] = {}
    pods: list[SourceObject] = []
    admins: list[AdminEntry] = []
    mesh = MeshObjects()
    skipped: dict[str, int] = {}
    cilium_objs: list[SourceObject] = []
    seen: dict[tuple[str, str, str], SourceObject] = {}
    calico = CalicoObjects()
    service_accounts: dict[tuple[str, str], dict[str, str]] = {}

    for obj in objs:
        if not isinstance(obj.raw, dict):
            raise InputError(f"expected a Kubernetes object, got {type_name(obj.raw)}", obj.origin)
        kind = obj.kind
        if not kind:
            raise obj.error(("kind",), "Required value: the object has no kind")
        meta = obj.raw.get("metadata")
        if not isinstance(meta, dict):
            raise obj.error(("metadata",), "Required value: the object has no metadata" if meta is None
                            else f"metadata must be an object, not {type_name(meta)}")
        if not obj.name:
            raise obj.error(("metadata", "name"), "Required value: the object has no metadata.name")
        try:
            warning = _check_identity(obj, kind)
        except FieldError as e:
            raise obj.error(e.path, f"{kind} {obj.name}: {e.message}") from None
        if warning and kind != "NetworkPolicy":  # a NetworkPolicy's name is warned about by its parser
            notes.append(f"warning: {kind} ({obj.origin.describe()}): {warning}")
        if is_calico(obj.raw):  # Calico's kinds (its NetworkPolicy shares the name with Kubernetes')
            calico.add(obj)
            continue
        namespaced = kind in NAMESPACED_KINDS
        if namespaced and "namespace" in meta and meta["namespace"] is not None:
            ns_value = meta["namespace"]
            if not isinstance(ns_value, str):
                raise obj.error(("metadata", "namespace"), f"{kind} {obj.name}: metadata.namespace must be a string, "
                                f"not {type_name(ns_value)}")
            if ns_value and (len(ns_value) > 63 or not _DNS1123_LABEL.match(ns_value)):
                raise obj.error(("metadata", "namespace"), f"{kind} {obj.name}: invalid namespace {ns_value!r}: "
                                "a DNS-1123 label (at most 63 lower-case letters, digits and '-')")
        # the API server's identity: a namespaced object without a namespace lands in "default" (kubectl
        # apply -f with a context without a namespace), so "x" and "default/x" are the same object
        key = (kind, (obj.namespace or "default") if namespaced else "", obj.name)
        if key in seen and (namespaced or kind in ("Namespace",) + ADMIN_KINDS):
            # Not an error: `kubectl apply -f` of both succeeds and the later one replaces the earlier
            # (docs/errors.md, "Duplicate objects"); analysed the same way, with a note.
            prev = seen[key]
            notes.append(f"duplicate {kind} {key[1] + '/' if key[1] else ''}{key[2]} in {obj.origin.describe()}; "
                         f"it replaces the one in {prev.origin.describe()}")
            if kind == "NetworkPolicy":
                policies = [p for p in policies if p.source is not prev]
            elif kind == "Pod":
                pods = [p for p in pods if p is not prev]
            elif kind in ADMIN_KINDS:
                admins = [a for a in admins if a.source is not prev]
            elif kind in WORKLOAD_KINDS:
                workload_objs.pop((key[1], kind, key[2]), None)
        seen[key] = obj
        if kind == "NetworkPolicy":
            if not str(obj.raw.get("apiVersion", "networking.k8s.io/v1")).startswith("networking.k8s.io/"):
                label = f"{kind} ({obj.raw.get('apiVersion')})"
                skipped[label] = skipped.get(label, 0) + 1
                continue
            try:
                pol = parse_network_policy(obj.raw)
            except FieldError as e:
                raise obj.error(e.path, f"NetworkPolicy {obj.namespace or 'default'}/{obj.name}: {e.message}") from None
            for w in pol.warnings:
                notes.append(f"warning: NetworkPolicy {pol.id} ({obj.origin.describe()}): {w}")
            policies.append(PolicyEntry(pol, obj))
        elif kind == "Namespace":
            labels = _labels(obj, ("metadata", "labels"))
            labels[NAMESPACE_NAME_LABEL] = obj.name  # set by the API server on every namespace
            namespaces[obj.name] = Namespace(obj.name, labels, True, obj)
        elif kind in WORKLOAD_KINDS:
            workload_objs[(obj.namespace or "default", kind, obj.name)] = obj
        elif kind == "Pod":
            pods.append(obj)
        elif kind in ADMIN_KINDS:
            version = obj.raw.get("apiVersion")
            if kind == CNP_KIND and version not in (None, CNP_API_VERSION):
                label = f"{kind} ({version})"  # another version of the API: not what this tool evaluates
                skipped[label] = skipped.get(label, 0) + 1
                continue
            try:
                admin = parse_any_admin_policy(obj.raw)
            except FieldError as e:
                raise obj.error(e.path, f"{kind} {obj.name}: {e.message}") from None
            admins.append(AdminEntry(admin, obj))
        elif kind in CILIUM_KINDS:
            cilium_objs.append(obj)
        elif kind == "ServiceAccount" and obj.raw.get("apiVersion") == "v1":
            labels = given if isinstance(given := meta.get("labels"), dict) else {}
            service_accounts[(obj.namespace or "default", obj.name)] = {str(k): str(v) for k, v in labels.items()}
        elif kind in MESH_KINDS and obj.raw.get("apiVersion") in MESH_API_VERSIONS:
            try:
                if kind == AUTHZ_KIND:
                    mesh.authz.append((parse_authorization_policy(obj.raw), obj))
                else:
                    mesh.peer_authn.append((parse_peer_authentication(obj.raw), obj))
            except FieldError as e:
                raise obj.error(e.path, f"{kind} {obj.namespace or 'default'}/{obj.name}: {e.message}") from None
        elif kind == "Service":  # read only for the mesh's protocol selection (engine/mesh.py)
            svc = parse_service(obj.raw)
            if svc is not None:
                mesh.services.append(svc)
        elif kind not in QUIET_KINDS:
            skipped[kind] = skipped.get(kind, 0) + 1
    if skipped:
        notes.append("skipped objects of kinds that do not affect NetworkPolicy connectivity: "
                     + ", ".join(f"{k} ({n})" for k, n in sorted(skipped.items())))

    workloads = _build_workloads(workload_objs, pods)
    for ns in sorted({w.namespace for w in workloads} | {p.policy.namespace for p in policies}):
        if ns not in namespaces:
            # a namespace referenced but not declared gets the labels the API server would give it
            namespaces[ns] = Namespace(ns, {NAMESPACE_NAME_LABEL: ns}, False)
    workloads.sort(key=lambda w: (w.namespace, w.name, w.kind))
    policies.sort(key=lambda p: (p.policy.namespace, p.policy.name))
    admins.sort(key=lambda a: (a.policy.is_baseline, a.policy.priority, a.policy.name, a.policy.kind))
    if sum(a.policy.kind == BANP_KIND for a in admins) > 1:
        raise InputError("more than one BaselineAdminNetworkPolicy: it is a singleton named 'default'",
                         [a for a in admins if a.policy.kind == BANP_KIND][1].source.origin)
    notes.extend(admin_notes(admins))
    notes.extend(calico.notes())
    cilium = build_cilium(cilium_objs, notes)
    if cilium and calico:
        notes.append(TWO_CNIS_NOTE)
    for ce in cilium:
        own = ce.policy.namespace
        if own is not None and own not in namespaces:
            namespaces[own] = Namespace(own, {NAMESPACE_NAME_LABEL: own}, False)
    return Cluster(dict(sorted(namespaces.items())), workloads, policies, notes, admins, calico, cilium, mesh,
                   service_accounts)


def admin_notes(admins: list[AdminEntry]) -> list[str]:
    """Warnings about the admin policies as a whole (they depend on nothing else)."""
    notes: list[str] = []
    for x, y in itertools.pairwise(admins):
        if x.policy.tier == y.policy.tier and x.policy.priority == y.policy.priority and x.policy.kind != BANP_KIND:
            # v1alpha2: "the implementation can apply any of the matching policies to the connection"
            notes.append(f"warning: {x.policy.id} and {y.policy.id} are in the same tier ({x.policy.tier.value}) with "
                         f"the same priority ({x.policy.priority}); the API leaves their order undefined "
                         "(analysed in name order)")
    old = sorted({a.policy.kind for a in admins if a.policy.deprecated})
    if old:
        notes.append(f"deprecated: {' and '.join(old)} (policy.networking.k8s.io/v1alpha1) are replaced by "
                     "ClusterNetworkPolicy (v1alpha2, network-policy-api v0.2.0); still analysed, Admin-tier by "
                     "priority and the baseline last")
        if any(a.policy.kind == CNP_KIND for a in admins):
            notes.append("warning: both ClusterNetworkPolicies and v1alpha1 admin policies are present; no API "
                         "defines their relative order (analysed together, each tier by priority, then name)")
    partial = [p.networks_text for a in admins for r in a.policy.rules(Direction.EGRESS) for p in r.peers
               if p.networks is not None and not p.networks.contains_interval(0, V4_MAX)]
    if partial:
        notes.append(f"admin policy networks peers ({'; '.join(sorted(set(partial)))}) also match pods by their "
                     "IPs; a pod whose IP the input does not give (a template, a pod without status) is taken "
                     "to be outside them")
    for a in admins:
        rules = [r for d in Direction for r in a.policy.rules(d)]
        where = f"{a.policy.id} ({a.source.origin.describe()})"
        if any(p.nodes is not None for r in rules for p in r.peers):
            notes.append(f"warning: {where}: its `nodes` peers are not evaluated (node addresses are not "
                         "modelled): verdicts its rules could change (to outside addresses and hostNetwork pods) "
                         "are marked uncertain")
        if any(p.domain_names is not None for r in rules for p in r.peers):
            notes.append(f"warning: {where}: its `domainNames` peers are not evaluated (what a name resolves to "
                         "is not known offline): verdicts to outside addresses it could change are marked uncertain")
        for r in rules:
            if r.note:
                notes.append(f"warning: {where} {r.direction} rule {r.index}: {r.note}")
    return notes


def _check_identity(obj: SourceObject, kind: str) -> str | None:
    """Unknown top-level and metadata fields are refused (kubectl's strict field validation); a name the
    API server would refuse (ValidateObjectMeta) gives a warning (docs/errors.md, "Deliberately more
    lenient"), returned."""
    if kind not in NAMESPACED_KINDS and kind not in ("Namespace",) + ADMIN_KINDS:
        return None
    check_object_fields(obj.raw, kind, workload=kind in WORKLOAD_KINDS)
    meta = obj.raw["metadata"]
    if kind in ("NetworkPolicy",) + ADMIN_KINDS:  # the other kinds' labels are read (and checked) as labels
        labels = meta.get("labels")
        if labels is not None and not isinstance(labels, dict):
            raise FieldError(("metadata", "labels"), f"must be an object, not {type_name(labels)}")
        for k, v in (labels or {}).items():
            validate_label_key(k, ("metadata", "labels", k))
            validate_label_value("" if v is None else v, ("metadata", "labels", k))
    check_annotations(meta.get("annotations"), ("metadata", "annotations"))
    name = meta["name"]
    if not isinstance(name, str):
        raise FieldError(("metadata", "name"), f"must be a string, not {type_name(name)}")
    problem = name_problem(name, label=kind == "Namespace")
    return f"metadata.name {name!r} {problem}; the API server would reject it" if problem else None


def _labels(obj: SourceObject, path: FieldPath, raw: Any = None) -> dict[str, str]:
    node: Any = obj.raw if raw is None else raw
    for p in path:
        node = node.get(p) if isinstance(node, dict) else None
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise obj.error(path, f"labels must be an object, not {type_name(node)}")
    for k, v in node.items():
        if v is None:
            node[k] = v = ""  # a null value of a map[string]string decodes to "" (the API server accepts it)
        try:
            validate_label_key(k, path + (k,))
            validate_label_value(v, path + (k,))
        except FieldError as e:
            raise obj.error(e.path, f"{obj.kind} {obj.name}: {e.message}") from None
    return dict(node)


def _pod_spec_path(kind: str) -> FieldPath:
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template")
    return ("spec", "template")


def _get(raw: Any, path: FieldPath) -> Any:
    for p in path:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(p)
    return raw


def _member(obj: SourceObject, namespace: str, meta_path: FieldPath, spec_path: FieldPath, name: str = "") -> Member:
    """A pod (``name`` given, status read for IPs) or a pod template, reduced to a Member."""
    labels = _labels(obj, meta_path + ("labels",))
    spec = _get(obj.raw, spec_path)
    if spec is not None and not isinstance(spec, dict):
        raise obj.error(spec_path, f"must be an object, not {type_name(spec)}")
    spec = spec or {}
    named: set[tuple[str, str, int]] = set()
    containers = spec.get("containers") or []
    if not isinstance(containers, list):
        raise obj.error(spec_path + ("containers",), f"must be a list, not {type_name(containers)}")
    for ci, c in enumerate(containers):
        if not isinstance(c, dict):
            continue
        ports = c.get("ports") or []
        if not isinstance(ports, list):
            raise obj.error(spec_path + ("containers", ci, "ports"), f"must be a list, not {type_name(ports)}")
        for pi, p in enumerate(ports):
            if isinstance(p, dict):
                port = _container_port(obj, p, spec_path + ("containers", ci, "ports", pi))
                if port is not None:
                    named.add(port)
    host_network = spec.get("hostNetwork", False)
    if host_network is None:
        host_network = False
    if not isinstance(host_network, bool):  # "false" is a string, and a string is not false
        raise obj.error(spec_path + ("hostNetwork",), f"{obj.kind} {obj.name}: must be a boolean, not "
                        f"{type_name(host_network)} ({host_network!r})")
    ips: list[str] = []
    status = obj.raw.get("status") if name else None
    if isinstance(status, dict):
        try:
            pod_ips = status.get("podIPs") or []
            if not isinstance(pod_ips, list):
                raise FieldError(("status", "podIPs"), f"must be a list, not {type_name(pod_ips)}")
            for i, entry in enumerate(pod_ips):
                if isinstance(entry, dict) and entry.get("ip") is not None:
                    ips.append(parse_ip(entry["ip"], ("status", "podIPs", i, "ip")))
            if status.get("podIP") is not None:
                ip = parse_ip(status["podIP"], ("status", "podIP"))
                if not ips:
                    ips.append(ip)
        except FieldError as e:
            raise obj.error(e.path, f"Pod {name}: {e.message}") from None
    return Member(namespace, tuple(sorted(labels.items())), frozenset(named), host_network, tuple(ips), name,
                  service_account(spec))


def _container_port(obj: SourceObject, p: Mapping[str, Any], path: FieldPath) -> tuple[str, str, int] | None:
    """(name, protocol, number) of a named container port; None for an unnamed one. validateContainerPorts:
    containerPort 1-65535, name an IANA_SVC_NAME, protocol TCP, UDP or SCTP."""
    num, pname, proto = p.get("containerPort"), p.get("name"), p.get("protocol") or "TCP"
    try:
        if num is not None:
            if isinstance(num, bool) or not isinstance(num, int):
                raise FieldError(path + ("containerPort",), f"must be a number, not {type_name(num)}")
            if not 1 <= num <= 65535:
                raise FieldError(path + ("containerPort",), f"must be between 1 and 65535, inclusive (got {num})")
        if pname is not None and pname != "":
            if not isinstance(pname, str):
                raise FieldError(path + ("name",), f"must be a string, not {type_name(pname)}")
            validate_port_name(pname, path + ("name",))
        if proto not in PROTOCOLS:
            raise FieldError(path + ("protocol",), f'Unsupported value: {proto!r}: supported values: "SCTP", "TCP", '
                                                   '"UDP"')
    except FieldError as e:
        raise obj.error(e.path, f"{obj.kind} {obj.name}: {e.message}") from None
    return (pname, proto, num) if pname and num is not None else None


def _controller(raw: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the ownerReference with controller: true, if any."""
    refs = _get(raw, ("metadata", "ownerReferences")) or []
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("name"):
            return (str(ref.get("kind") or "Pod"), str(ref["name"]))
    return None


def _build_workloads(workload_objs: dict[tuple[str, str, str], SourceObject], pods: list[SourceObject]) -> list[Workload]:
    def top(ns: str, kind: str, name: str) -> tuple[str, str]:
        """Climb controlling owners as far as the input reveals them."""
        seen = set()
        while (ns, kind, name) in workload_objs and (kind, name) not in seen:
            seen.add((kind, name))
            ctrl = _controller(workload_objs[(ns, kind, name)].raw)
            if ctrl is None:
                break
            kind, name = ctrl
        return kind, name

    by_id: dict[tuple[str, str, str], Workload] = {}  # (namespace, kind, name)
    templates: dict[tuple[str, str, str], Member] = {}
    for (ns, kind, name), obj in sorted(workload_objs.items()):
        tkind, tname = top(ns, kind, name)
        if (tkind, tname) != (kind, name):
            continue  # stands under its owner
        spec_path = _pod_spec_path(kind)
        member = _member(obj, ns, spec_path + ("metadata",), spec_path + ("spec",))
        by_id[(ns, kind, name)] = Workload(ns, name, kind, member.label_dict(), [], obj)
        templates[(ns, kind, name)] = member
    for obj in pods:
        ns = obj.namespace or "default"
        member = _member(obj, ns, ("metadata",), ("spec",), obj.name)
        ctrl = _controller(obj.raw)
        if ctrl is None or ctrl[0] == "Node":
            # a mirror pod (a static pod's API object; kubelet makes its Node the controlling owner) is
            # not a workload controller's member: it is its own endpoint (CONTRACT.md, "Only workload
            # controllers group pods")
            kind, name = "Pod", obj.name
        else:
            kind, name = top(ns, *ctrl)
        w = by_id.get((ns, kind, name))
        if w is None:
            w = by_id[(ns, kind, name)] = Workload(ns, name, kind, member.label_dict(), [], obj)
        w.members.append(member)
        w.pods.append(obj.name)
    for key, w in by_id.items():
        if not w.members:
            w.members.append(templates[key])
        elif key not in templates:
            common = set(w.members[0].labels)
            for m in w.members[1:]:
                common &= set(m.labels)
            w.labels = dict(sorted(common))
    names = Counter((ns, name) for ns, _, name in by_id)
    for (ns, _, name), w in by_id.items():
        w.qualified = names[(ns, name)] > 1
    return list(by_id.values())

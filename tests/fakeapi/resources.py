"""Provides the table of resources the fake API server serves, and URL parsing for them.

The paths are those of the real API server: ``/api/v1/...`` for the core group and
``/apis/GROUP/VERSION/...`` for named groups; namespaced resources are reached cluster-wide
(``/api/v1/pods``) or per namespace (``/api/v1/namespaces/NS/pods[/NAME]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote


@dataclass(frozen=True)
class Resource:
    """One resource type: where it lives in the URL space and the kind of its objects."""

    group: str
    """API group; '' for the core group."""
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        """'v1' or 'apps/v1'."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def id(self) -> str:
        """The name tests and the store use: the plural, qualified by the group where a plural is not unique
        (Calico's networkpolicies are not networking.k8s.io's)."""
        return f"{self.plural}.{self.group}" if self.group.endswith("projectcalico.org") else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "Namespace", False),
    Resource("", "v1", "pods", "Pod", True),
    Resource("", "v1", "services", "Service", True),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True),
    Resource("", "v1", "replicationcontrollers", "ReplicationController", True),
    Resource("apps", "v1", "deployments", "Deployment", True),
    Resource("apps", "v1", "statefulsets", "StatefulSet", True),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True),
    Resource("batch", "v1", "jobs", "Job", True),
    Resource("batch", "v1", "cronjobs", "CronJob", True),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    Resource("policy.networking.k8s.io", "v1alpha2", "clusternetworkpolicies", "ClusterNetworkPolicy", False),
    Resource("policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies", "AdminNetworkPolicy", False),
    Resource("policy.networking.k8s.io", "v1alpha1", "baselineadminnetworkpolicies", "BaselineAdminNetworkPolicy",
             False),
    Resource("cilium.io", "v2", "ciliumnetworkpolicies", "CiliumNetworkPolicy", True),
    Resource("cilium.io", "v2", "ciliumclusterwidenetworkpolicies", "CiliumClusterwideNetworkPolicy", False),
    Resource("cilium.io", "v2", "ciliumcidrgroups", "CiliumCIDRGroup", False),
    Resource("security.istio.io", "v1", "authorizationpolicies", "AuthorizationPolicy", True),
    Resource("security.istio.io", "v1", "peerauthentications", "PeerAuthentication", True),
    *(Resource(group, version, plural, kind, namespaced)
      for group, version in (("projectcalico.org", "v3"), ("crd.projectcalico.org", "v1"))
      for plural, kind, namespaced in (
          ("tiers", "Tier", False), ("globalnetworkpolicies", "GlobalNetworkPolicy", False),
          ("networkpolicies", "NetworkPolicy", True), ("globalnetworksets", "GlobalNetworkSet", False),
          ("networksets", "NetworkSet", True), ("stagedglobalnetworkpolicies", "StagedGlobalNetworkPolicy", False),
          ("stagednetworkpolicies", "StagedNetworkPolicy", True),
          ("stagedkubernetesnetworkpolicies", "StagedKubernetesNetworkPolicy", True))),
)
CALICO_IDS = frozenset(r.id for r in RESOURCES if r.group.endswith("projectcalico.org"))
"""Calico's resources: not served unless a test serves them (FakeApiServer.serve_calico)."""

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}


def resource_for(api_version: str, kind: str) -> Resource | None:
    """The resource that stores objects of this apiVersion and kind, or None."""
    return _BY_KIND.get((api_version, kind))


def resource_named(plural: str) -> Resource:
    """The resource with this id (``Resource.id``: unique in this table)."""
    for r in RESOURCES:
        if r.id == plural:
            return r
    raise KeyError(plural)


@dataclass(frozen=True)
class Target:
    """What a request path addresses: a resource, optionally a namespace and an object name."""

    resource: Resource
    namespace: str | None
    """The namespace in the path; None for cluster-scoped or all-namespaces requests."""
    name: str | None


def parse_path(path: str) -> Target | None:
    """Map a request path to its Target; None for paths the server does not know."""
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 2:
        return None
    res = _BY_PATH.get((group, version, rest[0]))
    if res is None or (namespace is not None and not res.namespaced):
        return None
    return Target(res, namespace, rest[1] if len(rest) == 2 else None)

"""Provides the kinds the live source reads and how to list or watch each with the official client.

Requests go through the official client's ``ApiClient`` (its authentication, TLS, proxy and timeout
handling) exactly as the generated ``CoreV1Api.list_namespaced_pod`` & co. build them, but without
importing the generated API classes: those modules and their pydantic models take about 3.5 s to
import, which every ``kubectl microseg`` run would pay. Responses are not preloaded: the raw JSON is
decoded into plain dicts (faster than the models, and unknown fields survive), and list items get the
``kind`` and ``apiVersion`` that the API server leaves out of list items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException


@dataclass(frozen=True)
class Kind:
    """One listed kind and the client methods for it."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool = True
    optional: bool = False
    """Served only where a CRD is installed: a 404 means 'none', without a note."""
    instead_of: str = ""
    """Listed only when this API group version is not served (the same objects in another form)."""

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """The collection (or object) URL path, e.g. /apis/apps/v1/namespaces/NS/deployments."""
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        ns = f"/namespaces/{namespace}" if namespace is not None and self.namespaced else ""
        return f"{base}{ns}/{self.plural}" + (f"/{name}" if name else "")

    @property
    def title(self) -> str:
        """Plural for messages ('Pods', 'NetworkPolicies')."""
        return self.kind[:-1] + "ies" if self.kind.endswith("y") else self.kind + "s"


CALICO_V3 = "projectcalico.org/v3"
CALICO_CRD = "crd.projectcalico.org/v1"
_CALICO = (("Tier", "tiers", False), ("GlobalNetworkPolicy", "globalnetworkpolicies", False),
           ("NetworkPolicy", "networkpolicies", True), ("GlobalNetworkSet", "globalnetworksets", False),
           ("NetworkSet", "networksets", True), ("StagedGlobalNetworkPolicy", "stagedglobalnetworkpolicies", False),
           ("StagedNetworkPolicy", "stagednetworkpolicies", True),
           ("StagedKubernetesNetworkPolicy", "stagedkubernetesnetworkpolicies", True))
CALICO_KINDS = tuple(Kind(k, CALICO_V3, plural, namespaced=ns, optional=True) for k, plural, ns in _CALICO) + tuple(
    Kind(k, CALICO_CRD, plural, namespaced=ns, optional=True, instead_of=CALICO_V3) for k, plural, ns in _CALICO)
"""Calico's kinds (docs.tigera.io/calico/latest/reference/resources/): the projectcalico.org/v3 API (served by
the Calico API server), else the crd.projectcalico.org/v1 CRDs that store them (the same objects; policy
names carry their tier as a prefix there)."""

NAMESPACES = Kind("Namespace", "v1", "namespaces", namespaced=False)
PODS = Kind("Pod", "v1", "pods")
NETWORK_POLICIES = Kind("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies")
SERVICE_ACCOUNTS = Kind("ServiceAccount", "v1", "serviceaccounts")
"""Their labels decide Calico's service-account matches (docs/calico.md)."""

KINDS: tuple[Kind, ...] = (
    NAMESPACES,
    PODS,
    Kind("Deployment", "apps/v1", "deployments"),
    Kind("StatefulSet", "apps/v1", "statefulsets"),
    Kind("DaemonSet", "apps/v1", "daemonsets"),
    Kind("ReplicaSet", "apps/v1", "replicasets"),
    Kind("ReplicationController", "v1", "replicationcontrollers"),
    Kind("Job", "batch/v1", "jobs"),
    Kind("CronJob", "batch/v1", "cronjobs"),
    NETWORK_POLICIES,
    SERVICE_ACCOUNTS,
    Kind("ClusterNetworkPolicy", "policy.networking.k8s.io/v1alpha2", "clusternetworkpolicies", namespaced=False,
         optional=True),
    Kind("AdminNetworkPolicy", "policy.networking.k8s.io/v1alpha1", "adminnetworkpolicies", namespaced=False,
         optional=True),
    Kind("BaselineAdminNetworkPolicy", "policy.networking.k8s.io/v1alpha1", "baselineadminnetworkpolicies",
         namespaced=False, optional=True),
    Kind("CiliumNetworkPolicy", "cilium.io/v2", "ciliumnetworkpolicies", optional=True),
    Kind("CiliumClusterwideNetworkPolicy", "cilium.io/v2", "ciliumclusterwidenetworkpolicies", namespaced=False,
         optional=True),
    Kind("CiliumCIDRGroup", "cilium.io/v2", "ciliumcidrgroups", namespaced=False, optional=True),
    Kind("AuthorizationPolicy", "security.istio.io/v1", "authorizationpolicies", optional=True),
    Kind("PeerAuthentication", "security.istio.io/v1", "peerauthentications", optional=True),
    *CALICO_KINDS,
)
"""Listed in this order; NetworkPolicies after the workloads so that namespaces seen there help its
fallback. The cluster-wide admin policies (sig-network's network-policy-api CRDs: ClusterNetworkPolicy v1alpha2,
and the deprecated v1alpha1 AdminNetworkPolicy and BaselineAdminNetworkPolicy), Cilium's cilium.io/v2
CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and CiliumCIDRGroup (docs/cilium.md) and Istio's
AuthorizationPolicy and PeerAuthentication (the mesh layer, engine/mesh.py) and Calico's kinds
(``CALICO_KINDS``, docs/calico.md) are read where served; a cluster without the CRD is normal (no note)."""


_QUERY_NAMES = {"allow_watch_bookmarks": "allowWatchBookmarks", "_continue": "continue", "limit": "limit",
                "resource_version": "resourceVersion", "timeout_seconds": "timeoutSeconds", "watch": "watch"}


class Calls:
    """Raw GET requests for the kinds, through one official ApiClient."""

    def __init__(self, api_client: ApiClient):
        self.api_client = api_client

    def get(self, path: str, query: list[tuple[str, Any]], timeout: Any) -> Any:
        """GET ``path`` as the generated client methods do; returns the undecoded urllib3 response.

        Raises:
            ApiException: for a non-2xx answer (body read, as the client's ``_preload_content=False`` does).
        """
        params = self.api_client.param_serialize(
            method="GET", resource_path=path, query_params=query,
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
        resp = self.api_client.call_api(*params, _request_timeout=timeout)
        if not 200 <= resp.status <= 299:
            resp.read()
            raise ApiException.from_response(http_resp=resp, body=None, data=None)
        return resp.response

    def lister(self, kind: Kind, namespace: str | None) -> Callable[..., Any]:
        """The list/watch call for ``kind`` in ``namespace`` (None: all namespaces / cluster-scoped).

        It takes the generated methods' keyword names (``limit``, ``_continue``, ``watch``,
        ``resource_version``, ``allow_watch_bookmarks``, ``timeout_seconds``, ``_request_timeout``).
        """
        path = kind.path(namespace)

        def call(_request_timeout: Any = None, **kw: Any) -> Any:
            query = [(_QUERY_NAMES[k], v) for k, v in kw.items() if v is not None]
            return self.get(path, query, _request_timeout)
        return call

    def read(self, kind: Kind, name: str, timeout: Any) -> Any:
        """GET one object (e.g. a Namespace)."""
        return self.get(kind.path(None, name), [], timeout)


AUDITED_KINDS = ("NetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")
"""Kinds whose managedFields are kept in a slim form (who changed them, for ``audit``)."""


def clean(obj: dict[str, Any], kind: Kind) -> dict[str, Any]:
    """Give an API object its kind/apiVersion and drop managedFields (large, never used).

    Policies keep a slim managedFields (manager, operation, time, subresource; no fieldsV1): ``audit``
    reports who changed them.
    """
    obj.setdefault("kind", kind.kind)
    obj.setdefault("apiVersion", kind.api_version)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        managed = meta.pop("managedFields", None)
        if kind.kind in AUDITED_KINDS and isinstance(managed, list):
            meta["managedFields"] = [{k: m[k] for k in ("manager", "operation", "time", "subresource") if k in m}
                                     for m in managed if isinstance(m, dict)]
    return obj


def object_key(obj: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, namespace or '', name) of a raw object."""
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind") or ""), str(meta.get("namespace") or ""), str(meta.get("name") or ""))

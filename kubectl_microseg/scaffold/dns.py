"""Provides ``find_dns``: where the cluster DNS runs, read from the model, and the DNS egress rule.

Policies match pods, not Services: a query sent to the kube-dns Service address reaches a DNS pod after
the Service's port translation, so the egress rule must name the DNS pods (by namespace and labels)
and the port the pods listen on (their containerPort), which is 53 on most clusters but 5353 on
OpenShift. Both UDP and TCP are opened: resolvers retry over TCP when an answer does not fit in a UDP
datagram (RFC 7766 makes TCP support mandatory).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.cluster import Cluster, Workload
from .draft import DraftRule, match_labels, namespace_selector, port_entry

# Labels that mark the cluster DNS, most common first: kubeadm, kops, EKS, GKE and AKS all label
# CoreDNS (or kube-dns) k8s-app=kube-dns; the upstream Helm chart uses app.kubernetes.io/name=coredns;
# OpenShift's DNS operator runs it in openshift-dns with its own label.
KNOWN_DNS_LABELS: tuple[tuple[str, str], ...] = (
    ("k8s-app", "kube-dns"),
    ("k8s-app", "coredns"),
    ("app.kubernetes.io/name", "coredns"),
    ("app.kubernetes.io/name", "kube-dns"),
    ("dns.operator.openshift.io/daemonset-dns", "default"),
)
PREFERRED_NAMESPACES = ("kube-system", "openshift-dns")
STANDARD = ("kube-system", ("k8s-app", "kube-dns"))


@dataclass(frozen=True)
class DnsTarget:
    """The DNS pods a DNS egress rule must reach."""

    namespace: str
    label: tuple[str, str]
    """The label that selects the DNS pods (key, value)."""
    ports: tuple[int, ...] = (53,)
    """Port numbers the DNS pods listen on (each opened for UDP and TCP)."""
    workload: str | None = None
    """The workload found in the model ('kube-system/coredns'); None for the fallback."""
    note: str = ""
    """Why the fallback was used, or how the target was found."""

    @property
    def found(self) -> bool:
        return self.workload is not None

    def rule(self, why: str | None = None) -> DraftRule:
        """The egress rule that lets a pod resolve names."""
        origin = (f"the cluster DNS found in the model ({self.workload})" if self.found
                  else f"the standard cluster DNS labels ({self.label[0]}={self.label[1]} in {self.namespace}; "
                       "not found in the model)")
        ports = tuple(port_entry(proto, p) for p in self.ports for proto in ("UDP", "TCP"))
        text = why or (f"DNS: name lookups to {origin}, UDP and TCP "
                       f"{','.join(str(p) for p in self.ports)} (TCP for answers too large for UDP).")
        peer = {"namespaceSelector": namespace_selector(self.namespace),
                "podSelector": match_labels(dict([self.label]))}
        return DraftRule(text, (peer,), ports)


def _dns_ports(w: Workload) -> tuple[int, ...]:
    """The numbers of the DNS pods' ports named dns* (e.g. dns, dns-tcp); 53 when none is named."""
    nums = sorted({num for m in w.members for (name, proto, num) in m.named_ports
                   if name.startswith("dns") and proto in ("UDP", "TCP")})
    return tuple(nums) or (53,)


def find_dns(cluster: Cluster | None) -> DnsTarget:
    """The cluster DNS as the model shows it; the standard kube-dns labels in kube-system otherwise.

    Candidates are workloads whose pods carry one of ``KNOWN_DNS_LABELS``; one in a preferred namespace
    (kube-system, openshift-dns) wins, then the order of the known labels, then the workload id.
    hostNetwork DNS pods are skipped: no policy can select them.
    """
    if cluster is None:
        return DnsTarget(STANDARD[0], STANDARD[1], note="no cluster model was read: using the standard cluster "
                         "DNS labels (k8s-app=kube-dns in kube-system); check them with "
                         "`kubectl get pods -A -l k8s-app=kube-dns`")
    best: tuple[tuple[int, int, str], DnsTarget] | None = None
    for w in cluster.workloads:
        if w.host_network:
            continue
        for rank, (key, value) in enumerate(KNOWN_DNS_LABELS):
            if all(m.label_dict().get(key) == value for m in w.members):
                ns_rank = PREFERRED_NAMESPACES.index(w.namespace) if w.namespace in PREFERRED_NAMESPACES else 9
                score = (ns_rank, rank, w.id)
                if best is None or score < best[0]:
                    target = DnsTarget(w.namespace, (key, value), _dns_ports(w), w.id,
                                       f"cluster DNS found in the model: {w.id} ({key}={value})")
                    best = (score, target)
                break
    if best is not None:
        return best[1]
    return DnsTarget(STANDARD[0], STANDARD[1], note="no cluster DNS workload (kube-dns/CoreDNS labels) in the model: "
                     "using the standard labels k8s-app=kube-dns in kube-system; check them with "
                     "`kubectl get pods -A -l k8s-app=kube-dns`")

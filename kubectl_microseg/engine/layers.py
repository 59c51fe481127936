"""Which policy layers a view evaluated, in the dataplane's order, and which it found no objects of.

A matrix that leaves out a layer the cluster enforces shows connectivity that is not real, so every
Kubernetes view says what it evaluated. The order is the pipeline's (engine/pipeline.py) with the mesh on
top: Cilium deny rules → Calico tiers → ClusterNetworkPolicy Admin tier → NetworkPolicy (with Calico's
default tier and Cilium allows) → ClusterNetworkPolicy Baseline tier → the Istio mesh (L7 and mTLS).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.cluster import Cluster


@dataclass(frozen=True)
class LayerCount:
    """One layer and how many objects of it the input held."""

    layer: str
    objects: int
    kinds: str

    def to_contract(self) -> dict[str, object]:
        return {"layer": self.layer, "objects": self.objects, "kinds": self.kinds}


def layer_inventory(cluster: Cluster) -> list[LayerCount]:
    """Every layer the tool knows, in evaluation order, with its object count in ``cluster``."""
    admin = [e.policy for e in cluster.admin_policies]
    baseline = sum(1 for p in admin if p.is_baseline)
    return [
        LayerCount("Cilium", len(cluster.cilium), "CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy"),
        LayerCount("Calico tiers", len(cluster.calico.policies), "projectcalico.org NetworkPolicy, GlobalNetworkPolicy"),
        LayerCount("Admin tier", len(admin) - baseline, "ClusterNetworkPolicy (Admin), AdminNetworkPolicy"),
        LayerCount("NetworkPolicy", len(cluster.policies), "networking.k8s.io NetworkPolicy"),
        LayerCount("Baseline tier", baseline, "ClusterNetworkPolicy (Baseline), BaselineAdminNetworkPolicy"),
        LayerCount("Istio mesh", len(cluster.mesh.authz) + len(cluster.mesh.peer_authn),
                   "AuthorizationPolicy, PeerAuthentication"),
    ]


def layers_line(inventory: list[LayerCount]) -> str:
    """One line for the human views: what was evaluated, and what the input held nothing of."""
    used = [f"{c.layer} ({c.objects})" for c in inventory if c.objects]
    absent = [c.layer for c in inventory if not c.objects]
    line = "layers evaluated: " + (" → ".join(used) if used else "none (no policy objects)")
    if absent:
        line += ("; no objects of " + ", ".join(absent)
                 + " (if the cluster enforces such policies some other way, this view does not show them)")
    return line

"""Provides compiled rules: a policy rule with its peers resolved to a bitset of pod classes and a set of
outside addresses, and its ports (named ports resolved per destination), as the pipeline's layers use them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..model.addresses import AddressSet
from ..model.admin import AdminPolicy, AdminRule
from ..model.policy import NetworkPolicy, Rule
from ..model.ports import ConnSet, NamedPorts

if TYPE_CHECKING:
    from .atoms import ExternalAtom


def peer_matches(classes: int, addresses: AddressSet, peer: int | ExternalAtom) -> bool:
    """Whether a rule that selects ``classes`` (bitset) and ``addresses`` matches a class or an address range.
    Every rule's address blocks hold all of an atom or none of it, so its first interval decides."""
    if isinstance(peer, int):
        return bool(classes & (1 << peer))
    return addresses.contains_interval(peer.lo, peer.hi)


@dataclass
class CompiledRule:
    """A NetworkPolicy rule."""

    policy: NetworkPolicy
    rule: Rule
    classes: int
    """Bitset of the pod classes the rule's peers select."""
    addresses: AddressSet
    """Addresses outside the cluster the rule's peers select."""
    all_peers: bool
    static: ConnSet | None
    """The rule's ports, or None when named ports must be resolved per destination."""
    resolved: dict[NamedPorts, ConnSet] = field(default_factory=dict, repr=False)
    """Named-port resolutions by the destination's named ports (pods of a class share one set)."""
    local: bool = False
    """Every peer is a podSelector alone, so the rule selects pods of its policy's own namespace only
    (NetworkPolicyPeer: a podSelector without namespaceSelector selects pods in the policy's namespace): a
    new class of another namespace is never selected by it (``Analyzer.replace_namespace``)."""

    def conns(self, dst_named: NamedPorts) -> ConnSet:
        if self.static is not None:
            return self.static
        hit = self.resolved.get(dst_named)
        if hit is None:
            hit = self.resolved[dst_named] = self.rule.conns_for(dst_named)
        return hit

    def matches(self, peer: int | ExternalAtom) -> bool:
        return peer_matches(self.classes, self.addresses, peer)


@dataclass
class CompiledAdminRule:
    """A ClusterNetworkPolicy (or v1alpha1 ANP/BANP) rule."""

    policy: AdminPolicy
    rule: AdminRule
    classes: int
    addresses: AddressSet
    static: ConnSet | None
    unsure_classes: int = 0
    """Classes the rule's unevaluated peers (nodes: hostNetwork pods have node addresses) could match."""
    unsure_external: bool = False
    """The rule has peers (nodes, domainNames) that could match outside addresses but are not evaluated."""

    @property
    def unsure(self) -> bool:
        return self.unsure_external or bool(self.unsure_classes)

    def conns(self, dst_named: NamedPorts) -> ConnSet:
        return self.static if self.static is not None else self.rule.conns_for(dst_named)

    def matches(self, peer: int | ExternalAtom) -> bool:
        return peer_matches(self.classes, self.addresses, peer)

    def may_match(self, peer: int | ExternalAtom) -> bool:
        """Whether the rule's unevaluated peers could match ``peer``."""
        if isinstance(peer, int):
            return bool(self.unsure_classes & (1 << peer))
        return self.unsure_external

"""Provides the closed vocabularies shared by the core and the views, as string enums.

Each member *is* its string (``Direction.INGRESS == "ingress"``, same hash, ``str()``/f-strings/json give
the value), so the machine-readable output (``../shared/CONTRACT.md``, docs/contract.md) is byte-identical
to the bare strings these enums replace, and a comparison with a literal still works. The enum is the
list of what can occur: a new reason kind, event type or session kind is added here first.
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """``enum.StrEnum`` for Python 3.10 too: ``str()`` and ``format()`` give the value, not ``Cls.NAME``."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)


class Direction(StrEnum):
    """The side of a connection a rule or a verdict belongs to (the source's egress, the destination's ingress)."""

    INGRESS = "ingress"
    EGRESS = "egress"


DIRECTIONS: tuple[Direction, Direction] = (Direction.INGRESS, Direction.EGRESS)


class ReasonKind(StrEnum):
    """What one step of a verdict's chain is (``engine.pipeline.Reason.kind``; explain's json ``kind``)."""

    ALLOWED_BY_RULE = "ALLOWED_BY_RULE"
    """A NetworkPolicy (or Cilium allow) rule admits the peer on some ports."""
    NOT_ISOLATED = "NOT_ISOLATED"
    """No policy isolates the pod for this direction: the default allows what is left."""
    HOST_NETWORK = "HOST_NETWORK"
    """A hostNetwork pod's traffic is the node's: policies neither select nor isolate it."""
    NO_RULE_MATCHED = "NO_RULE_MATCHED"
    """The pod is isolated and no rule admits the peer."""
    SELECTED_NO_RULES = "SELECTED_NO_RULES"
    """The pod is isolated by policies without rules for this direction."""
    PORT_NOT_ALLOWED = "PORT_NOT_ALLOWED"
    """Rules admit the peer, but not on the port asked about (explain --port)."""
    EXTERNAL = "EXTERNAL"
    """The side is outside the cluster: no policy of it is known."""
    UNEVALUATED = "UNEVALUATED"
    """A rule that could decide here cannot be evaluated offline (nodes, domainNames, ...): uncertain."""
    CILIUM_DENY = "CILIUM_DENY"
    """A Cilium ingressDeny/egressDeny rule."""
    CALICO_ALLOW = "CALICO_ALLOW"
    CALICO_DENY = "CALICO_DENY"
    CALICO_PASS = "CALICO_PASS"
    CALICO_LOG = "CALICO_LOG"
    CALICO_TIER_DENY = "CALICO_TIER_DENY"
    """The end of a Calico tier that applied to the endpoint: the implicit deny."""
    CALICO_TIER_PASS = "CALICO_TIER_PASS"
    """The end of a Calico tier that applied only through staged/Pass-ending policies: on to the next tier."""
    ANP_ALLOW = "ANP_ALLOW"
    """An AdminNetworkPolicy (v1alpha1) rule; the suffix is its action as written (Allow, Deny, Pass)."""
    ANP_DENY = "ANP_DENY"
    ANP_PASS = "ANP_PASS"
    BANP_ALLOW = "BANP_ALLOW"
    """A BaselineAdminNetworkPolicy (v1alpha1) rule (Allow or Deny)."""
    BANP_DENY = "BANP_DENY"
    ADMIN_ACCEPT = "ADMIN_ACCEPT"
    """A ClusterNetworkPolicy (v1alpha2) rule of the Admin tier (Accept, Deny, Pass)."""
    ADMIN_DENY = "ADMIN_DENY"
    ADMIN_PASS = "ADMIN_PASS"
    BASELINE_ACCEPT = "BASELINE_ACCEPT"
    """A ClusterNetworkPolicy (v1alpha2) rule of the Baseline tier."""
    BASELINE_DENY = "BASELINE_DENY"
    BASELINE_PASS = "BASELINE_PASS"


class Effect(StrEnum):
    """What one step of a verdict's chain does to its ports (``engine.pipeline.Reason.effect``)."""

    ALLOW = "allow"
    DENY = "deny"
    PASS = "pass"
    """Hands the ports to the next layer (an admin or Calico Pass, the end of a Calico tier of staged policies)."""
    NONE = "none"
    """Decides nothing (an unevaluated rule, a Calico Log)."""


class FlowVerdict(StrEnum):
    """What a flow gets (``nft test``/``test`` json ``verdict``, ``nft.evaluate.Evaluation.verdict``)."""

    ALLOW = "allow"
    DENY = "deny"
    UNKNOWN = "unknown"
    """The verdict depends on something the engine does not model (named in the notes)."""


class CauseChange(StrEnum):
    """How a policy explains a pair's change in a diff (``engine.diff.Cause.change``; json ``change``)."""

    ISOLATES = "isolates"
    """A policy now selects the endpoint for the direction."""
    NO_LONGER_ISOLATES = "no-longer-isolates"
    ALLOWS = "allows"
    """A rule now matches the pair."""
    NO_LONGER_ALLOWS = "no-longer-allows"
    DENIES = "denies"
    """A Deny rule (admin tier, baseline, Calico, Cilium) now matches the pair."""
    NO_LONGER_DENIES = "no-longer-denies"
    ENDPOINT_CHANGED = "endpoint-changed"
    """The source's or destination's pods or namespace changed (``policy`` is then the endpoint's id)."""


class ChangeAction(StrEnum):
    """What a simulated change does to one object (``engine.simulate.ObjectChange``)."""

    ADD = "add"
    REPLACE = "replace"
    DELETE = "delete"


class EventType(StrEnum):
    """The kind of a live source's event (``sources.Event.type``): the watch API's types, and STATE."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    STATE = "STATE"
    """A change of the connection's state (``sources.Event.state``), no object."""


class WatchState(StrEnum):
    """The state of a live source's connection (``sources.Event.state`` of STATE events)."""

    WATCHING = "watching"
    RECONNECTING = "reconnecting"
    RELISTING = "relisting"
    STALE = "stale"


class SessionKind(StrEnum):
    """What a source reads and a TUI session shows: a Kubernetes cluster (or its files), or host firewalls."""

    K8S = "k8s"
    NFT = "nft"

    def describe(self) -> str:
        return "Kubernetes objects" if self is SessionKind.K8S else "host firewalls"

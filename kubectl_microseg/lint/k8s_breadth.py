"""Provides the breadth rules: egress isolation without DNS (MS007), allow-all rules (MS008) and
ipBlocks of the whole address space without excepts (MS009)."""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.exposure import sensitive_ports
from ..model.policy import Peer
from ..vocab import DIRECTIONS, Direction
from .context import LintContext, policy_ref, workload_ref
from .finding import Finding, RuleInfo

MS007 = RuleInfo(
    "MS007", "egress-without-dns", "warning",
    "egress-isolated workload that cannot reach DNS",
    "The workload is isolated for egress and no rule lets it reach a cluster DNS pod (CoreDNS / kube-dns: "
    "k8s-app=kube-dns) on UDP 53, nor any address outside the cluster on UDP 53 (e.g. NodeLocal DNSCache), "
    "so name lookups time out. Computed with the engine: the DNS pod's own ingress must admit it too. Allow "
    "egress to the DNS pods on UDP and TCP 53 (an allow-dns policy).")
MS008 = RuleInfo(
    "MS008", "allow-all-rule", "warning",
    "rule that allows every peer on every port",
    "An ingress or egress rule with no from/to (or a peer of every pod in every namespace: "
    "namespaceSelector: {}) and no ports allows everything in that direction, which undoes the "
    "segmentation for the pods the policy selects. Rules whose peers are restricted (the namespace's own "
    "pods, the members of a zone) are not reported even without ports. List the peers and ports needed.")
MS009 = RuleInfo(
    "MS009", "ipblock-everything", "warning",
    "ipBlock of 0.0.0.0/0 or ::/0 without except",
    "An ipBlock of the whole address space includes the private ranges: node and control-plane addresses, "
    "the VPC and other internal networks that are not pods. Add `except` for the private ranges "
    "(10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16; fc00::/7 for IPv6) or name the real destination.")

DNS_LABELS = (("k8s-app", "kube-dns"), ("k8s-app", "coredns"), ("app.kubernetes.io/name", "coredns"),
              ("app.kubernetes.io/name", "kube-dns"), ("app", "coredns"))
"""Labels that mark cluster DNS pods (upstream manifests and the common Helm charts)."""


def dns_classes(ctx: LintContext) -> list[int]:
    """Pod classes of cluster DNS servers: the labels above, or a named port 'dns' on UDP 53."""
    out = []
    for c in ctx.analyzer.classes:
        if c.host_network:
            continue
        if any(c.labels.get(k) == v for k, v in DNS_LABELS) or ("dns", "UDP", 53) in c.named_ports:
            out.append(c.index)
    return out


def _reaches_dns(ctx: LintContext, cls: int, servers: list[int]) -> bool:
    a = ctx.analyzer
    if any(a.class_allows(cls, d).allows("UDP", 53) for d in servers):
        return True
    atoms = a.atom_map(Direction.EGRESS, cls)
    return atoms is None or any(c.allows("UDP", 53) for c in atoms.values())


def check_dns(ctx: LintContext) -> Iterator[Finding]:
    """MS007: egress-isolated pod classes that reach no DNS server on UDP 53."""
    if ctx.partial:  # the DNS pods may be where the view cannot see
        return
    a = ctx.analyzer
    servers = dns_classes(ctx)
    for w in ctx.pod_workloads():
        bad = [c for c in a.workload_classes[w.id] if not a.classes[c].host_network
               and a.isolating["egress"][c] and not _reaches_dns(ctx, c, servers)]
        if not bad:
            continue
        pols = list(dict.fromkeys(p.id for c in bad for p in a.isolating["egress"][c]))
        entry = next((e for e in ctx.policies() if e.policy.id == pols[0]), None)
        target = "the cluster DNS pods" if servers else "any DNS server (no DNS pods are in the input)"
        yield ctx.finding(
            MS007, f"{w.id} is isolated for egress by {', '.join(pols)} and cannot reach {target} on UDP 53: "
                   "name lookups will fail",
            workload_ref(w), entry.source if entry else w.source,
            fix=f"add an egress rule for {w.namespace} to namespaceSelector kubernetes.io/metadata.name=kube-system, "
                "podSelector k8s-app=kube-dns on UDP and TCP 53 (and check the DNS pods' ingress admits it)")


def _cluster_wide(peer: Peer) -> bool:
    return (peer.ip_block is None and peer.namespace_selector is not None and peer.namespace_selector.is_empty()
            and (peer.pod_selector is None or peer.pod_selector.is_empty()))


def check_allow_all(ctx: LintContext) -> Iterator[Finding]:
    """MS008: rules with every port and peers that are everyone (or every pod of every namespace)."""
    for e in ctx.policies():
        pol = e.policy
        for direction in DIRECTIONS:
            if not pol.affects(direction):
                continue
            for rule in pol.rules(direction):
                if rule.ports is not None:
                    continue
                if rule.peers is None:
                    who = "every source" if direction == Direction.INGRESS else "every destination"
                    scope = "(every pod and every address)"
                elif any(_cluster_wide(p) for p in rule.peers):
                    who = "every pod of every namespace"
                    scope = "(namespaceSelector: {})"
                else:
                    continue
                subject = pol.pod_selector.describe()
                yield ctx.finding(
                    MS008, f"{pol.id} {direction} rule {rule.index} allows {who} {scope} on every port for the pods "
                           f"it selects [{subject}]", policy_ref(e), e.source, rule.path,
                    fix="list the peers (podSelector / namespaceSelector) and the ports that are needed")


def check_ipblock_everything(ctx: LintContext) -> Iterator[Finding]:
    """MS009: ipBlock cidr 0.0.0.0/0 or ::/0 with no except."""
    for e in ctx.policies():
        pol = e.policy
        for direction in DIRECTIONS:
            key = "from" if direction == Direction.INGRESS else "to"
            for rule in pol.rules(direction):
                for i, peer in enumerate(rule.peers or ()):
                    if peer.ip_block is None or peer.ip_text not in ("0.0.0.0/0", "::/0"):
                        continue
                    ports = "every port" if rule.ports is None else rule.describe_ports()
                    private = "fc00::/7" if ":" in peer.ip_text else "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16"
                    static = rule.static_conns()
                    sensitive = sensitive_ports(static) if static is not None else []
                    fix = (f"do not open {', '.join(sensitive)} to the internet (MS014): allow only the clients' "
                           "own address ranges or pods; an except of the private ranges does not make it safe"
                           if sensitive else f"add except: [{private}] or name the real address range")
                    yield ctx.finding(
                        MS009, f"{pol.id} {direction} rule {rule.index}, {key}[{i}]: ipBlock {peer.ip_text} without "
                               f"except ({ports}) includes node, control-plane and private network addresses",
                        policy_ref(e), e.source, rule.path + (key, i, "ipBlock"),
                        fix=fix)


RULES = ((MS007, check_dns), (MS008, check_allow_all), (MS009, check_ipblock_everything))

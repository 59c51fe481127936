"""Provides the exposure rules: open to the internet (MS014), open to every namespace (MS015), DNS without
TCP (MS016). MS014 and MS015 are the exposure checks of ``engine.exposure``, the same ones the guards of
``simulate`` and ``apply`` use: lint reports the state, the guards what a change adds."""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.exposure import OPEN_TO_CLUSTER, OPEN_TO_INTERNET, exposures
from .context import LintContext, workload_ref
from .finding import Finding, RuleInfo
from .k8s_breadth import dns_classes

MS014 = RuleInfo(
    "MS014", "open-to-internet", "error",
    "workload whose ingress admits public addresses",
    "The workload's ingress policies admit addresses on the internet (outside the private, shared, loopback, "
    "link-local and multicast ranges). An error when the ports include a sensitive service (databases, "
    "caches, SSH/RDP, etcd, kubelet: a database open to 0.0.0.0/0 on 5432), where an `except` of the private "
    "ranges does not help. Other ports are not reported (a public front end is exposed on purpose; the guards "
    "of simulate and apply still report every new exposure). Allow only the clients that need it (their "
    "pods, or their exact address ranges).")
MS015 = RuleInfo(
    "MS015", "open-to-cluster", "error",
    "workload whose ingress admits every pod of every namespace",
    "The workload's ingress policies admit every pod of every other namespace (`namespaceSelector: {}` and no "
    "podSelector, or a rule without from), on a sensitive port: any compromised pod in the cluster reaches "
    "the database or control port. Other ports are not reported (MS008 reports rules open on every port). "
    "Name the namespaces and pods that need it.")
MS016 = RuleInfo(
    "MS016", "dns-without-tcp", "warning",
    "DNS allowed on UDP 53 but not TCP 53",
    "The workload reaches the cluster DNS on UDP 53 but not on TCP 53. DNS falls back to TCP for answers that "
    "do not fit in UDP (RFC 7766 requires TCP support), so large answers fail intermittently. Allow TCP 53 "
    "next to UDP 53.")


def check_exposure(ctx: LintContext) -> Iterator[Finding]:
    """MS014 and MS015 on sensitive ports, from ``engine.exposure.exposures`` (the guards' own checks)."""
    by_id = {w.id: w for w in ctx.cluster.workloads}
    rule = {OPEN_TO_INTERNET: MS014, OPEN_TO_CLUSTER: MS015}
    for (kind, wid), e in sorted(exposures(ctx.analyzer).items()):
        w = by_id[wid]
        fix = ("allow only the clients that need it: their pods (podSelector/namespaceSelector) or their exact "
               "address ranges; an except of the private ranges does not protect a sensitive service"
               if kind == OPEN_TO_INTERNET else
               "name the namespaces (namespaceSelector with labels) and pods (podSelector) that need it")
        if not e.sensitive:
            continue  # a public front end, the cluster DNS: exposed on purpose (MS008 reports allow-all rules)
        yield ctx.finding(rule[kind], e.message(), workload_ref(w), w.source, fix=fix, severity=e.severity)


def check_dns_tcp(ctx: LintContext) -> Iterator[Finding]:
    """MS016: egress-isolated workloads that reach the DNS pods on UDP 53 and not on TCP 53."""
    a = ctx.analyzer
    servers = dns_classes(ctx)
    if not servers:
        return
    for w in ctx.pod_workloads():
        for c in a.workload_classes[w.id]:
            if a.classes[c].host_network or not a.isolating["egress"][c] or c in servers:
                continue
            udp = any(a.class_allows(c, d).allows("UDP", 53) for d in servers if d != c)
            tcp = any(a.class_allows(c, d).allows("TCP", 53) for d in servers if d != c)
            if udp and not tcp:
                pols = ", ".join(dict.fromkeys(p.id for p in a.isolating["egress"][c]))
                yield ctx.finding(MS016, f"{w.id} reaches the cluster DNS on UDP 53 but not on TCP 53 (egress "
                                         f"isolated by {pols}): answers too large for UDP fail",
                                  workload_ref(w), w.source, fix="allow TCP 53 next to UDP 53 in the DNS egress rule")
                break


RULES = ((MS014, check_exposure), (MS015, None), (MS016, check_dns_tcp))

"""Simulations on the demo cluster: default deny where it is missing, allow-dns removed, a widened selector.

The expected flows are worked out by hand from the demo manifests (kubectl_microseg/demo/cluster):
- batch has no default deny (planted mistake 1): nightly-etl's egress is restricted by nightly-etl-egress,
  everything else about batch is open, except what the platform's admin policies deny (cluster-admin.yaml:
  the ANP denies 169.254.169.254 to every pod, the BANP the private networks to pods no egress
  NetworkPolicy isolates). A default deny for batch therefore cuts every flow into batch, and
  every flow out of report-generator, and nothing else (nightly-etl's egress is already isolated).
- production/allow-dns is the only production policy that lets its pods reach CoreDNS.
- production/database-tier admits tier=api pods of production; widened to every namespace, only pods
  whose own egress is open can use it: batch/report-generator (no policy selects it).
"""

from __future__ import annotations

from collections.abc import Iterable

from kubectl_microseg.engine.diff import PairDiff, diff_matrices, endpoint_addresses
from kubectl_microseg.engine.guards import ExpectedFlow
from kubectl_microseg.engine.analyze import analyze
from kubectl_microseg.engine.simulate import Deletion, simulate
from kubectl_microseg.model.snapshot import Snapshot
from kubectl_microseg.model.addresses import AddressSet
from kubectl_microseg.model.ports import ConnSet

from .helpers import (ALLOW_METRICS_PORT, DEFAULT_DENY_BATCH, WIDEN_DATABASE, demo_objects, find, objects, pairs,
                      workload_pairs)

BATCH = ("batch/nightly-etl", "batch/report-generator")
TCP_UDP_53 = ConnSet.ports("TCP", 53) | ConnSet.ports("UDP", 53)
PRIVATE = AddressSet()
for _cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.169.254/32"):
    PRIVATE = PRIVATE | AddressSet.from_cidr(_cidr)


def addresses(ps: Iterable[PairDiff]) -> AddressSet:
    """The outside addresses of the pairs' external endpoints."""
    out = AddressSet()
    for p in ps:
        ep = p.src_endpoint if p.src_endpoint.is_external else p.dst_endpoint
        out = out | endpoint_addresses(ep)
    return out


def test_default_deny_for_batch_cuts_exactly_the_open_flows() -> None:
    diff, sim = simulate(demo_objects(), objects(DEFAULT_DENY_BATCH))
    assert [c.describe() for c in sim.changes] == [
        "add NetworkPolicy batch/default-deny-all (changes.yaml, document 1)"]
    assert diff.added == [] and diff.changed == []
    # between workloads: exactly these six flows are cut
    assert workload_pairs(diff.removed) == {
        ("batch/report-generator", "batch/nightly-etl"),
        ("batch/report-generator", "batch/report-generator"),
        ("batch/report-generator", "kube-system/coredns"),
        ("batch/report-generator", "kube-system/kube-proxy"),
        ("kube-system/kube-proxy", "batch/nightly-etl"),       # hostNetwork: the node's traffic, unrestricted egress
        ("kube-system/kube-proxy", "batch/report-generator"),
    }
    assert find(diff, "batch/report-generator", "kube-system/coredns").before == TCP_UDP_53
    # outside the cluster: every address into batch; out of report-generator, what the platform's admin
    # policies left it (the BANP denies the private networks, the ANP the instance-metadata address)
    outside = [p for p in diff.removed if p.src_endpoint.is_external or p.dst_endpoint.is_external]
    assert {p.dst for p in outside if p.src_endpoint.is_external} == set(BATCH)
    assert {p.src for p in outside if p.dst_endpoint.is_external} == {"batch/report-generator"}
    for w in BATCH:
        assert addresses(p for p in outside if p.dst == w) == AddressSet.everything()
    assert addresses(p for p in outside if p.src == "batch/report-generator") == AddressSet.everything() - PRIVATE
    assert all(p.after.is_empty() and p.before for p in diff.removed)
    # nothing else changes
    for p in diff.unchanged:
        assert p.dst not in BATCH and p.src != "batch/report-generator"
    # every cut is attributed to the new policy, on the side it isolates, and listed under batch
    # (the baseline rules that allowed some pairs no longer apply, but they did not change: never blamed)
    for p in diff.removed:
        assert {(c.policy, c.change) for c in p.causes} == {("batch/default-deny-all", "isolates")}
        assert p.group == "batch"
    assert {c.policy for c in find(diff, "batch/report-generator", "batch/nightly-etl").causes} == {
        "batch/default-deny-all"}
    both = find(diff, "batch/report-generator", "batch/nightly-etl")
    assert {c.direction for c in both.causes} == {"egress", "ingress"}
    assert [c.direction for c in find(diff, "kube-system/kube-proxy", "batch/nightly-etl").causes] == ["ingress"]
    # and the DNS guard fires for the one workload that loses CoreDNS
    assert [(f.kind, f.subject) for f in diff.findings] == [("dns-broken", "batch/report-generator")]


def test_removing_allow_dns_breaks_dns_for_every_production_pod() -> None:
    flows = [ExpectedFlow("production/api-server", "kube-system/coredns", 53, "UDP", "allow"),
             ExpectedFlow("production/frontend", "kube-system/coredns", "dns", "UDP", "allow"),
             ExpectedFlow("production/frontend", "production/api-server", 8080, "TCP", "allow"),  # unaffected
             ExpectedFlow("production/api-server", "kube-system/coredns", 9153, "TCP", "deny")]  # unaffected
    diff, sim = simulate(demo_objects(), deletions=[Deletion("production", "allow-dns")], expectations=flows)
    assert [c.describe() for c in sim.changes] == ["delete NetworkPolicy production/allow-dns"]
    production = {"production/api-server", "production/frontend", "production/netshoot-debug",
                  "production/order-service", "production/postgresql", "production/redis"}
    assert pairs(diff.removed) == {(w, "kube-system/coredns") for w in production}
    assert diff.added == [] and diff.changed == []
    for p in diff.removed:
        assert p.before == TCP_UDP_53
        assert [(c.policy, c.direction, c.change, c.rule, c.conns) for c in p.causes] == [
            ("production/allow-dns", "egress", "no-longer-allows", 1, TCP_UDP_53)]
        assert p.group == "production"   # egress causes: listed under the source's namespace
    dns = sorted(f.subject for f in diff.findings if f.kind == "dns-broken")
    assert dns == sorted(production)
    cut = [f.subject for f in diff.findings if f.kind == "expectation-cut"]
    assert cut == ["production/api-server -> kube-system/coredns UDP/53",
                   "production/frontend -> kube-system/coredns UDP/dns"]


def test_widening_a_selector_lists_the_new_flow_and_the_exposure() -> None:
    diff, sim = simulate(demo_objects(), objects(WIDEN_DATABASE))
    assert [c.action for c in sim.changes] == ["replace"]
    assert diff.removed == [] and diff.changed == []
    assert pairs(diff.added) == {("batch/report-generator", "production/postgresql")}
    p = diff.added[0]
    assert p.after == ConnSet.ports("TCP", 5432) and p.before.is_empty()
    assert [(c.policy, c.direction, c.change, c.rule) for c in p.causes] == [
        ("production/database-tier", "ingress", "allows", 1)]
    assert not diff.breaking()
    assert [(f.kind, f.subject) for f in diff.findings] == [("open-to-cluster", "production/postgresql")]
    assert "TCP 5432" in diff.findings[0].message


def test_a_rule_edited_in_place_shows_as_ports_changed() -> None:
    diff, _ = simulate(demo_objects(), objects(ALLOW_METRICS_PORT))
    assert diff.added == [] and diff.removed == []
    assert {p.src for p in diff.changed} == {"monitoring/prometheus"}
    for p in diff.changed:
        assert p.newly_denied == ConnSet.ports("TCP", 8080)      # prometheus' own egress never allowed 9100
        assert p.newly_allowed.is_empty()
        assert [(c.change, c.conns) for c in p.causes] == [("no-longer-allows", ConnSet.ports("TCP", 8080))]
    assert len(diff.breaking()) == len(diff.changed) == 6


def test_no_change_means_an_empty_diff() -> None:
    same = [o for o in demo_objects() if o.kind == "NetworkPolicy" and o.namespace == "staging"]
    diff, sim = simulate(demo_objects(), same)
    assert {c.action for c in sim.changes} == {"replace"}
    assert not diff.has_differences and diff.findings == []


def test_a_new_ipblock_splits_ranges_and_names_the_admin_policy_it_overrides() -> None:
    # report-generator gets its own egress policy: anywhere but 10.0.0.0/8. Being isolated by a
    # NetworkPolicy, it leaves the BANP's default (which denied all private networks): 172.16.0.0/12 and
    # 192.168.0.0/16 open up; IPv6, DNS and the pods it reached are cut; 10/8 and the metadata address
    # (denied by the ANP before the NetworkPolicies) stay denied.
    only_v4 = objects("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: report-egress, namespace: batch}
        spec:
          podSelector: {matchLabels: {app: report-generator}}
          policyTypes: [Egress]
          egress:
            - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]
        """)
    diff, _ = simulate(demo_objects(), only_v4)
    assert diff.changed == []
    assert {p.src for p in diff.differences()} == {"batch/report-generator"}
    cut = [p for p in diff.removed if p.dst_endpoint.is_external]
    assert addresses(cut) == AddressSet.from_cidr("::/0")
    assert addresses(diff.added) == AddressSet.from_cidr("172.16.0.0/12") | AddressSet.from_cidr("192.168.0.0/16")
    assert workload_pairs(diff.removed) == {("batch/report-generator", d) for d in
                                            ("batch/nightly-etl", "batch/report-generator", "kube-system/coredns",
                                             "kube-system/kube-proxy")}
    for p in diff.added:
        # the baseline Deny no longer applies, but it did not change: only the new policy is blamed
        assert {(c.policy, c.change) for c in p.causes} == {("batch/report-egress", "allows")}
    # a range split by the new policy is compared piece by piece, never as "removed" plus "added"
    assert all(not p.gone_endpoint and not p.new_endpoint for p in diff.differences())


def test_diff_of_identical_matrices_is_empty_and_symmetric_diffs_mirror() -> None:
    a = analyze(Snapshot(demo_objects(), "demo")).matrix()
    assert not diff_matrices(a, a).has_differences
    b = analyze(Snapshot(demo_objects() + objects(DEFAULT_DENY_BATCH), "demo + batch")).matrix()
    fwd, back = diff_matrices(a, b), diff_matrices(b, a)
    assert pairs(fwd.removed) == pairs(back.added) and pairs(fwd.added) == pairs(back.removed)


def test_opening_to_the_internet_is_flagged() -> None:
    open_db = objects("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: db-from-anywhere, namespace: production}
        spec:
          podSelector: {matchLabels: {tier: database}}
          ingress:
            - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
              ports: [{port: 5432}]
        """)
    diff, _ = simulate(demo_objects(), open_db)
    kinds = {(f.kind, f.subject) for f in diff.findings}
    assert ("open-to-internet", "production/postgresql") in kinds
    assert all(p.dst == "production/postgresql" and p.src_endpoint.is_external for p in diff.added)
    # private ranges alone do not count as the internet
    private = objects("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: db-from-vpc, namespace: production}
        spec:
          podSelector: {matchLabels: {tier: database}}
          ingress:
            - from: [{ipBlock: {cidr: 10.0.0.0/8}}]
        """)
    diff2, _ = simulate(demo_objects(), private)
    assert diff2.added and not [f for f in diff2.findings if f.kind == "open-to-internet"]

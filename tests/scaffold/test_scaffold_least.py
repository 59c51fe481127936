"""from-matrix: least-privilege policies allow exactly the requested flows (checked with the engine)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kubectl_microseg.errors import Origin, UsageError
from kubectl_microseg.model.addresses import AddressSet
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.scaffold import least
from kubectl_microseg.scaffold.draft import validate
from kubectl_microseg.scaffold.flows import Flow, flows_from_matrix, parse_flows_file, parse_address

from .helpers import analyzer, demo_objects, objects

NAMESPACES = ("alpha", "beta")
OUTSIDE = ("203.0.113.10", "198.51.100.0/24")


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def deployment(ns: str, name: str, labels: dict[str, str], web: bool) -> dict[str, Any]:
    ports = [{"name": "web", "containerPort": 8080, "protocol": "TCP"}] if web else []
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels},
                     "spec": {"containers": [{"name": "c", "image": "x", "ports": ports}]}}}}


def default_deny(ns: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "baseline-deny", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


labels_st = st.dictionaries(st.sampled_from(["app", "tier", "role"]), st.sampled_from(["x", "y", "on"]), max_size=3)
workload_st = st.tuples(st.sampled_from(NAMESPACES), labels_st, st.booleans())
port_st = st.one_of(st.sampled_from([80, 443, 5432, 8080]), st.just("web"))
proto_st = st.sampled_from(["TCP", "TCP", "UDP"])


@st.composite
def scenarios(draw) -> tuple[list[tuple[str, dict[str, str], bool]], list[tuple[str, str, str, int | str]]]:
    wls = draw(st.lists(workload_st, min_size=2, max_size=5))
    ends = st.one_of(st.integers(0, len(wls) - 1), st.sampled_from(OUTSIDE))
    flows = draw(st.lists(st.tuples(ends, ends, proto_st, port_st), min_size=1, max_size=8))
    return wls, [f for f in flows if not (isinstance(f[0], str) and isinstance(f[1], str))]


def _resolve(port: int | str, proto: str, web: bool) -> int | None:
    if port == "web":
        # a named port matches a container port of that name *and protocol* (web is TCP 8080);
        # on a pod without it, the rule opens nothing
        return 8080 if web and proto == "TCP" else None
    return int(port)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_generated_policies_allow_exactly_the_requested_flows(scenario) -> None:
    wls, raw_flows = scenario
    assume(raw_flows)
    label_sets = [(ns, tuple(sorted(lab.items()))) for ns, lab, _ in wls]
    assume(len(set(label_sets)) == len(label_sets))  # indistinguishable workloads: see the error test below
    ids = [f"{ns}/w{i}" for i, (ns, _, _) in enumerate(wls)]
    objs = objects([namespace(n) for n in NAMESPACES]
                   + [deployment(ns, f"w{i}", lab, web) for i, (ns, lab, web) in enumerate(wls)]
                   + [default_deny(n) for n in NAMESPACES])
    cluster = build_cluster(objs)
    eid = lambda e: ids[e] if isinstance(e, int) else e  # noqa: E731
    flows = [Flow(eid(s), eid(d), ({"protocol": proto, "port": port},), "test",
                  src_addresses=parse_address(s) if isinstance(s, str) else None,
                  dst_addresses=parse_address(d) if isinstance(d, str) else None)
             for s, d, proto, port in raw_flows]
    drafts, _ = least.build(flows, cluster, with_default_deny=False)
    validate(drafts)

    expected: dict[tuple[str, str], ConnSet] = {}
    for s, d, proto, port in raw_flows:
        web = wls[d][2] if isinstance(d, int) else False
        num = _resolve(port, proto, web) if isinstance(d, int) else (None if port == "web" else int(port))
        if num is not None:
            key = (eid(s), eid(d))
            expected[key] = expected.get(key, ConnSet.none()) | ConnSet.ports(proto, num)

    m = analyzer(objs, drafts).matrix()
    for s in ids:
        for d in ids:
            assert m.get(s, d) == expected.get((s, d), ConnSet.none()), (s, d, drafts)
    # outside addresses: each requested range gets exactly its ports; nothing else outside is reachable
    ext = [e for e in m.endpoints if e.is_external]
    for e in ext:
        addrs = AddressSet()
        for c in e.cidrs:
            addrs = addrs | AddressSet.from_cidr(c)
        owner = next((o for o in OUTSIDE if addrs.intervals and parse_address(o).contains_interval(*addrs.intervals[0])), None)
        for w in ids:
            want_out = expected.get((w, owner), ConnSet.none()) if owner else ConnSet.none()
            want_in = expected.get((owner, w), ConnSet.none()) if owner else ConnSet.none()
            assert m.get(w, e.id) == want_out, (w, e.id)
            assert m.get(e.id, w) == want_in, (e.id, w)


def test_indistinguishable_workloads_are_an_error_not_a_wider_policy() -> None:
    objs = objects([namespace("alpha"), deployment("alpha", "a", {"app": "x"}, False),
                    deployment("alpha", "b", {"app": "x"}, False)])
    cluster = build_cluster(objs)
    with pytest.raises(UsageError, match="same labels"):
        least.build([Flow("alpha/a", "alpha/b", ({"protocol": "TCP", "port": 80},), "t")], cluster)


def test_exact_selector_excludes_workloads_with_more_labels() -> None:
    objs = objects([namespace("alpha"), deployment("alpha", "a", {"app": "x"}, False),
                    deployment("alpha", "b", {"app": "x", "tier": "y"}, False),
                    deployment("alpha", "c", {"app": "z"}, False)])
    cluster = build_cluster(objs)
    sel = least.exact_selector(cluster.workload("alpha/a"), cluster)
    assert sel == {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}


@pytest.mark.parametrize("text,peers", [
    ("203.0.113.10", [{"ipBlock": {"cidr": "203.0.113.10/32"}}]),
    ("0.0.0.0/0", [{"ipBlock": {"cidr": "0.0.0.0/0"}}]),
])
def test_address_peers_simple(text: str, peers: list) -> None:
    assert list(least.address_peers(parse_address(text))) == peers


def test_address_peers_use_except_for_holes() -> None:
    s = AddressSet.from_cidr("0.0.0.0/0", ["10.0.0.0/8", "192.168.0.0/16"])
    peers = least.address_peers(s)
    covered = AddressSet()
    for p in peers:
        covered = covered | AddressSet.from_cidr(p["ipBlock"]["cidr"], p["ipBlock"].get("except", []))
    assert covered == s


def test_flows_file_parsing_and_errors() -> None:
    data = {"flows": [{"from": "production/frontend", "to": "production/api-server", "port": 8080, "expect": "allow"},
                      {"from": "production/api-server", "to": "kube-system/coredns", "port": 53, "protocol": "UDP"},
                      {"from": "production/frontend", "to": "production/postgresql", "port": 5432, "expect": "deny"}]}
    flows = parse_flows_file(data, Origin(file="flows.yaml"))
    assert [f.deny for f in flows] == [False, False, True]
    assert flows[1].ports == ({"protocol": "UDP", "port": 53},)
    for bad, field in (({"flows": [{"from": "a/b", "to": "c/d"}]}, "flows[0].port"),
                       ({"flows": [{"from": "a/b", "to": "c/d", "port": 1, "protocol": "ICMP"}]}, "flows[0].protocol"),
                       ({"flows": [{"to": "c/d", "port": 1}]}, "flows[0].from")):
        with pytest.raises(Exception, match=field.replace("[", r"\[").replace("]", r"\]")):
            parse_flows_file(bad, Origin(file="flows.yaml"))


def test_demo_lock_down_between_namespaces_keeps_every_flow() -> None:
    """--between: with default deny, the generated policies keep exactly the matrix between the namespaces."""
    objs = demo_objects()
    before = analyzer(objs).matrix(external=False)
    cluster = build_cluster(objs)
    flows, _ = flows_from_matrix(before, ["production", "pci"], external=False)
    drafts, _ = least.build(flows, cluster)
    validate(drafts)
    after = analyzer(objs, drafts).matrix(external=False)
    inside = [e.id for e in before.endpoints if e.namespace in ("production", "pci")]
    for s in inside:
        for d in inside:
            assert after.get(s, d) == before.get(s, d), (s, d)

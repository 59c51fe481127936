"""Tiers: the chain grammar, label resolution against the model, and the demo end to end."""

from __future__ import annotations

import pytest

from kubectl_microseg.errors import InputError, Origin, UsageError
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.scaffold import templates, tiers
from kubectl_microseg.scaffold.dns import find_dns
from kubectl_microseg.scaffold.draft import match_labels, validate
from kubectl_microseg.scaffold.intent import parse_intent

from .helpers import analyzer, demo_objects

CHAIN = "frontend:8443 -> api:8080 -> postgresql:5432,redis:6379"


def test_chain_grammar() -> None:
    groups = tiers.parse_chain("frontend -> api:8080+9090 -> app=postgresql:5432,redis:6379/tcp,dns:53/udp")
    assert [[t.name for t in g] for g in groups] == [["frontend"], ["api"], ["postgresql", "redis", "dns"]]
    assert groups[1][0].ports == ({"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 9090})
    assert groups[2][0].selector == {"matchLabels": {"app": "postgresql"}}
    assert groups[2][2].ports == ({"protocol": "UDP", "port": 53},)
    assert groups[0][0].ports == ()


@pytest.mark.parametrize("bad", ["frontend", "a -> ", "a -> a", "a -> b:", "a -> b:99999", "a b -> c", "a -> =x"])
def test_bad_chains_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        tiers.parse_chain(bad)


def test_names_resolve_against_the_model_labels() -> None:
    cluster = build_cluster(demo_objects())
    intent = tiers.TierIntent("production", tiers.parse_chain(CHAIN))
    resolved, notes = tiers.resolve(intent, cluster)
    sels = {t.name: t.selector for g in resolved.groups for t in g}
    assert sels == {"frontend": {"matchLabels": {"tier": "frontend"}}, "api": {"matchLabels": {"tier": "api"}},
                    "postgresql": {"matchLabels": {"app": "postgresql"}}, "redis": {"matchLabels": {"app": "redis"}}}
    assert notes == []


def test_unknown_names_fall_back_to_the_tier_label_with_a_note() -> None:
    cluster = build_cluster(demo_objects())
    resolved, notes = tiers.resolve(tiers.TierIntent("production", tiers.parse_chain("web -> db")), cluster)
    assert resolved.groups[0][0].selector == {"matchLabels": {"tier": "web"}}
    assert any("no pod of namespace production has a label with the value 'web'" in n for n in notes)
    assert any("selects no pod" in n for n in notes)


def test_explicit_label_key_wins() -> None:
    intent = tiers.TierIntent("p", tiers.parse_chain("a -> b"), label_key="role")
    resolved, _ = tiers.resolve(intent, None)
    assert resolved.groups[1][0].selector == {"matchLabels": {"role": "b"}}


def test_intent_file_forms() -> None:
    data = {"namespace": "production", "dns": False,
            "entry": {"namespace": "ingress-nginx", "selector": "app.kubernetes.io/name=ingress-nginx"},
            "chain": ["frontend:8443", {"name": "api", "ports": [8080]},
                      ["postgresql:5432", {"name": "cache", "selector": {"app": "redis"}, "ports": ["6379/tcp"]}]]}
    intent = parse_intent(data, Origin(file="intent.yaml"))
    assert intent.namespace == "production" and intent.dns is False
    assert intent.entry == tiers.Entry("ingress-nginx", {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}})
    assert intent.groups[2][1].selector == {"matchLabels": {"app": "redis"}}
    assert parse_intent({"chain": "a -> b"}, Origin(file="i.yaml")).groups[1][0].name == "b"


@pytest.mark.parametrize("data,where", [({"chain": "a"}, "chain"), ({"chain": ["a"]}, "chain"),
                                        ({"chain": "a -> b", "dns": "yes"}, "dns"),
                                        ({"chain": "a -> b", "colour": 1}, "colour"),
                                        ({"chain": ["a", {"nam": "b"}]}, "chain[1].nam"),
                                        ({"chain": ["a", {"name": "b", "selector": {"on": True}}]}, "chain[1].selector")])
def test_intent_errors_name_the_field(data: dict, where: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_intent(data, Origin(file="intent.yaml", document=1))
    assert f"(at {where})" in str(exc.value) and "intent.yaml" in str(exc.value)


def _production_scaffold(entry: bool = True):
    """The demo without production's own policies, plus scaffolded default-deny, allow-dns and tiers."""
    objs = [o for o in demo_objects() if not (o.kind == "NetworkPolicy" and o.namespace == "production")]
    cluster = build_cluster(objs)
    dns = find_dns(cluster)
    intent = tiers.TierIntent("production", tiers.parse_chain(CHAIN),
                              tiers.Entry("ingress-nginx", match_labels({"app.kubernetes.io/name": "ingress-nginx"}))
                              if entry else None)
    resolved, _notes = tiers.resolve(intent, cluster)
    drafts = [templates.default_deny("production"), templates.allow_dns("production", dns), *tiers.build(resolved, dns)]
    validate(drafts)
    return analyzer(objs, drafts).matrix(), cluster


def test_demo_tiers_default_deny_and_dns_give_the_intended_matrix() -> None:
    m, cluster = _production_scaffold()
    tcp = lambda p: ConnSet.ports("TCP", p)  # noqa: E731
    dns = ConnSet.ports("UDP", 53) | ConnSet.ports("TCP", 53)
    expected_inside = {
        ("production/frontend", "production/api-server"): tcp(8080),
        ("production/frontend", "production/order-service"): tcp(8080),  # tier=api too
        ("production/api-server", "production/postgresql"): tcp(5432),
        ("production/api-server", "production/redis"): tcp(6379),
        ("production/order-service", "production/postgresql"): tcp(5432),
        ("production/order-service", "production/redis"): tcp(6379),
    }
    prod = [w.id for w in cluster.workloads if w.namespace == "production"]
    assert len(prod) == 6
    for s in prod:
        for d in prod:
            assert m.get(s, d) == expected_inside.get((s, d), ConnSet.none()), (s, d)
    # out of production: DNS to CoreDNS only (UDP and TCP 53), for every workload, netshoot-debug included
    for (s, d), cell in m.cells.items():
        if s in prod and d not in prod:
            assert d == "kube-system/coredns" and cell.conns == dns, (s, d, cell.conns)
    assert all(m.get(s, "kube-system/coredns") == dns for s in prod)
    # into production: only the ingress controller, only to the frontend, only on 8443
    into = {(s, d): c.conns for (s, d), c in m.cells.items() if d in prod and s not in prod}
    assert into == {("ingress-nginx/ingress-nginx-controller", "production/frontend"): tcp(8443)}


def test_without_an_entry_the_first_tier_takes_nothing() -> None:
    m, _cluster = _production_scaffold(entry=False)
    assert not any(d == "production/frontend" for (_, d) in m.cells)

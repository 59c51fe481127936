"""The engine against an independent reference evaluator written straight from the specification.

Seeded random generation builds small clusters (bare pods with random labels and named ports in two labelled
namespaces plus an undeclared one) and random policies (selectors with every operator, peers of every
form, ipBlocks with except, numeric/named/protocol-only/endPort ports, policyTypes given or defaulted).
``reference_allows`` then decides each pod pair and each probe address per flow, pod by pod, exactly as
the API reference and the concepts page word it (see the other test modules for the citations), with
no classes, bitsets, caches or atoms. The engine's matrix must agree on every pair and probe.
"""

from __future__ import annotations

import ipaddress
import random

import pytest

from kubectl_microseg.engine.k8s import Analyzer, Options
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.objects import SourceObject

NAMESPACES = {"a": {"env": "prod"}, "b": {"env": "dev", "team": "x"}}  # plus "c", never declared
LABEL_KEYS = ["app", "tier"]
LABEL_VALUES = ["web", "db", "x"]
PORT_NAMES = ["http", "dns"]
PROBE_IPS = ["10.0.0.1", "10.1.2.3", "172.16.0.1", "8.8.8.8", "255.255.255.255", "fd00::1", "2001:db8::1", "::1"]
CIDRS = ["10.0.0.0/8", "10.1.0.0/16", "172.16.0.0/12", "0.0.0.0/0", "8.8.8.8/32", "::/0", "2001:db8::/32", "fd00::/8"]
# (port, protocol) flows probed per pair; the reference decides each one separately
FLOWS = [(p, proto) for proto in ("TCP", "UDP", "SCTP") for p in (53, 80, 8080, 8081, 9000)]


# -- random clusters (plain seeded random: uniform over the features, unlike Hypothesis' bias toward
# -- simple values, so rare combinations such as except holes or named ports of the other protocol occur)
def rand_labels(rng: random.Random, keys=LABEL_KEYS, values=LABEL_VALUES, n: int = 2) -> dict:
    return {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(0, n))}


def rand_pods(rng: random.Random) -> list[dict]:
    out = []
    for i in range(rng.randint(1, 5)):
        ports = [{"name": name, "containerPort": rng.choice([53, 80, 8080, 9000]), "protocol": rng.choice(["TCP", "UDP"])}
                 for name in rng.sample(PORT_NAMES, rng.randint(0, 2))]
        out.append({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": f"p{i}", "namespace": rng.choice("abc"), "labels": rand_labels(rng)},
                    "spec": {"containers": [{"name": "c", "image": "x", "ports": ports}]}})
    return out


def rand_selector(rng: random.Random, keys=LABEL_KEYS, values=LABEL_VALUES) -> dict:
    sel = {}
    if rng.random() < 0.5:
        sel["matchLabels"] = rand_labels(rng, keys, values)
    if rng.random() < 0.6:
        exprs = []
        for _ in range(rng.randint(1, 2)):
            op = rng.choice(["In", "NotIn", "Exists", "DoesNotExist"])
            e = {"key": rng.choice(keys), "operator": op}
            if op in ("In", "NotIn"):
                e["values"] = rng.sample(values, rng.randint(1, 2))
            exprs.append(e)
        sel["matchExpressions"] = exprs
    return sel


NS_KEYS, NS_VALUES = ["env", "team", "kubernetes.io/metadata.name"], ["prod", "dev", "x", "a", "c"]


def rand_peer(rng: random.Random) -> dict:
    kind = rng.choice(["pod", "ns", "both", "ip", "ip"])
    if kind == "ip":
        cidr = rng.choice(CIDRS)
        net = ipaddress.ip_network(cidr)
        excepts = [c for c in CIDRS if ipaddress.ip_network(c).version == net.version
                   and ipaddress.ip_network(c).subnet_of(net) and ipaddress.ip_network(c).prefixlen > net.prefixlen]
        block = {"cidr": cidr}
        if excepts and rng.random() < 0.7:
            block["except"] = rng.sample(excepts, rng.randint(1, min(2, len(excepts))))
        return {"ipBlock": block}
    peer = {}
    if kind in ("pod", "both"):
        peer["podSelector"] = rand_selector(rng)
    if kind in ("ns", "both"):
        peer["namespaceSelector"] = rand_selector(rng, NS_KEYS, NS_VALUES)
    return peer


def rand_port(rng: random.Random) -> dict:
    p = {}
    if rng.random() < 0.6:
        p["protocol"] = rng.choice(["TCP", "UDP", "SCTP"])
    form = rng.choice(["num", "range", "named", "named", "proto"])
    if form == "num":
        p["port"] = rng.choice([53, 80, 443, 8080])
    elif form == "range":
        p["port"] = rng.choice([80, 8080])
        p["endPort"] = p["port"] + rng.choice([0, 1, 1000])
    elif form == "named":
        p["port"] = rng.choice(PORT_NAMES)
    return p


def rand_rule(rng: random.Random, peer_key: str) -> dict:
    r = {}
    if rng.random() < 0.8:
        r[peer_key] = [rand_peer(rng) for _ in range(rng.randint(0, 2))]
    if rng.random() < 0.7:
        r["ports"] = [rand_port(rng) for _ in range(rng.randint(0, 2))]
    return r


def rand_policy(rng: random.Random, i: int) -> dict:
    spec = {"podSelector": rand_selector(rng)}
    for direction, key in (("ingress", "from"), ("egress", "to")):
        if rng.random() < 0.6:
            spec[direction] = [rand_rule(rng, key) for _ in range(rng.randint(0, 2))]
    if rng.random() < 0.5:
        spec["policyTypes"] = rng.sample(["Ingress", "Egress"], rng.randint(1, 2))
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"np{i}", "namespace": rng.choice("abc")}, "spec": spec}


def rand_cluster(seed: int) -> list[dict]:
    rng = random.Random(seed)
    nss = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": dict(labels)}} for n, labels in NAMESPACES.items()]
    return nss + rand_pods(rng) + [rand_policy(rng, i) for i in range(rng.randint(1, 3))]


# -- the reference evaluator --------------------------------------------------------------------
def sel_matches(sel: dict | None, labels: dict) -> bool:
    if sel is None:
        return True
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        has = k in labels
        ok = {"In": has and labels.get(k) in vals, "NotIn": not has or labels[k] not in vals,
              "Exists": has, "DoesNotExist": not has}[op]
        if not ok:
            return False
    return True


def ns_labels(name: str) -> dict:
    return {**NAMESPACES.get(name, {}), "kubernetes.io/metadata.name": name}


def policy_types(spec: dict) -> set[str]:
    if spec.get("policyTypes"):
        return set(spec["policyTypes"])
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def peer_matches(peer: dict, policy_ns: str, other) -> bool:
    """``other`` is a pod dict or an IP address string."""
    if isinstance(other, str):
        if "ipBlock" not in peer:
            return False
        ip = ipaddress.ip_address(other)
        b = peer["ipBlock"]
        net = ipaddress.ip_network(b["cidr"])
        return ip.version == net.version and ip in net and not any(
            ip in ipaddress.ip_network(e) for e in b.get("except") or [] if ipaddress.ip_network(e).version == ip.version)
    if "ipBlock" in peer:
        return False  # ipBlocks never match pods (default)
    meta = other["metadata"]
    if "namespaceSelector" in peer:
        if not sel_matches(peer["namespaceSelector"], ns_labels(meta["namespace"])):
            return False
    elif meta["namespace"] != policy_ns:
        return False
    return sel_matches(peer.get("podSelector"), meta.get("labels") or {})


def port_matches(p: dict, port: int, proto: str, dst) -> bool:
    if p.get("protocol", "TCP") != proto:
        return False
    if "port" not in p:
        return True
    if isinstance(p["port"], int):
        return p["port"] <= port <= p.get("endPort", p["port"])
    if isinstance(dst, str):
        return False  # an address has no named ports
    return any(cp["name"] == p["port"] and cp["protocol"] == proto and cp["containerPort"] == port
               for c in dst["spec"]["containers"] for cp in c.get("ports") or [])


def direction_allows(policies, own, direction: str, other, port: int, proto: str, dst) -> bool:
    ptype, key = ("Ingress", "from") if direction == "ingress" else ("Egress", "to")
    selecting = [p for p in policies if p["metadata"]["namespace"] == own["metadata"]["namespace"]
                 and sel_matches(p["spec"]["podSelector"], own["metadata"].get("labels") or {})
                 and ptype in policy_types(p["spec"])]
    if not selecting:
        return True
    for p in selecting:
        for rule in p["spec"].get(direction) or []:
            peers = rule.get(key)
            if peers and not any(peer_matches(x, p["metadata"]["namespace"], other) for x in peers):
                continue
            ports = rule.get("ports")
            if not ports or any(port_matches(x, port, proto, dst) for x in ports):
                return True
    return False


def reference_allows(policies, src, dst, port: int, proto: str) -> bool:
    eg = True if isinstance(src, str) else direction_allows(policies, src, "egress", dst, port, proto, dst)
    ing = True if isinstance(dst, str) else direction_allows(policies, dst, "ingress", src, port, proto, dst)
    return eg and ing


def pod_id(p) -> str:
    return f"{p['metadata']['namespace']}/{p['metadata']['name']}"


SEEDS = 150


@pytest.mark.parametrize("chunk", range(3))
def test_engine_agrees_with_reference(chunk):
    for seed in range(chunk, SEEDS, 3):
        objects = rand_cluster(seed)
        try:
            check_cluster(objects)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}: {exc}\nobjects: {objects}") from None


def check_cluster(objects: list[dict]) -> None:
    # distinct pod names per namespace (the generator reuses p0.. across namespaces: fine, ids differ)
    pods = [o for o in objects if o["kind"] == "Pod"]
    pols = [o for o in objects if o["kind"] == "NetworkPolicy"]
    m = Analyzer(build_cluster([SourceObject(o) for o in objects]), Options()).matrix()
    ext = [e for e in m.endpoints if e.is_external]

    def ext_id(ip: str) -> str:
        a = ipaddress.ip_address(ip)
        for e in ext:
            if any(a in ipaddress.ip_network(c) for c in e.cidrs):
                return e.id
        raise AssertionError(ip)

    for src in pods + PROBE_IPS:
        for dst in pods + PROBE_IPS:
            if isinstance(src, str) and isinstance(dst, str):
                continue
            sid = ext_id(src) if isinstance(src, str) else pod_id(src)
            did = ext_id(dst) if isinstance(dst, str) else pod_id(dst)
            got = m.get(sid, did)
            for port, proto in FLOWS:
                want = reference_allows(pols, src, dst, port, proto)
                assert got.allows(proto, port) is want, (
                    f"{sid} -> {did} {proto}/{port}: engine {got.describe()}, reference {'allow' if want else 'deny'}")

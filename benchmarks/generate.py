"""Generate realistic synthetic clusters as manifest files, for the benchmarks.

Sizes (issue 8): S = 100 workloads; M = 1,000 workloads, 5,000 pods, 500 policies; L = 5,000 workloads,
50,000 pods, 5,000 policies, 500 namespaces. Each namespace looks like a real team's: workloads in tiers
(frontend, api, worker, database, cache) with app/tier/team labels and named container ports, a
default-deny and an allow-DNS policy, tier policies (frontend -> api -> database/cache), a monitoring
scrape rule with a namespaceSelector, matchExpressions, and egress to shared external CIDRs with excepts.

Pods are the workloads' replicas (templates); ``--pods`` also writes Pod objects with ownerReferences, the
shape a live cluster has.

    python benchmarks/generate.py L /tmp/cluster-L [--pods]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys

SIZES = {
    # name: (namespaces, workloads per namespace, replicas, policies per namespace)
    "S": (10, 10, 2, 5),
    "M": (100, 10, 5, 5),
    "L": (500, 10, 10, 10),
    "XL": (2000, 10, 10, 10),
}
TIERS = ("frontend", "api", "worker", "database", "cache")
PORTS = {"frontend": 8443, "api": 8080, "worker": 9000, "database": 5432, "cache": 6379}
EXTERNAL = ["52.0.0.0/10", "34.64.0.0/10", "203.0.113.0/24", "198.51.100.0/24", "0.0.0.0/0"]


def namespace(i: int, r: random.Random) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": f"team-{i:03d}", "labels": {"team": f"t{i % 50}", "env": r.choice(["prod", "staging", "dev"]),
                                                           "tier-owner": f"group-{i % 7}"}}}


def workload(ns: str, j: int, team: str, replicas: int) -> dict:
    tier = TIERS[j % len(TIERS)]
    kind = "StatefulSet" if tier in ("database", "cache") else "Deployment"
    port = PORTS[tier]
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": f"{tier}-{j}", "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": f"{tier}-{j}"}},
                     "template": {"metadata": {"labels": {"app": f"{tier}-{j}", "tier": tier, "team": team}},
                                  "spec": {"containers": [{"name": "main", "image": f"registry.example/{tier}:1.0",
                                                           "ports": [{"name": "http", "containerPort": port},
                                                                     {"name": "metrics", "containerPort": 9090}]}]}}}}


def pod(w: dict, k: int) -> dict:
    meta = w["metadata"]
    tmpl = w["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{meta['name']}-{k:04d}", "namespace": meta["namespace"],
                         "labels": tmpl["metadata"]["labels"],
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": w["kind"], "name": meta["name"],
                                              "controller": True, "uid": f"{meta['namespace']}-{meta['name']}"}]},
            "spec": tmpl["spec"], "status": {"podIP": f"10.{k % 250}.{hash(meta['name']) % 250}.{k % 200 + 1}"}}


def policies(ns: str, i: int, n: int, r: random.Random) -> list[dict]:
    def np(name: str, spec: dict) -> dict:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": ns}, "spec": spec}

    out = [
        np("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        np("allow-dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
        np("frontend-to-api", {"podSelector": {"matchLabels": {"tier": "api"}}, "ingress": [{
            "from": [{"podSelector": {"matchLabels": {"tier": "frontend"}}}], "ports": [{"port": "http"}]}]}),
        np("internal-egress", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In",
                                                          "values": ["api", "database", "cache"]}]}}]}]}),
        np("monitoring-scrape", {"podSelector": {}, "ingress": [{
            "from": [{"namespaceSelector": {"matchLabels": {"team": "t0"}},
                      "podSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["database"]}]}}],
            "ports": [{"port": "metrics"}, {"port": 9100, "endPort": 9110}]}]}),
    ]
    extra = [
        np("api-to-data", {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["database", "cache"]}]},
                           "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "api"}}}],
                                        "ports": [{"port": 5432}, {"port": 6379}]}]}),
        np("api-egress", {"podSelector": {"matchLabels": {"tier": "api"}}, "policyTypes": ["Egress"], "egress": [
            {"to": [{"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["database", "cache"]}]}}]},
            {"to": [{"ipBlock": {"cidr": r.choice(EXTERNAL[:4]), "except": []}}], "ports": [{"port": 443}]}]}),
        np("frontend-egress", {"podSelector": {"matchLabels": {"tier": "frontend"}}, "policyTypes": ["Egress"],
                               "egress": [{"to": [{"podSelector": {"matchLabels": {"tier": "api"}}}], "ports": [{"port": 8080}]}]}),
        np("frontend-ingress", {"podSelector": {"matchLabels": {"tier": "frontend"}}, "ingress": [{
            "from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
            "ports": [{"port": 8443}]}]}),
        np("partner-team", {"podSelector": {"matchLabels": {"tier": "api"}}, "ingress": [{
            "from": [{"namespaceSelector": {"matchLabels": {"team": f"t{(i + 1) % 50}"}},
                      "podSelector": {"matchLabels": {"tier": "frontend"}}}], "ports": [{"port": "http"}]}]}),
        np("worker-egress", {"podSelector": {"matchLabels": {"tier": "worker"}}, "policyTypes": ["Egress"], "egress": [
            {"to": [{"podSelector": {"matchLabels": {"tier": "database"}}}], "ports": [{"port": 5432}]},
            {"to": [{"ipBlock": {"cidr": "52.0.0.0/10", "except": ["52.16.0.0/12"]}}], "ports": [{"port": 443}]}]}),
    ]
    for p in extra[: max(0, n - len(out))]:
        out.append(p)
    for k in range(len(out), n):
        out.append(np(f"extra-{k}", {"podSelector": {"matchLabels": {"app": f"worker-{k % 10}"}}, "ingress": [{
            "from": [{"podSelector": {"matchLabels": {"tier": "api"}}}], "ports": [{"port": 9000}]}]}))
    return out[:n]


def calico_objects() -> list[dict]:
    """Calico objects a platform team typically adds (issue 19): a security tier (Pass by default) that
    denies dev namespaces' access to databases and a GlobalNetworkSet of blocked ranges, and a platform tier
    whose GlobalNetworkPolicy selects every pod (all()): DNS allowed, the blocked set denied, the rest passed
    on to the default tier, where the Kubernetes NetworkPolicies are."""
    v3 = "projectcalico.org/v3"

    def gnp(name: str, spec: dict) -> dict:
        return {"apiVersion": v3, "kind": "GlobalNetworkPolicy", "metadata": {"name": name}, "spec": spec}

    return [
        {"apiVersion": v3, "kind": "Tier", "metadata": {"name": "security"}, "spec": {"order": 100, "defaultAction": "Pass"}},
        {"apiVersion": v3, "kind": "Tier", "metadata": {"name": "platform"}, "spec": {"order": 200, "defaultAction": "Pass"}},
        {"apiVersion": v3, "kind": "GlobalNetworkSet", "metadata": {"name": "blocked", "labels": {"list": "blocked"}},
         "spec": {"nets": ["198.51.100.0/25", "203.0.113.64/26"]}},
        gnp("security.dev-not-to-db", {"tier": "security", "order": 10, "selector": "tier in {'database', 'cache'}",
                                       "ingress": [{"action": "Deny", "source": {"namespaceSelector": "env == 'dev'"}},
                                                   {"action": "Pass"}]}),
        gnp("platform.baseline", {"tier": "platform", "order": 10, "selector": "all()", "types": ["Ingress", "Egress"],
                                  "egress": [{"action": "Allow", "protocol": "UDP", "destination": {
                                      "selector": "k8s-app == 'kube-dns'",
                                      "namespaceSelector": "projectcalico.org/name == 'kube-system'", "ports": [53]}},
                                             {"action": "Deny", "destination": {"selector": "list == 'blocked'"}},
                                             {"action": "Pass"}],
                                  "ingress": [{"action": "Pass"}]}),
    ]


def generate(size: str, out_dir: str, *, with_pods: bool = False, seed: int = 1, calico: bool = False) -> dict[str, int]:
    """Write the cluster of ``size`` into ``out_dir`` (one file per namespace); return the counts."""
    n_ns, per_ns, replicas, n_pol = SIZES[size]
    r = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    counts = {"namespaces": 0, "workloads": 0, "pods": 0, "policies": 0}
    dns = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coredns", "namespace": "kube-system"},
           "spec": {"replicas": 2, "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}}, "spec": {"containers": [
               {"name": "coredns", "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                             {"name": "dns-tcp", "containerPort": 53}]}]}}}}
    with open(os.path.join(out_dir, "kube-system.yaml"), "w") as fh:
        fh.write(json.dumps(dns) + "\n")
    if calico:
        with open(os.path.join(out_dir, "calico.yaml"), "w") as fh:
            fh.write("\n---\n".join(json.dumps(d) for d in calico_objects()) + "\n")
    for i in range(n_ns):
        ns_obj = namespace(i, r)
        ns = ns_obj["metadata"]["name"]
        team = ns_obj["metadata"]["labels"]["team"]
        docs = [ns_obj]
        for j in range(per_ns):
            w = workload(ns, j, team, replicas)
            docs.append(w)
            counts["workloads"] += 1
            counts["pods"] += replicas
            if with_pods:
                docs.extend(pod(w, k) for k in range(replicas))
        pols = policies(ns, i, n_pol, r)
        docs.extend(pols)
        counts["policies"] += len(pols)
        counts["namespaces"] += 1
        with open(os.path.join(out_dir, f"{ns}.yaml"), "w") as fh:
            # JSON is valid YAML: one document per line keeps generation fast and the files realistic in size
            fh.write("\n---\n".join(json.dumps(d) for d in docs) + "\n")
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("size", choices=sorted(SIZES))
    ap.add_argument("out_dir")
    ap.add_argument("--pods", action="store_true", help="also write Pod objects (live-cluster shape)")
    ap.add_argument("--calico", action="store_true", help="also write Calico tiers and policies (calico.yaml)")
    args = ap.parse_args(argv)
    print(json.dumps(generate(args.size, args.out_dir, with_pods=args.pods, calico=args.calico)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the Cilium layer (issue 20): the matrix of a generated cluster with and without Cilium
policies added. Target: at size L, model + matrix with Cilium objects at most 1.5x the time without.

Added per team namespace (the shapes real clusters use): a CNP denying egress to the cloud metadata
address (a deny rule, enableDefaultDeny off), an L7 rule (frontend -> api: GET /api/.*), an entities rule
(frontend egress to world on 443); cluster-wide: a CCNP allowing DNS to kube-dns with a dns L7 rule
(enableDefaultDeny off) and a CCNP denying ingress from world to databases; and a CiliumCIDRGroup.

    python benchmarks/cilium.py [S|M|L] [--runs N]

Times are CPU seconds of this process (``time.process_time``); the min and max over the runs are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import SIZES, generate  # noqa: E402

from kubectl_microseg.engine.k8s import Analyzer  # noqa: E402
from kubectl_microseg.model.cluster import build_cluster  # noqa: E402
from kubectl_microseg.plugins.manifests import ManifestSource  # noqa: E402


def cilium_objects(namespaces: list[str]) -> list[dict]:
    def cnp(ns: str, name: str, spec: dict) -> dict:
        return {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
                "metadata": {"name": name, "namespace": ns}, "spec": spec}

    out: list[dict] = [
        {"apiVersion": "cilium.io/v2", "kind": "CiliumCIDRGroup", "metadata": {"name": "partners"},
         "spec": {"externalCIDRs": ["198.51.100.0/24", "203.0.113.0/24"]}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": "dns"},
         "spec": {"endpointSelector": {}, "enableDefaultDeny": {"egress": False, "ingress": False},
                  "egress": [{"toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system",
                                                               "k8s-app": "kube-dns"}}],
                              "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}],
                                           "rules": {"dns": [{"matchPattern": "*"}]}}]}]}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": "db-no-world"},
         "spec": {"endpointSelector": {"matchLabels": {"tier": "database"}},
                  "enableDefaultDeny": {"ingress": False},
                  "ingressDeny": [{"fromEntities": ["world"]}]}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": "saas-apis"},
         "spec": {"endpointSelector": {"matchLabels": {"tier": "frontend"}},
                  "egress": [{"toFQDNs": [{"matchName": "api.stripe.com"}, {"matchPattern": "*.example.com"}],
                              "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]}]}},
    ]
    for ns in namespaces:
        out.append(cnp(ns, "no-metadata", {"endpointSelector": {}, "enableDefaultDeny": {"egress": False},
                                           "egressDeny": [{"toCIDR": ["169.254.169.254/32"]}]}))
        out.append(cnp(ns, "api-l7", {"endpointSelector": {"matchLabels": {"tier": "api"}}, "ingress": [{
            "fromEndpoints": [{"matchLabels": {"tier": "frontend"}}],
            "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}],
                         "rules": {"http": [{"method": "GET", "path": "/api/.*"}]}}]}]}))
        out.append(cnp(ns, "frontend-world", {"endpointSelector": {"matchLabels": {"tier": "frontend"}}, "egress": [{
            "toEntities": ["world"], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]},
            {"toCIDRSet": [{"cidrGroupRef": "partners"}]}]}))
    return out


def measure(directory: str) -> tuple[float, int, int]:
    snap = ManifestSource([directory]).load()
    t = time.process_time()
    analyzer = Analyzer(build_cluster(snap.objects))
    m = analyzer.matrix()
    return time.process_time() - t, len(m.cells), len(analyzer.cluster.cilium)


def events(directory: str, runs: int) -> dict:
    """Incremental updates (engine.incremental.LiveModel) with the Cilium objects present: CPU seconds of
    one CNP change (one namespace's api-l7 rule), one CCNP change (the database deny), a pod-only event
    (a Deployment's pod labels) and a NetworkPolicy change, against a full rebuild; min-max over ``runs``."""
    import copy

    from kubectl_microseg.engine.incremental import LiveModel
    from kubectl_microseg.model.objects import SourceObject

    objs = ManifestSource([directory]).load().objects
    t = time.process_time()
    model = LiveModel(objs)
    model.matrix()
    build = time.process_time() - t

    def changed(kind: str, name: str | None = None) -> SourceObject:
        o = next(o for o in objs if o.kind == kind and (name is None or o.name == name))
        raw = copy.deepcopy(o.raw)
        return SourceObject(raw, o.origin)

    out: dict[str, list[float]] = {"cnp": [], "ccnp": [], "pod-labels": [], "networkpolicy": []}
    for i in range(runs):
        cnp = changed("CiliumNetworkPolicy", "api-l7")
        cnp.raw["spec"]["ingress"][0]["toPorts"][0]["ports"][0]["port"] = str(8081 + i)
        ccnp = changed("CiliumClusterwideNetworkPolicy", "db-no-world")
        ccnp.raw["spec"]["ingressDeny"][0]["fromEntities"] = ["world"] if i % 2 else ["world", "remote-node"]
        dep = changed("Deployment")
        dep.raw["spec"]["template"]["metadata"]["labels"]["bench-rev"] = str(i)
        np = changed("NetworkPolicy")
        np.raw["metadata"].setdefault("annotations", {})["x"] = str(i)
        np.raw["spec"]["policyTypes"] = sorted(set(np.raw["spec"].get("policyTypes") or ["Ingress"]) | {"Ingress"})
        for label, obj in (("cnp", cnp), ("ccnp", ccnp), ("pod-labels", dep), ("networkpolicy", np)):
            t = time.process_time()
            up = model.apply([obj])
            model.matrix()
            out[label].append(time.process_time() - t)
            assert not up.rebuilt, label
    return {"build_and_matrix_s": round(build, 2),
            **{f"{k}_s": [round(min(v), 3), round(max(v), 3)] for k, v in out.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("size", nargs="?", default="L", choices=sorted(SIZES))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--events", action="store_true", help="measure incremental updates with Cilium objects")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        plain = os.path.join(work, "plain")
        generate(args.size, plain)
        with_c = os.path.join(work, "cilium")
        os.makedirs(with_c)
        for f in os.listdir(plain):
            os.symlink(os.path.join(plain, f), os.path.join(with_c, f))
        namespaces = [f[:-5] for f in sorted(os.listdir(plain)) if f.endswith(".yaml") and f != "kube-system.yaml"]
        with open(os.path.join(with_c, "zz-cilium.yaml"), "w") as fh:
            fh.write("\n---\n".join(json.dumps(o) for o in cilium_objects(namespaces)) + "\n")
        if args.events:
            print(json.dumps({"size": args.size, "runs": args.runs, **events(with_c, args.runs)}))
            return 0
        rows = {"without": [], "with": []}
        for _ in range(args.runs):
            for label, d in (("without", plain), ("with", with_c)):
                secs, cells, n_cilium = measure(d)
                rows[label].append((secs, cells, n_cilium))
        lo_w, hi_w = min(r[0] for r in rows["without"]), max(r[0] for r in rows["without"])
        lo_c, hi_c = min(r[0] for r in rows["with"]), max(r[0] for r in rows["with"])
        print(json.dumps({"size": args.size, "runs": args.runs,
                          "without_s": [round(lo_w, 2), round(hi_w, 2)], "with_s": [round(lo_c, 2), round(hi_c, 2)],
                          "ratio_of_mins": round(lo_c / lo_w, 2), "cells_without": rows["without"][0][1],
                          "cells_with": rows["with"][0][1], "cilium_rule_objects": rows["with"][0][2]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark the service-mesh layer (issue 21): the matrix at a size with and without a mesh on top.

The cluster of ``generate.py`` gets every namespace labelled ``istio-injection=enabled`` (every workload
has a sidecar and a service account of its own), and per namespace the seed's two objects adapted: an
ALLOW AuthorizationPolicy (the namespace's own principals may GET/POST /api/v1/*, anyone GET /health and
/ready) and a STRICT PeerAuthentication, plus one mesh-wide PERMISSIVE PeerAuthentication. Measured: CPU
seconds of ``Analyzer.matrix()`` (L4), and of ``mesh.annotate`` on that matrix with a fresh MeshAnalyzer (the
mesh layer), per run; the ratio (L4 + mesh) / L4 on the best runs and its range over the runs.
Then the whole command, ``kubectl-microseg matrix -f DIR -o json`` (wall seconds, best of N), on the
cluster as generated and on the same files plus the mesh objects. Done means: L4 + mesh at most 1.5x L4 at
size L. Run: ``python benchmarks/mesh.py [S M L] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

from kubectl_microseg.engine.k8s import Analyzer  # noqa: E402
from kubectl_microseg.engine.mesh import MeshAnalyzer, annotate  # noqa: E402
from kubectl_microseg.model.cluster import build_cluster  # noqa: E402
from kubectl_microseg.model.objects import SourceObject  # noqa: E402
from kubectl_microseg.plugins.manifests import ManifestSource  # noqa: E402


def mesh_objects(objects: list[SourceObject]) -> list[SourceObject]:
    out = []
    for o in objects:
        raw = o.raw
        if raw.get("kind") == "Namespace":
            raw["metadata"].setdefault("labels", {})["istio-injection"] = "enabled"
            ns = raw["metadata"]["name"]
            out.append(SourceObject({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                                     "metadata": {"name": "api-authz", "namespace": ns},
                                     "spec": {"action": "ALLOW", "rules": [
                                         {"from": [{"source": {"principals": [f"cluster.local/ns/{ns}/sa/*"]}}],
                                          "to": [{"operation": {"methods": ["GET", "POST"], "paths": ["/api/v1/*"]}}]},
                                         {"to": [{"operation": {"methods": ["GET"], "paths": ["/health", "/ready"]}}]}]}}))
            out.append(SourceObject({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                                     "metadata": {"name": "strict", "namespace": ns}, "spec": {"mtls": {"mode": "STRICT"}}}))
        elif raw.get("kind") in ("Deployment", "StatefulSet"):
            tpl = raw["spec"]["template"]
            tpl.setdefault("spec", {})["serviceAccountName"] = raw["metadata"]["name"]
    out.append(SourceObject({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                             "metadata": {"name": "default", "namespace": "istio-system"},
                             "spec": {"mtls": {"mode": "PERMISSIVE"}}}))
    return objects + out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", default=["L"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", metavar="PATH", help="also write every run's seconds here (benchmarks/mesh_results.json)")
    args = ap.parse_args(argv)
    results: dict[str, dict[str, object]] = {}
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as dm:
            generate(size, d)
            objs = mesh_objects(list(ManifestSource([d]).load().objects))
            for i in range(0, len(objs), 5000):  # the same cluster with the mesh, as files
                with open(os.path.join(dm, f"part{i // 5000:04d}.yaml"), "w") as fh:
                    fh.write("\n---\n".join(json.dumps(o.raw) for o in objs[i:i + 5000]) + "\n")
            whole = {}
            for label, directory in (("plain", d), ("mesh", dm)):
                runs = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    subprocess.run([sys.executable, "-m", "kubectl_microseg", "matrix", "-f", directory, "-o", "json"],
                                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    runs.append(time.perf_counter() - t)
                whole[label] = runs
        cluster = build_cluster(objs)
        an = Analyzer(cluster)
        l4, mesh, cells, meshed = [], [], 0, 0
        for _ in range(args.runs):
            gc.collect()  # each step starts without the previous one's garbage
            t = time.process_time()
            m = an.matrix()
            l4.append(time.process_time() - t)
            gc.collect()
            t = time.process_time()
            annotate(m, MeshAnalyzer(cluster))  # a fresh mesh layer: nothing cached from the previous run
            mesh.append(time.process_time() - t)
            cells, meshed = len(m.cells), sum(c.mesh is not None for c in m.cells.values())
        per_run = sorted((a + b) / a for a, b in zip(l4, mesh))
        print(f"{size}: {len(cluster.workloads)} workloads, {cells} allowed pairs ({meshed} with a mesh verdict); "
              f"L4 matrix {min(l4):.3f}-{max(l4):.3f}s, mesh layer on it {min(mesh):.3f}-{max(mesh):.3f}s "
              f"(runs {', '.join(f'{a:.3f}+{b:.3f}' for a, b in zip(l4, mesh))}): L4+mesh / L4 = "
              f"{(min(l4) + min(mesh)) / min(l4):.2f}x on the best runs, {per_run[0]:.2f}-{per_run[-1]:.2f}x per run")
        results[size] = {"workloads": len(cluster.workloads), "allowed_pairs": cells, "mesh_pairs": meshed,
                         "l4_matrix_s": l4, "mesh_layer_s": mesh, "ratio_best": (min(l4) + min(mesh)) / min(l4),
                         "ratio_per_run": per_run, "whole_plain_s": whole["plain"], "whole_mesh_s": whole["mesh"]}
        w0, w1 = min(whole["plain"]), min(whole["mesh"])
        print(f"{size}: whole `matrix -f DIR -o json`: without mesh {w0:.2f}s (runs "
              f"{', '.join(f'{x:.2f}' for x in whole['plain'])}), with mesh {w1:.2f}s (runs "
              f"{', '.join(f'{x:.2f}' for x in whole['mesh'])}): {w1 / w0:.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

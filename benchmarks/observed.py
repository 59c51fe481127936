"""Benchmark ``observed``: a synthetic Hubble export between the pods of a generated cluster.

Writes the cluster of ``generate.py`` (with pods) for a size, then N ``hubble observe -o json`` lines between
random pods on their declared ports (a tenth of them DROPPED), and measures: parsing the export, joining it
with the model (mapping, verdicts, the allowed-but-never-observed pairs), and the whole
``kubectl-microseg observed -f DIR EXPORT -o json`` process (wall). Run:
``python benchmarks/observed.py [S|M|L] [--lines N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate


def hubble_lines(pods: list[tuple[str, str, str, list[int]]], n: int, seed: int = 1) -> list[str]:
    r = random.Random(seed)
    out = []
    for i in range(n):
        s, d = r.choice(pods), r.choice(pods)
        port = r.choice(d[3]) if d[3] else 80
        flow = {"time": "2026-12-01T10:00:00Z", "verdict": "DROPPED" if i % 10 == 0 else "FORWARDED",
                "IP": {"source": s[2], "destination": d[2], "ipVersion": "IPv4"},
                "l4": {"TCP": {"source_port": 30000 + i % 30000, "destination_port": port, "flags": {"SYN": True}}},
                "source": {"namespace": s[0], "pod_name": s[1]}, "destination": {"namespace": d[0], "pod_name": d[1]},
                "is_reply": False, "traffic_direction": "EGRESS"}
        out.append(json.dumps({"flow": flow, "node_name": "node-1"}))
    return out


def unique_pod_ips(cdir: str) -> None:
    """generate.py's pod IPs repeat across namespaces (they only need to look real there): make them unique."""
    import yaml

    n = 0
    for path in sorted(Path(cdir).rglob("*.yaml")):
        docs = list(yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader))
        changed = False
        for d in docs:
            if isinstance(d, dict) and d.get("kind") == "Pod":
                n += 1
                d.setdefault("status", {})["podIP"] = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
                changed = True
        if changed:
            path.write_text(yaml.dump_all(docs, Dumper=yaml.CSafeDumper))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("size", nargs="?", default="M")
    ap.add_argument("--lines", type=int, default=100_000)
    a = ap.parse_args()
    import yaml

    from kubectl_microseg.cli import main as cli_main  # noqa: F401 - imported for the in-process timings
    from kubectl_microseg.dataplane.flowlogs import parse
    from kubectl_microseg.dataplane.observed import join
    from kubectl_microseg.dataplane.pods import running_pods
    from kubectl_microseg.engine.k8s import Analyzer
    from kubectl_microseg.model.cluster import build_cluster
    from kubectl_microseg.plugins.manifests import ManifestSource

    with tempfile.TemporaryDirectory() as tmp:
        cdir = os.path.join(tmp, "cluster")
        generate(a.size, cdir, with_pods=True)
        unique_pod_ips(cdir)
        snap = ManifestSource([cdir]).load()
        cluster = build_cluster(snap.objects)
        analyzer = Analyzer(cluster)
        pods = running_pods(snap.objects, cluster, running_only=False)
        specs = []
        for o in snap.objects:
            if o.raw.get("kind") == "Pod" and (o.raw.get("status") or {}).get("podIP"):
                ports = [p["containerPort"] for c in o.raw["spec"]["containers"] for p in c.get("ports") or []]
                specs.append((o.raw["metadata"]["namespace"], o.raw["metadata"]["name"], o.raw["status"]["podIP"],
                              ports))
        text = "\n".join(hubble_lines(specs, a.lines)) + "\n"
        export = os.path.join(tmp, "hubble.jsonl")
        Path(export).write_text(text)
        t = time.process_time()
        seen, _ = parse(text, export)
        t_parse = time.process_time() - t
        t = time.process_time()
        joined = join(analyzer, pods, seen)
        t_join = time.process_time() - t
        t = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "kubectl_microseg", "observed", "-f", cdir, export, "-o", "json"],
                           capture_output=True, text=True, check=False)
        wall = time.monotonic() - t
        rows = len(joined.rows)
        print("unmapped", joined.unmapped, "categories", {c: len(joined.of(c)) for c in ("allowed", "denied-dropped", "denied-forwarded", "allowed-dropped", "unused")})
        print(yaml.safe_dump({"size": a.size, "pods": len(pods), "lines": a.lines, "rows": rows,
                              "parse_cpu_s": round(t_parse, 2), "join_cpu_s": round(t_join, 2),
                              "whole_process_wall_s": round(wall, 2), "exit": p.returncode}, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the analysis at sizes S, M and L (issue 8) and print a table of time and peak memory.

Measured per size, on a cluster written by ``generate.py``:
- load: reading the manifest files (libyaml C loader) into raw objects;
- model: validating and building the cluster model, then compiling the Analyzer;
- matrix: the class matrix and the workload matrix, and rendering ``-o json``;
- whole process: ``kubectl-microseg matrix -f DIR -o json`` as a subprocess (wall time, peak RSS);
- explain: one workload against every peer (what ``explain pod NAME`` computes);
- simulate: the matrix diff after one changed policy;
- incremental: LiveModel.apply after one pod-template event and one policy event in a team namespace, and
  after a pod event of CoreDNS, which every pod may reach (the worst case).

Size XL (2,000 namespaces, 20,000 workloads, 200,000 pods, 20,000 policies) runs the same steps.
``dump.py --bench`` compares a ``kubectl get -o yaml`` dump with the same objects as JSON, and ``live.py``
the live path against the fake API server.

Times are CPU seconds of this process (``time.process_time``), so a busy machine distorts them less,
except ``load`` and the whole process, which are wall seconds (parsing may use worker processes). Run: ``python benchmarks/run.py [S M L] [--json results.json]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

from kubectl_microseg.engine.diff import diff_matrices  # noqa: E402
from kubectl_microseg.engine.explain import explain_pair, quick_allowed  # noqa: E402
from kubectl_microseg.engine.incremental import LiveModel  # noqa: E402
from kubectl_microseg.engine.k8s import Analyzer  # noqa: E402
from kubectl_microseg.model.cluster import build_cluster  # noqa: E402
from kubectl_microseg.model.objects import SourceObject  # noqa: E402
from kubectl_microseg.plugins.manifests import ManifestSource  # noqa: E402
from kubectl_microseg.render import render_matrix  # noqa: E402


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.process_time()
    out = fn()
    return out, time.process_time() - t


def whole_process(directory: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of ``kubectl-microseg matrix -f DIR -o json``."""
    wall, cpu, rss, _ = cli_process(["matrix", "-f", directory, "-o", "json"])
    return wall, cpu, rss


_LAUNCH = """
import json, os, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps([time.perf_counter() - t, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                  os.waitstatus_to_exitcode(status)]), file=sys.stderr)
"""
"""Runs the CLI from a small process: Linux charges a child the peak RSS of the image it was forked from
(ru_maxrss survives exec), so a child forked straight from this large benchmark process would report
this process's size, not its own."""


def cli_process(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS MiB, stdout) of one ``kubectl-microseg`` subprocess."""
    exe = Path(sys.executable).with_name("kubectl-microseg")
    with tempfile.TemporaryFile() as out:
        proc = subprocess.run([sys.executable, "-c", _LAUNCH, str(exe), *argv], stdout=out,
                              stderr=subprocess.PIPE, env=env, check=False)
        wall, cpu, rss, code = json.loads(proc.stderr.decode().strip().splitlines()[-1])
        if code != 0:
            raise RuntimeError(f"kubectl-microseg {' '.join(argv)} failed: {proc.stderr.decode()[-800:]}")
        out.seek(0)
        return wall, cpu, rss, out.read().decode()


def bench(size: str, workdir: str) -> dict[str, Any]:
    directory = os.path.join(workdir, size)
    counts = generate(size, directory)
    r: dict[str, Any] = {"size": size, **counts}
    t = time.perf_counter()  # wall: large sets are parsed in worker processes, whose CPU is not ours
    snap = ManifestSource([directory]).load()
    r["load"] = time.perf_counter() - t
    cluster, t_build = timed(lambda: build_cluster(snap.objects))
    analyzer, t_an = timed(lambda: Analyzer(cluster))
    r["model"] = t_build + t_an
    matrix, r["matrix"] = timed(analyzer.matrix)
    _, r["json"] = timed(lambda: render_matrix(matrix, "json"))
    r["cells"] = len(matrix.cells)
    # explain one api workload against every peer, both directions, as `explain pod NAME` does: every
    # verdict, and the full reasons of the allowed pairs
    w = next(x for x in cluster.workloads if x.name.startswith("api"))
    others = list(cluster.workloads) + list(analyzer.atoms)
    pairs = [(w, p) for p in others] + [(p, w) for p in others if p is not w]
    _, r["explain"] = timed(lambda: [explain_pair(analyzer, s, d) for s, d in pairs if quick_allowed(analyzer, s, d)])
    # simulate: one policy changed (the frontend-to-api rule of one namespace opened to every pod)
    objs = list(snap.objects)
    target = next(i for i, o in enumerate(objs) if o.kind == "NetworkPolicy" and o.name == "frontend-to-api")
    changed = copy.deepcopy(objs[target].raw)
    changed["spec"]["ingress"][0]["from"] = [{"podSelector": {}}]
    after_objs = objs[:target] + [SourceObject(changed, objs[target].origin)] + objs[target + 1:]

    def simulate() -> Any:
        after = Analyzer(build_cluster(after_objs)).matrix()
        return diff_matrices(matrix, after)

    d, r["simulate"] = timed(simulate)
    r["simulate_changes"] = len(d.added) + len(d.removed) + len(d.changed)
    # incremental: one pod-template event, one policy event
    model = LiveModel(snap.objects)

    def relabel(obj: SourceObject) -> SourceObject:
        raw = copy.deepcopy(obj.raw)
        raw["spec"]["template"]["metadata"]["labels"]["version"] = "v2"
        return SourceObject(raw, obj.origin)

    team = next(o for o in snap.objects if o.kind == "Deployment" and o.namespace != "kube-system")
    hub = next(o for o in snap.objects if o.kind == "Deployment" and o.namespace == "kube-system")
    _, r["event_pod"] = timed(lambda: model.apply([relabel(team)]))
    _, r["event_policy"] = timed(lambda: model.apply([SourceObject(changed, objs[target].origin)]))
    # the worst case: CoreDNS, which every pod of the cluster may reach
    _, r["event_hub"] = timed(lambda: model.apply([relabel(hub)]))
    r["process_wall"], r["process_cpu"], r["process_rss_mib"] = whole_process(directory)
    r["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return r


COLUMNS = [("size", "size", "{}"), ("workloads", "workloads", "{:,}"), ("pods", "pods", "{:,}"),
           ("policies", "policies", "{:,}"), ("cells", "allowed pairs", "{:,}"), ("load", "load s (wall)", "{:.2f}"),
           ("model", "model s", "{:.2f}"), ("matrix", "matrix s", "{:.2f}"), ("json", "json s", "{:.2f}"),
           ("process_wall", "whole `matrix -o json` s (wall)", "{:.2f}"),
           ("process_cpu", "its CPU s", "{:.2f}"), ("process_rss_mib", "its peak MiB", "{:.0f}"),
           ("explain", "explain s", "{:.3f}"), ("simulate", "simulate s", "{:.2f}"),
           ("event_pod", "pod event s", "{:.3f}"), ("event_policy", "policy event s", "{:.3f}"),
           ("event_hub", "CoreDNS pod event s", "{:.3f}")]


def table(rows: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(c[1] for c in COLUMNS) + " |"
    sep = "| " + " | ".join("---" for _ in COLUMNS) + " |"
    body = ["| " + " | ".join(fmt.format(r[k]) for k, _, fmt in COLUMNS) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", nargs="*", default=["S", "M", "L"])
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="microseg-bench-") as work:
        rows = [bench(s, work) for s in args.sizes]
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

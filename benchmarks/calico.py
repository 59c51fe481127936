"""Issue 19: the matrix at a size with and without the Calico objects of ``generate.py --calico``.

Measured (CPU seconds, ``time.process_time``), every run kept: model (build + Analyzer) and matrix (class
matrix and the workload matrix with external endpoints), the matrix once as a process runs it (cyclic
garbage collection on: a full collection walks the whole model, and whether a run pays for one depends on
how many objects it happens to keep) and once with collection paused (the work itself). The ratio of the
two clusters is reported as a range over the runs (worst: slowest Calico run over fastest plain run).
Run: ``python benchmarks/calico.py L [--runs 3] [--out benchmarks/calico_results.json]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate

from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.manifests import ManifestSource


def measure(size: str, calico: bool, runs: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"model": [], "matrix": [], "matrix_gc_paused": []}
    with tempfile.TemporaryDirectory() as d:
        generate(size, d, calico=calico)
        objects = ManifestSource([d]).load().objects
        for _ in range(runs):
            for paused in (False, True):
                gc.collect()
                t = time.process_time()
                a = Analyzer(build_cluster(objects))
                t1 = time.process_time()
                if paused:
                    gc.disable()
                m = a.matrix()
                t2 = time.process_time()
                gc.enable()
                out["matrix_gc_paused" if paused else "matrix"].append(round(t2 - t1, 3))
                if not paused:
                    out["model"].append(round(t1 - t, 3))
                out["cells"] = [len(m.cells)]
    return out


def _ratio(cal: list[float], plain: list[float]) -> list[float]:
    """[best, worst] ratio: fastest Calico run over slowest plain run, and the reverse."""
    return [round(min(cal) / max(plain), 2), round(max(cal) / min(plain), 2)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("size", nargs="?", default="L")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", help="also write the result (JSON) to this file")
    args = ap.parse_args(argv)
    plain = measure(args.size, False, args.runs)
    cal = measure(args.size, True, args.runs)
    result = {"size": args.size, "runs": args.runs, "without": plain, "with_calico": cal,
              "matrix_ratio": _ratio(cal["matrix"], plain["matrix"]),
              "matrix_gc_paused_ratio": _ratio(cal["matrix_gc_paused"], plain["matrix_gc_paused"]),
              "model_ratio": _ratio(cal["model"], plain["model"])}
    text = json.dumps(result)
    print(text)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Issue 19: the matrix at a size with and without the Calico objects of ``generate.py --calico``.

Measured (CPU seconds, ``time.process_time``): model (build + Analyzer) and matrix (class matrix and the
workload matrix with external endpoints), best of ``--runs``. Run: ``python benchmarks/calico.py L``.
"""

from __future__ import annotations

import argparse
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


def measure(size: str, calico: bool, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        generate(size, d, calico=calico)
        objects = ManifestSource([d]).load().objects
        best = {"model": float("inf"), "matrix": float("inf")}
        for _ in range(runs):
            t = time.process_time()
            a = Analyzer(build_cluster(objects))
            t1 = time.process_time()
            m = a.matrix()
            t2 = time.process_time()
            best = {"model": min(best["model"], t1 - t), "matrix": min(best["matrix"], t2 - t1)}
        best["cells"] = len(m.cells)
        return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("size", nargs="?", default="L")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    plain = measure(args.size, False, args.runs)
    cal = measure(args.size, True, args.runs)
    print(json.dumps({"size": args.size, "without": plain, "with_calico": cal,
                      "matrix_ratio": round(cal["matrix"] / plain["matrix"], 2),
                      "model_ratio": round(cal["model"] / plain["model"], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Issue 19: the matrix at a size with and without the Calico objects of ``generate.py --calico``.

Measured (CPU seconds, ``time.process_time``), every run kept: model (build + Analyzer) and matrix (class
matrix and the workload matrix with external endpoints), the matrix once as a process runs it (cyclic
garbage collection on: a full collection walks the whole model, and whether a run pays for one depends on
how many objects it happens to keep) and once with collection paused (the work itself). The two clusters'
runs are interleaved; the ratio is reported per run (each Calico run over the plain run just before it),
as their range, and as the ratio of the medians.
Run: ``python benchmarks/calico.py L [--runs 3] [--out benchmarks/calico_results.json]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate

from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.manifests import ManifestSource


def _time(objects: list, paused: bool) -> tuple[float, float, int]:
    """(model seconds, matrix seconds, cells) of one run."""
    gc.collect()
    t = time.process_time()
    a = Analyzer(build_cluster(objects))
    t1 = time.process_time()
    if paused:
        gc.disable()
    m = a.matrix()
    t2 = time.process_time()
    gc.enable()
    return round(t1 - t, 3), round(t2 - t1, 3), len(m.cells)


def measure(size: str, runs: int) -> dict[str, dict[str, list[float]]]:
    """Runs of the two clusters interleaved (plain, Calico, plain, ...): a busy machine slows both alike."""
    out: dict[str, dict[str, list[float]]] = {k: {"model": [], "matrix": [], "matrix_gc_paused": [], "cells": []}
                                              for k in ("without", "with_calico")}
    with tempfile.TemporaryDirectory() as plain_dir, tempfile.TemporaryDirectory() as cal_dir:
        generate(size, plain_dir, calico=False)
        generate(size, cal_dir, calico=True)
        objects = {"without": ManifestSource([plain_dir]).load().objects,
                   "with_calico": ManifestSource([cal_dir]).load().objects}
        for _ in range(runs):
            for paused in (False, True):
                for key in ("without", "with_calico"):
                    model, matrix, cells = _time(objects[key], paused)
                    out[key]["matrix_gc_paused" if paused else "matrix"].append(matrix)
                    if not paused:
                        out[key]["model"].append(model)
                    out[key]["cells"] = [cells]
    return out


def _ratios(cal: list[float], plain: list[float]) -> dict[str, object]:
    """Per run (the Calico run over the plain run right before it): the range and the ratio of the medians."""
    per_run = [round(c / p, 2) for c, p in zip(cal, plain)]
    return {"per_run": per_run, "range": [min(per_run), max(per_run)],
            "of_medians": round(statistics.median(cal) / statistics.median(plain), 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("size", nargs="?", default="L")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", help="also write the result (JSON) to this file")
    args = ap.parse_args(argv)
    got = measure(args.size, args.runs)
    plain, cal = got["without"], got["with_calico"]
    result = {"size": args.size, "runs": args.runs, "without": plain, "with_calico": cal,
              "matrix_ratio": _ratios(cal["matrix"], plain["matrix"]),
              "matrix_gc_paused_ratio": _ratios(cal["matrix_gc_paused"], plain["matrix_gc_paused"]),
              "model_ratio": _ratios(cal["model"], plain["model"])}
    text = json.dumps(result)
    print(text)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

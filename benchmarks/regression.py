"""A benchmark check for CI: sizes S and M, a ``kubectl get -o yaml`` dump (the YAML path) and XL's engine
time, as ratios to a reference computation run in the same process.

The ratio (engine time / reference time) does not depend on the machine's speed, so a committed
baseline can gate regressions anywhere: ``check()`` fails when a ratio exceeds twice its baseline.
Each timing is the best of several repeats (CPU time), which also damps noise from a busy machine.

    python benchmarks/regression.py            # print the ratios and compare with the baseline
    python benchmarks/regression.py --update   # rewrite benchmarks/baseline.json
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dump import write_dump  # noqa: E402
from generate import generate  # noqa: E402

from kubectl_microseg.engine.k8s import Analyzer  # noqa: E402
from kubectl_microseg.model.cluster import build_cluster  # noqa: E402
from kubectl_microseg.plugins.manifests import ManifestSource  # noqa: E402
from kubectl_microseg.render import render_matrix  # noqa: E402

BASELINE = HERE / "baseline.json"
TOLERANCE = 2.0


def best(fn: Callable[[], Any], repeats: int, min_time: float = 0.2) -> float:
    """CPU seconds per call: the best of ``repeats`` rounds, each calling ``fn`` for at least ``min_time``
    (so a 10 ms operation is timed over many calls, not one)."""
    times = []
    gc.collect()
    gc.disable()  # a collection landing in one round but not another is the main noise at this scale
    try:
        for _ in range(repeats):
            calls = 0
            t = time.process_time()
            while True:
                fn()
                calls += 1
                elapsed = time.process_time() - t
                if elapsed >= min_time:
                    break
            times.append(elapsed / calls)
    finally:
        gc.enable()
    return min(times)


def reference() -> None:
    """A fixed pure-Python workload of the same flavour (dicts, tuples, sorting, small objects)."""
    r = random.Random(7)
    rows = [(r.randrange(1000), r.randrange(1000), str(r.random())) for _ in range(60_000)]
    index: dict[tuple[int, int], list[str]] = {}
    for a, b, c in sorted(rows):
        index.setdefault((a % 97, b % 89), []).append(c)
    sum(len(v) for v in index.values())


def measure(size: str, workdir: str, repeats: int = 5) -> dict[str, float]:
    directory = f"{workdir}/{size}"
    generate(size, directory)
    objects = ManifestSource([directory]).load().objects

    def analysis() -> None:
        render_matrix(Analyzer(build_cluster(objects)).matrix(), "json")

    ref = best(reference, repeats)
    return {"load": best(lambda: ManifestSource([directory]).load(), repeats) / ref,
            "analysis": best(analysis, repeats) / ref}


def measure_dump(workdir: str, repeats: int = 5) -> dict[str, float]:
    """Loading size S as one ``kubectl get -o yaml`` dump (managedFields, status; the fast YAML path) and
    as the same dump in JSON."""
    ref = best(reference, repeats)
    out = {}
    for ext in ("yaml", "json"):
        path = f"{workdir}/dump-S.{ext}"
        write_dump("S", path)
        out[f"dump_{ext}"] = best(lambda path=path: ManifestSource([path]).load(), repeats) / ref
    return out


def measure_engine_once(size: str, workdir: str) -> dict[str, float]:
    """The engine's CPU time on a large size (model, Analyzer, matrix, JSON), one round: loading is not
    timed, and one round keeps XL cheap enough for CI."""
    directory = f"{workdir}/{size}"
    generate(size, directory)
    objects = ManifestSource([directory]).load().objects
    ref = best(reference, 3)
    gc.collect()
    t = time.process_time()
    render_matrix(Analyzer(build_cluster(objects)).matrix(), "json")
    return {"analysis": (time.process_time() - t) / ref}


def run() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="microseg-regress-") as work:
        out = {size: measure(size, work) for size in ("S", "M")}
        out["S"].update(measure_dump(work))
        out["XL"] = measure_engine_once("XL", work)
        return out


def check(ratios: dict[str, dict[str, float]], baseline: dict[str, dict[str, float]]) -> list[str]:
    """The regressions: ratios more than TOLERANCE times their baseline."""
    bad = []
    for size, per in baseline.items():
        for what, base in per.items():
            got = ratios.get(size, {}).get(what)
            if got is not None and got > TOLERANCE * base:
                bad.append(f"{size} {what}: ratio {got:.2f} > {TOLERANCE} x baseline {base:.2f}")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update", action="store_true", help="write the measured ratios as the new baseline")
    args = ap.parse_args(argv)
    ratios = run()
    print(json.dumps(ratios, indent=1))
    if args.update:
        BASELINE.write_text(json.dumps(ratios, indent=1, sort_keys=True) + "\n")
        return 0
    bad = check(ratios, json.loads(BASELINE.read_text()))
    for line in bad:
        print("regression:", line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

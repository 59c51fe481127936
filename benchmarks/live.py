"""Live lists at scale: ``matrix -A -o json`` against the fake API server, against ``-f`` on the same objects.

The generated cluster of a size (with its Pods, as the API server returns them: managedFields, status;
see dump.py) is loaded into tests/fakeapi (a real HTTP server speaking the Kubernetes list protocol, in
this process); ``kubectl-microseg matrix -A -o json`` then runs as a subprocess with a kubeconfig pointing
at it, and so does ``matrix -f DIR -o json`` on the same objects written as JSON (one List per namespace,
``kubectl get -o json`` style). Reported: wall seconds, CPU seconds and peak RSS of the CLI process
(the server's own work is in this process, not counted), ranges over ``--runs``.

    python benchmarks/live.py M L [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from dump import objects  # noqa: E402
from run import cli_process  # noqa: E402

from tests.fakeapi import FakeApiServer  # noqa: E402
from tests.fakeapi.kubeconfig import write_kubeconfig  # noqa: E402


def bench(size: str, runs: int, work: str) -> dict:
    objs = objects(size)
    files = Path(work) / f"json-{size}"
    files.mkdir()
    by_ns: dict[str, list] = {}
    for o in objs:
        by_ns.setdefault(o["metadata"].get("namespace") or "_cluster", []).append(o)
    for ns, items in by_ns.items():
        (files / f"{ns}.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=4))
    row: dict = {"size": size, "objects": len(objs), "pods": sum(o["kind"] == "Pod" for o in objs)}
    with FakeApiServer() as api:
        api.add(*objs)
        del objs
        env = dict(os.environ, KUBECONFIG=str(write_kubeconfig(Path(work) / f"kubeconfig-{size}", api)))
        live, local = [], []
        for _ in range(runs):
            live.append(cli_process(["matrix", "-A", "-o", "json"], env))
            local.append(cli_process(["matrix", "-f", str(files), "-o", "json"]))
    if json.loads(live[0][3])["connections"] != json.loads(local[0][3])["connections"]:
        raise RuntimeError("the live matrix differs from the file matrix")
    for name, rs in (("live", live), ("files", local)):
        row[f"{name}_wall"] = [min(r[0] for r in rs), max(r[0] for r in rs)]
        row[f"{name}_cpu"] = [min(r[1] for r in rs), max(r[1] for r in rs)]
        row[f"{name}_rss_mib"] = max(r[2] for r in rs)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", nargs="*", default=["M", "L"])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="microseg-live-") as work:
        for size in args.sizes:
            print(json.dumps(bench(size, args.runs, work)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

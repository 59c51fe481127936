"""The shared conformance cases (../shared/conformance/cases), run through the CLI by the shared checker.

check.py runs once per session (module fixture) with ``--hostnetwork-as-pods`` (netpol-analyzer treats
hostNetwork pods as ordinary pods, README convention 8); each case is then its own test over the JSON
report. A second test shows that the default (node) hostNetwork semantics differ only where a
hostNetwork pod is involved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubectl_microseg.engine.k8s import Analyzer, Options
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.manifests import ManifestSource

from .util import REPO, SHARED

CONFORMANCE = SHARED / "conformance"
CASES_DIR = CONFORMANCE / "cases"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "expected.json").is_file()) if CASES_DIR.is_dir() else []
EXE = Path(sys.executable).with_name("kubectl-microseg")

pytestmark = pytest.mark.skipif(not CASES, reason=f"no conformance cases at {CASES_DIR} (shared/ must be beside the repo)")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("conformance") / "report.json"
    cmd = [sys.executable, str(CONFORMANCE / "check.py"), str(CASES_DIR),
           "--cmd", f"{EXE} matrix --hostnetwork-as-pods -f {{dir}} -o json",
           "--jobs", str(max(2, min(8, (os.cpu_count() or 2) * 2))), "--max-diff", "0", "--json-report", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600, check=False)
    assert out.is_file(), f"check.py wrote no report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    doc = json.loads(out.read_text())
    return {c["case"]: c for c in doc["cases"]}


def test_conformance_cases_exist():
    """The README promises fifty cases; a silently shrinking corpus would make the suite pass vacuously."""
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES)
def test_conformance_case(case, report):
    r = report.get(case)
    assert r is not None, f"{case} missing from check.py's report"
    assert r["error"] is None, r["error"]
    assert r["pod"], "pod-to-pod differs:\n" + "\n".join(map(str, r["pod_diffs"]))
    assert r["ext"], "external differs:\n" + "\n".join(map(str, r["ext_diffs"]))


def _has_host_network(case: str) -> bool:
    return any("hostNetwork" in p.read_text(errors="replace")
               for p in (CASES_DIR / case / "manifests").rglob("*") if p.is_file())


def test_default_hostnetwork_semantics_differ_only_at_hostnetwork_endpoints():
    """Default (node) semantics vs --hostnetwork-as-pods over every case: a case without hostNetwork
    pods gives the identical matrix; where they differ, every differing pair has a hostNetwork endpoint
    on at least one side; and the option does make a difference somewhere (so this test can fail)."""
    differing = []
    for case in CASES:
        snap = ManifestSource([str(CASES_DIR / case / "manifests")]).load()
        cluster = build_cluster(snap.objects)
        node = Analyzer(cluster, Options()).matrix().to_contract()
        pods = Analyzer(cluster, Options(hostnetwork_as_pods=True)).matrix().to_contract()
        if node == pods:
            continue
        differing.append(case)
        assert _has_host_network(case), f"{case}: matrices differ without any hostNetwork pod"
        host = {e["id"] for e in node["endpoints"] if e.get("hostNetwork")}
        assert host, case
        assert node["endpoints"] == pods["endpoints"], case
        a = {(c["from"], c["to"]): c["ports"] for c in node["connections"]}
        b = {(c["from"], c["to"]): c["ports"] for c in pods["connections"]}
        for key in set(a) | set(b):
            if a.get(key) != b.get(key):
                assert key[0] in host or key[1] in host, f"{case}: {key} differs without a hostNetwork endpoint"
    assert differing, "no case has hostNetwork pods any more: the comparison proves nothing"
    assert all(_has_host_network(c) for c in differing)

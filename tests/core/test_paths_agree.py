"""The matrix, explain and explain's quick path compute verdicts by different code paths; they must agree."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kubectl_microseg.engine.explain import explain_pair, quick_allowed
from kubectl_microseg.engine.k8s import Analyzer, Options
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.plugins.manifests import ManifestSource

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "cases"
# cases chosen for variety: ipBlocks with excepts, named ports, endPort, hostNetwork pods, owned pods, lists
PICKED = ["ipblockstest_3", "semanticDiff-different-topologies-policy-a-with-ipblock", "test_with_named_ports_changed_netpol",
          "with_end_port_example", "semanticDiff-same-topologies-old1", "netpol_named_port_test_2",
          "exposure_to_new_namespace_conn_and_entire_cluster_with_matching_pod", "onlineboutique_workloads"]
SOURCES = ["demo"] + [c for c in PICKED if (CASES / c / "manifests").is_dir()]


def _objects(name: str):
    if name == "demo":
        return DemoSource().load().objects
    return ManifestSource([str(CASES / name / "manifests")]).load().objects


@pytest.mark.parametrize("options", [Options(), Options(hostnetwork_as_pods=True, ipblock_matches_pods=True)],
                         ids=["default", "as-pods"])
@pytest.mark.parametrize("name", SOURCES)
def test_matrix_equals_explain_on_every_pair(name, options):
    a = Analyzer(build_cluster(_objects(name)), options)
    m = a.matrix()
    peers = list(a.cluster.workloads) + list(a.atoms)
    pairs = [(s, d) for s in peers for d in peers if not (s in a.atoms and d in a.atoms)]
    if len(pairs) > 300:  # the big cases: a fixed sample per case keeps the suite quick
        pairs = random.Random(name).sample(pairs, 300)
    for src, dst in pairs:
        got = explain_pair(a, src, dst).allowed
        assert m.get(src.id, dst.id) == got, f"{src.id} -> {dst.id}: matrix {m.get(src.id, dst.id)} explain {got}"
        assert quick_allowed(a, src, dst) == got, f"{src.id} -> {dst.id}: quick path differs"

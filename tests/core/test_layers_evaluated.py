"""Every Kubernetes view says which policy layers it evaluated (the mission: "a view that leaves out a layer
the cluster enforces shows connectivity that is not real: say what is and is not evaluated")."""

from __future__ import annotations

import json

from kubectl_microseg.engine.layers import layer_inventory, layers_line
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.objects import SourceObject

from .util import run_cli as run


def _np(name: str) -> SourceObject:
    return SourceObject({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                         "metadata": {"name": name, "namespace": "a"}, "spec": {"podSelector": {}}})


def test_the_inventory_counts_each_layer_in_dataplane_order():
    inv = layer_inventory(build_cluster([_np("x"), _np("y")]))
    assert [c.layer for c in inv] == ["Cilium", "Calico tiers", "Admin tier", "NetworkPolicy", "Baseline tier",
                                      "Istio mesh"]
    assert {c.layer: c.objects for c in inv}["NetworkPolicy"] == 2
    line = layers_line(inv)
    assert line.startswith("layers evaluated: NetworkPolicy (2); no objects of Cilium, Calico tiers, Admin tier")
    assert "this view does not show them" in line


def test_the_demo_matrix_names_its_layers_in_table_json_and_markdown(capsys):
    code, out, _ = run(capsys, "--demo", "matrix")
    assert code == 0
    assert out.splitlines()[1] == ("layers evaluated: Admin tier (1) → NetworkPolicy (26) → Baseline tier (1) → "
                                   "Istio mesh (3); no objects of Cilium, Calico tiers (if the cluster enforces "
                                   "such policies some other way, this view does not show them)")
    code, out, _ = run(capsys, "--demo", "matrix", "-o", "json")
    layers = {c["layer"]: c["objects"] for c in json.loads(out)["layers"]}
    assert layers == {"Cilium": 0, "Calico tiers": 0, "Admin tier": 1, "NetworkPolicy": 26, "Baseline tier": 1,
                      "Istio mesh": 3}
    code, out, _ = run(capsys, "--demo", "matrix", "-o", "markdown")
    assert "layers evaluated: Admin tier (1)" in out

"""Golden files: every scaffold kind on the demo cluster and on a user's files.

``CASE.yaml`` is the scaffolded YAML (stdout), byte for byte; ``CASE.notes`` the notes printed on stderr.
The impact report is the simulation engine's output (its own tests cover it): here it is only checked to
be printed, so engine work does not churn these files. Regenerate after an intended change with
``pytest tests/scaffold --update-golden`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubectl_microseg.model.istio import parse_authorization_policy, parse_peer_authentication
from kubectl_microseg.model.policy import parse_network_policy
from kubectl_microseg.scaffold.yaml_out import roundtrip

from .helpers import run_cli

MESH_PARSERS = {"AuthorizationPolicy": parse_authorization_policy, "PeerAuthentication": parse_peer_authentication}
HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
INGRESS = ["--entry-namespace", "ingress-nginx", "--entry-selector", "app.kubernetes.io/name=ingress-nginx"]
CASES = {
    "default-deny": ["--demo", "scaffold", "default-deny", "batch"],
    "default-deny-ingress": ["--demo", "scaffold", "default-deny", "-n", "batch", "--direction", "ingress"],
    "allow-dns": ["--demo", "scaffold", "allow-dns", "batch"],
    "tiers": ["--demo", "scaffold", "tiers", "frontend:8443 -> api:8080 -> postgresql:5432,redis:6379",
              "-n", "production", *INGRESS],
    "tiers-intent": ["--demo", "scaffold", "tiers", "--intent", "intent.yaml"],
    "mesh": ["--demo", "scaffold", "mesh", "frontend:8443 -> api:8080 -> postgresql:5432,redis:6379",
             "-n", "production", *INGRESS],
    "isolate-namespace": ["--demo", "scaffold", "isolate-namespace", "development", "staging"],
    "zone": ["--demo", "scaffold", "zone", "compliance-zone=pci", "-n", "pci", "--scope", "labelled-namespaces"],
    "allow-from-namespace": ["--demo", "scaffold", "allow-from-namespace", "monitoring", "-n", "production",
                             "--ports", "9090,8080", "--from-selector", "app.kubernetes.io/name=prometheus",
                             "--purpose", "Prometheus scrapes metrics"],
    "egress-external": ["--demo", "scaffold", "egress-external", "-n", "pci", "-l", "service=payment"],
    "from-matrix-flows": ["--demo", "scaffold", "from-matrix", "--flows", "flows.yaml", "--allow-dns"],
    "from-matrix-between": ["--demo", "scaffold", "from-matrix", "--between", "pci", "--no-external"],
    "user-allow-dns": ["-f", "user-app.yaml", "scaffold", "allow-dns", "shop"],
    "user-tiers": ["-f", "user-app.yaml", "scaffold", "tiers", "web -> db:postgresql", "-n", "shop"],
    "user-zone": ["-f", "user-app.yaml", "scaffold", "zone", "audited=on", "-n", "shop"],
    "no-cluster-default-deny": ["scaffold", "default-deny", "-n", "prod", "--no-cluster"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, capsys, monkeypatch, golden) -> None:
    monkeypatch.chdir(HERE / "data")
    code, out, err = run_cli(capsys, *CASES[case])
    assert code == 0, err
    notes = "".join(line + "\n" for line in err.splitlines() if line.startswith("note: "))
    for suffix, text in ((".yaml", out), (".notes", notes)):
        golden(GOLDEN / f"{case}{suffix}", text)
    if "--no-cluster" not in CASES[case]:
        assert "impact on the connectivity matrix" in err, "the impact is shown before anything is written"
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert docs, "every case scaffolds at least one policy"
    for doc in docs:
        if doc["kind"] in MESH_PARSERS:  # scaffold mesh: Istio objects, validated by the mesh model
            MESH_PARSERS[doc["kind"]](doc)
            continue
        assert not parse_network_policy(doc).warnings
    assert roundtrip(out) == out

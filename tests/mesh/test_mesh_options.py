"""``--mesh-root-namespace`` and ``--trust-domain`` reach lint, simulate and diff (read once: load.mesh_options).

istio.io, peer_authentication reference: a policy in the root namespace without a selector is the mesh-wide
one ("the mesh-wide policy ... in the root namespace"); authorization-policy reference: principals are
"TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT".
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.mesh.test_istio_mesh import NS, WORKLOADS

ROOT_STRICT = """
---
apiVersion: v1
kind: Namespace
metadata: {name: mesh-root}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: mesh-root}
spec: {mtls: {mode: STRICT}}
"""
BY_TRUST_DOMAIN = """
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: production}
spec:
  selector: {matchLabels: {app: api-server}}
  rules:
    - from: [{source: {principals: ["example.org/ns/production/sa/frontend"]}}]
"""


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubectl_microseg", *argv], capture_output=True, text=True, check=False)


def test_lint_reads_the_mesh_wide_policy_of_the_given_root_namespace(tmp_path):
    (tmp_path / "c.yaml").write_text(NS + WORKLOADS + ROOT_STRICT)
    rules = lambda p: {f["rule"] for f in json.loads(p.stdout)["findings"]}  # noqa: E731
    default = run("lint", "-f", str(tmp_path), "-o", "json")
    assert "MS020" in rules(default)  # istio-system has nothing: Istio's default PERMISSIVE in production
    rooted = run("lint", "-f", str(tmp_path), "-o", "json", "--mesh-root-namespace", "mesh-root")
    assert "MS020" not in rules(rooted), rooted.stdout  # mesh-root's STRICT is mesh-wide


def test_simulate_and_diff_match_principals_of_the_given_trust_domain(tmp_path):
    base, new = tmp_path / "base", tmp_path / "new"
    base.mkdir()
    new.mkdir()
    (base / "c.yaml").write_text(NS + WORKLOADS)
    (new / "c.yaml").write_text(NS + WORKLOADS + BY_TRUST_DOMAIN)
    change = tmp_path / "authz.yaml"
    change.write_text(BY_TRUST_DOMAIN)

    def frontend_after(p: subprocess.CompletedProcess) -> str:
        doc = json.loads(p.stdout)
        return next(c["after"]["verdict"] for c in doc.get("meshChanges", [])
                    if (c["from"], c["to"]) == ("production/frontend", "production/api-server"))

    for trust_domain_args, verdict in (((), "denied"), (("--trust-domain", "example.org"), "allowed")):
        # the option before the subcommand too (cli.VALUE_OPTIONS: its value is not taken for the subcommand)
        sim = run(*trust_domain_args, "simulate", "--base", str(base), "-f", str(change), "-o", "json")
        assert sim.returncode in (0, 1), sim.stderr
        diff = run("diff", str(base), str(new), "-o", "json", *trust_domain_args)
        assert diff.returncode == 1, diff.stderr
        if verdict == "allowed":  # the frontend keeps its access: no mesh change for that pair
            assert ("production/frontend", "production/api-server") not in {
                (c["from"], c["to"]) for c in json.loads(diff.stdout)["meshChanges"]}
            assert ("production/frontend", "production/api-server") not in {
                (c["from"], c["to"]) for c in json.loads(sim.stdout)["meshChanges"]}
        else:
            assert frontend_after(diff) == frontend_after(sim) == verdict

"""``simulate --staged``: promoting Calico staged policies (stagednetworkpolicy / stagedglobalnetworkpolicy
references: ``stagedAction`` Set, the default, creates or replaces the enforced policy; Delete removes it)."""

from __future__ import annotations

import json

from kubectl_microseg import cli

BASE = """\
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: a}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c}]}
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: db-only-web}
spec:
  selector: app == 'db'
  ingress:
  - action: Allow
    protocol: TCP
    source: {selector: app == 'web'}
    destination: {ports: [5432]}
"""

DENY_ALL = """\
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny-web, namespace: a}
spec: {selector: app == 'web', ingress: [{action: Deny}]}
---
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: deny-web, namespace: a}
spec: {stagedAction: Delete, selector: app == 'web'}
"""


def run(capsys, tmp_path, text, *extra):
    f = tmp_path / "base.yaml"
    f.write_text(text)
    code = cli.main(["simulate", "--base", str(f), "--staged", "-o", "json", *extra])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip().startswith("{") else out


def test_promoting_a_staged_policy_shows_what_it_would_deny(capsys, tmp_path):
    code, doc = run(capsys, tmp_path, BASE)
    assert code == 1  # flows become denied
    assert doc["changes"] == [f"add GlobalNetworkPolicy db-only-web ({tmp_path / 'base.yaml'}, document 4)"]
    changed = {(p["from"], p["to"]): p for p in doc["changed"]}
    assert changed[("a/web", "a/db")]["after"] == [{"protocol": "TCP", "port": 5432, "endPort": 5432}]
    removed = {(p["from"], p["to"]): p for p in doc["removed"]}
    (cause,) = removed[("a/db", "a/db")]["causes"]
    # the end of the default tier denies what the promoted policy does not allow: it isolates db
    assert (cause["change"], cause["policy"]) == ("isolates", "GlobalNetworkPolicy db-only-web")


def test_staged_delete_removes_the_enforced_policy(capsys, tmp_path):
    code, doc = run(capsys, tmp_path, BASE + DENY_ALL, "--allow-breaking")
    assert code == 0
    assert "delete NetworkPolicy a/deny-web" in doc["changes"]
    added = {(p["from"], p["to"]) for p in doc["added"]}
    assert ("a/db", "a/web") in added  # web's ingress was denied by deny-web; promoting the Delete opens it


def test_no_staged_policies_is_a_usage_error(capsys, tmp_path):
    f = tmp_path / "base.yaml"
    f.write_text(BASE.split("---\napiVersion: projectcalico.org/v3")[0])
    assert cli.main(["simulate", "--base", str(f), "--staged"]) == 2
    assert "no Calico staged policies" in capsys.readouterr().err


STAGED_KNP = """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: a}
spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}
---
apiVersion: projectcalico.org/v3
kind: StagedKubernetesNetworkPolicy
metadata: {name: db-in, namespace: a}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]
---
apiVersion: projectcalico.org/v3
kind: StagedKubernetesNetworkPolicy
metadata: {name: web-in, namespace: a}
spec: {stagedAction: Delete}
"""


def test_staged_kubernetes_policies_enforce_nothing_until_promoted(capsys, tmp_path):
    """stagedkubernetesnetworkpolicy reference: the spec is a Kubernetes NetworkPolicy's plus stagedAction;
    staged, it enforces nothing; promoted (Set), it is that networking.k8s.io NetworkPolicy; Delete removes
    the Kubernetes NetworkPolicy of the same name."""
    from kubectl_microseg.engine.k8s import Analyzer
    from kubectl_microseg.model.cluster import build_cluster
    from kubectl_microseg.plugins.manifests import parse_text

    text = BASE.split("---\napiVersion: projectcalico.org/v3")[0] + STAGED_KNP
    a = Analyzer(build_cluster(parse_text(text, "base.yaml")))
    m = a.matrix(external=False)
    assert m.get("a/web", "a/db") == m.get("a/db", "a/db")  # db's staged policy enforces nothing
    assert not m.get("a/db", "a/web")  # the enforced Kubernetes policy isolates web
    assert len(a.cluster.calico.staged_k8s) == 2 and not any("not evaluated" in n for n in a.cluster.notes)
    code, doc = run(capsys, tmp_path, text, "--allow-breaking")
    assert code == 0
    assert doc["changes"][0].startswith("add NetworkPolicy a/db-in")
    assert "delete NetworkPolicy a/web-in" in doc["changes"]
    changed = {(p["from"], p["to"]): p for p in doc["changed"]}
    assert changed[("a/web", "a/db")]["after"] == [{"protocol": "TCP", "port": 5432, "endPort": 5432}]
    assert ("a/db", "a/web") in {(p["from"], p["to"]) for p in doc["added"]}

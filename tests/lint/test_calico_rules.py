"""Calico lint rules MS040-MS043 (docs/lint.md; Calico Tier and NetworkPolicy references)."""

from __future__ import annotations

from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.lint.context import LintContext
from kubectl_microseg.lint.registry import catalogue, lint_cluster
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.manifests import parse_text

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
"""
TIER = "---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {order: 10}\n"


def gnp(name: str, spec: str) -> str:
    return f"---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: {name}}}\nspec: {spec}\n"


def calico_rules(text: str) -> list[str]:
    a = Analyzer(build_cluster(parse_text(BASE + text, "in.yaml")))
    return sorted(f.rule for f in lint_cluster(LintContext(a)) if f.rule.startswith("MS04"))


def test_rules_are_in_the_catalogue():
    for rid in ("MS040", "MS041", "MS042", "MS043", "MS044"):
        assert rid in {r.id for r in catalogue()}


def test_ms040_selector_matches_nothing():
    assert calico_rules(gnp("typo", "{selector: app == 'dbb', ingress: [{action: Allow}]}")) == ["MS040"]
    assert calico_rules(gnp("ok", "{selector: app == 'db', ingress: [{action: Allow}]}")) == []


def test_ms041_same_order_same_pods():
    x = TIER + gnp("t.x", "{tier: t, order: 5, selector: app == 'db', ingress: [{action: Allow}]}")
    assert calico_rules(x + gnp("t.y", "{tier: t, order: 5, selector: has(app), ingress: [{action: Allow}]}")) == ["MS041"]
    assert calico_rules(x + gnp("t.y", "{tier: t, order: 6, selector: has(app), ingress: [{action: Allow}]}")) == []


def test_ms042_pass_reaches_no_later_tier():
    passing = TIER + gnp("t.p", "{tier: t, order: 1, selector: app == 'db', ingress: [{action: Pass}]}")
    assert calico_rules(passing) == ["MS042"]
    # a policy of the default tier (later) applies to db: the Pass reaches it
    assert calico_rules(passing + gnp("d", "{selector: app == 'db', ingress: [{action: Allow}]}")) == []


def test_ms043_deny_after_allow_everything():
    assert calico_rules(gnp("x", "{selector: app == 'db', ingress: [{action: Allow}, {action: Deny}]}")) == ["MS043"]
    assert calico_rules(gnp("x", "{selector: app == 'db', ingress: [{action: Allow, protocol: TCP}, "
                                 "{action: Deny}]}")) == []


def test_ms044_tier_never_applies():
    # the tier t holds one policy, and it selects nothing: the policy (MS040) and the tier (MS044)
    typo = TIER + gnp("t.typo", "{tier: t, selector: app == 'dbb', ingress: [{action: Deny}]}")
    assert calico_rules(typo + gnp("d", "{selector: app == 'db', ingress: [{action: Allow}]}")) == ["MS040", "MS044"]
    ok = TIER + gnp("t.ok", "{tier: t, selector: app == 'db', ingress: [{action: Allow}]}")
    assert calico_rules(ok) == []
    assert calico_rules(TIER + gnp("d", "{selector: app == 'db', ingress: [{action: Allow}]}")) == ["MS044"]  # empty

"""MS030-MS034: the lint rules for Cilium policies (docs/cilium.md)."""

from __future__ import annotations

from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.lint.context import LintContext
from kubectl_microseg.lint.registry import catalogue, lint_cluster
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.manifests import parse_text

BASE = """
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cli, namespace: a, labels: {app: cli}}
spec: {containers: [{name: c}]}
"""


def cnp(name: str, spec: str) -> str:
    body = "\n".join("  " + line for line in spec.strip("\n").splitlines())
    return f"---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: a}}\nspec:\n{body}\n"


def findings(text: str) -> list:
    a = Analyzer(build_cluster(parse_text(text, "in.yaml")))
    return lint_cluster(LintContext(a))


def rules(text: str) -> list[str]:
    return sorted(f.rule for f in findings(text))


def test_rules_are_in_the_catalogue():
    for rid in ("MS030", "MS031", "MS032", "MS033"):
        assert rid in {r.id for r in catalogue()}


def test_ms030_egress_to_world_or_all():
    spec = "endpointSelector: {matchLabels: {app: cli}}\negress: [{toEntities: [%s]}]\n"
    assert "MS030" in rules(BASE + cnp("x", spec % "world"))
    assert "MS030" in rules(BASE + cnp("x", spec % "all"))
    assert "MS030" not in rules(BASE + cnp("x", spec % "cluster"))
    f = next(f for f in findings(BASE + cnp("x", spec % "world")) if f.rule == "MS030")
    assert f.location.line is not None and "cnp:a/x egress rule 1" in f.message


def test_ms031_deny_no_allow_reaches():
    # web is default-deny for ingress (the allow policy) and admits only cli on 8080: a deny of cli on 9090
    # denies nothing that was allowed; a deny of cli on 8080 does
    allow = cnp("allow", "endpointSelector: {matchLabels: {app: web}}\n"
                         "ingress: [{fromEndpoints: [{matchLabels: {app: cli}}], toPorts: [{ports: [{port: '8080', protocol: TCP}]}]}]\n")
    deny = "endpointSelector: {matchLabels: {app: web}}\ningressDeny: [{fromEndpoints: [{matchLabels: {app: cli}}], toPorts: [{ports: [{port: '%s', protocol: TCP}]}]}]\n"
    assert "MS031" in rules(BASE + allow + cnp("deny", deny % "9090"))
    assert "MS031" not in rules(BASE + allow + cnp("deny", deny % "8080"))
    # without any allow policy web is default-deny only through the deny policy itself
    assert "MS031" in rules(BASE + cnp("deny", deny % "8080"))


def test_ms032_selector_matches_nothing():
    assert "MS032" in rules(BASE + cnp("x", "endpointSelector: {matchLabels: {app: wbe}}\ningress: [{}]\n"))
    assert "MS032" not in rules(BASE + cnp("x", "endpointSelector: {matchLabels: {'k8s:app': web}}\ningress: [{}]\n"))


def test_ms033_l7_on_undeclared_port():
    spec = ("endpointSelector: {matchLabels: {app: web}}\ningress: [{toPorts: [{ports: [{port: '%s', protocol: TCP}], "
            "rules: {http: [{method: GET}]}}]}]\n")
    assert "MS033" in rules(BASE + cnp("x", spec % "9000"))
    assert "MS033" not in rules(BASE + cnp("x", spec % "8080"))


def test_ms034_l7_rule_lifted_by_an_l4_rule_on_the_same_port():
    # docs.cilium.io, Layer 7 Policies: "If a layer 4 rule is specified in the policy, and a similar layer 4
    # rule with layer 7 rules is also specified, then the layer 7 portions of the latter rule will have no effect"
    l7 = ("endpointSelector: {matchLabels: {app: web}}\ningress: [{fromEndpoints: [{matchLabels: {app: cli}}], "
          "toPorts: [{ports: [{port: '8080', protocol: TCP}], rules: {http: [{method: GET}]}}]}]\n")
    l4 = ("endpointSelector: {matchLabels: {app: web}}\ningress: [{fromEndpoints: [{matchLabels: {app: cli}}], "
          "toPorts: [{ports: [{port: '%s', protocol: TCP}]}]}]\n")
    assert "MS034" not in rules(BASE + cnp("x", l7))
    assert "MS034" not in rules(BASE + cnp("x", l7) + cnp("y", l4 % "9090"))
    got = [f for f in findings(BASE + cnp("x", l7) + cnp("y", l4 % "8080")) if f.rule == "MS034"]
    assert len(got) == 1 and "every pair it matches" in got[0].message and "a/cli -> a/web on TCP 8080" in got[0].message
    assert got[0].location.line is not None
    assert "MS034" in {r.id for r in catalogue()}

"""Selector rules of NetworkPolicy peers and spec.podSelector, each test citing the rule it checks.

Citations:
- [API-Peer] Kubernetes API reference, networking.k8s.io/v1 NetworkPolicyPeer (podSelector,
  namespaceSelector: "If namespaceSelector is also set, then the NetworkPolicyPeer as a whole selects the
  Pods matching PodSelector in the Namespaces selected by NamespaceSelector. Otherwise it selects the
  Pods matching PodSelector in the policy's own Namespace." / "If podSelector is also set, ... Otherwise
  it selects all Pods in the Namespaces selected by NamespaceSelector.")
- [API-Spec] NetworkPolicySpec.podSelector: "Selects the pods to which this NetworkPolicy object applies
  ... An empty podSelector selects all pods in this namespace."
- [API-LS] Kubernetes API reference, meta/v1 LabelSelector: "The requirements are ANDed. An empty label
  selector matches all objects." LabelSelectorRequirement: operators In, NotIn, Exists, DoesNotExist.
- [apimachinery] k8s.io/apimachinery/pkg/labels/selector.go Requirement.Matches: NotIn and
  DoesNotExist match when the key is absent.
- [Concepts-NS] Concepts page "Network Policies", "Targeting a Namespace by its name": the control plane
  sets the immutable label kubernetes.io/metadata.name on all namespaces.
- [Concepts-2peers] Concepts page, "Behavior of to and from selectors": one element with both
  namespaceSelector and podSelector is an AND; two elements are an OR.
"""

from __future__ import annotations

import pytest

from kubectl_microseg.model.selectors import LabelSelector, Requirement, parse_selector_text

from .util import ALL, conns, matrix, netpol, ns, pod

# Two namespaces, each with a web and a db pod; the ingress of prod/db is what the tests vary.
BASE = (
    ns("prod", {"env": "prod"}) + ns("dev", {"env": "dev"})
    + pod("web", "prod", {"app": "web"}) + pod("db", "prod", {"app": "db"})
    + pod("web", "dev", {"app": "web"}) + pod("db", "dev", {"app": "db"})
)
SOURCES = ["prod/web", "prod/db", "dev/web", "dev/db"]


def allowed_into(spec: str, dst: str = "prod/db", policy_ns: str = "prod", extra: str = "") -> set[str]:
    """The sources that may reach ``dst`` (on some port) under one ingress policy on prod/db."""
    m = matrix(BASE + extra + netpol("p", spec, policy_ns))
    return {s for s in SOURCES if conns(m, s, dst)}


def ingress_from(peers: str) -> str:
    return f"""
podSelector: {{matchLabels: {{app: db}}}}
ingress:
- from:
{peers}
"""


def test_pod_selector_peer_is_in_policy_namespace_only():
    """[API-Peer] podSelector alone selects pods in the policy's own namespace."""
    got = allowed_into(ingress_from("  - podSelector: {matchLabels: {app: web}}"))
    assert got == {"prod/web"}


def test_namespace_selector_peer_selects_all_pods_of_namespaces():
    """[API-Peer] namespaceSelector alone selects every pod in the selected namespaces."""
    got = allowed_into(ingress_from("  - namespaceSelector: {matchLabels: {env: dev}}"))
    assert got == {"dev/web", "dev/db"}


def test_both_selectors_in_one_peer_are_anded():
    """[API-Peer], [Concepts-2peers]: both in one element = those pods in those namespaces."""
    got = allowed_into(ingress_from(
        "  - namespaceSelector: {matchLabels: {env: dev}}\n    podSelector: {matchLabels: {app: web}}"))
    assert got == {"dev/web"}


def test_two_peers_are_ored():
    """[Concepts-2peers]: two elements = pods of the policy namespace OR pods of those namespaces."""
    got = allowed_into(ingress_from(
        "  - namespaceSelector: {matchLabels: {env: dev}}\n  - podSelector: {matchLabels: {app: web}}"))
    assert got == {"dev/web", "dev/db", "prod/web"}


def test_empty_namespace_selector_selects_all_namespaces():
    """[API-Peer] + [API-LS]: namespaceSelector {} selects all namespaces; with podSelector, those pods."""
    got = allowed_into(ingress_from("  - namespaceSelector: {}\n    podSelector: {matchLabels: {app: web}}"))
    assert got == {"prod/web", "dev/web"}
    assert allowed_into(ingress_from("  - namespaceSelector: {}")) == set(SOURCES)


def test_empty_pod_selector_peer_selects_all_pods_of_policy_namespace():
    """[API-LS] an empty selector matches everything; [API-Peer] in the policy's namespace."""
    assert allowed_into(ingress_from("  - podSelector: {}")) == {"prod/web", "prod/db"}


def test_empty_spec_pod_selector_selects_every_pod_of_its_namespace_only():
    """[API-Spec] an empty podSelector selects all pods in the policy's namespace (and no other)."""
    m = matrix(BASE + netpol("deny", "podSelector: {}\npolicyTypes: [Ingress]", "prod"))
    assert not conns(m, "dev/web", "prod/web") and not conns(m, "dev/web", "prod/db")
    assert conns(m, "prod/web", "dev/db") == ALL  # dev is not selected


def test_spec_pod_selector_does_not_reach_other_namespaces():
    """[API-Spec] the policy applies to pods in its own namespace: a policy in dev does not isolate prod/db."""
    got = allowed_into("podSelector: {matchLabels: {app: db}}\npolicyTypes: [Ingress]", policy_ns="dev")
    assert got == set(SOURCES)


@pytest.mark.parametrize("expr, expected", [
    # [API-LS] In: the label value is one of the values
    ("{key: app, operator: In, values: [web, x]}", {"prod/web", "dev/web"}),
    # [apimachinery] NotIn: value not among the values, or the key is absent
    ("{key: app, operator: NotIn, values: [web]}", {"prod/db", "dev/db"}),
    # [API-LS] Exists: the key is present whatever its value
    ("{key: app, operator: Exists}", set(SOURCES)),
    # [API-LS] DoesNotExist: the key is absent
    ("{key: app, operator: DoesNotExist}", set()),
])
def test_match_expressions_operators_on_pods(expr, expected):
    got = allowed_into(ingress_from(f"  - namespaceSelector: {{}}\n    podSelector:\n      matchExpressions: [{expr}]"))
    assert got == expected


def test_not_in_matches_objects_lacking_the_key():
    """[apimachinery] Requirement.Matches: NotIn matches when the key does not exist."""
    extra = pod("nolabel", "prod", {"other": "x"})
    m = matrix(BASE + extra + netpol("p", ingress_from(
        "  - podSelector:\n      matchExpressions: [{key: app, operator: NotIn, values: [web]}]"), "prod"))
    assert conns(m, "prod/nolabel", "prod/db") == ALL
    assert not conns(m, "prod/web", "prod/db")
    m2 = matrix(BASE + extra + netpol("p", ingress_from(
        "  - podSelector:\n      matchExpressions: [{key: app, operator: DoesNotExist}]"), "prod"))
    assert {s for s in SOURCES + ["prod/nolabel"] if conns(m2, s, "prod/db")} == {"prod/nolabel"}


def test_match_labels_and_match_expressions_are_anded():
    """[API-LS] matchLabels and matchExpressions requirements are ANDed."""
    extra = pod("web2", "prod", {"app": "web", "tier": "front"})
    spec = ingress_from("  - podSelector:\n      matchLabels: {app: web}\n"
                        "      matchExpressions: [{key: tier, operator: In, values: [front]}]")
    m = matrix(BASE + extra + netpol("p", spec, "prod"))
    assert conns(m, "prod/web2", "prod/db") == ALL
    assert not conns(m, "prod/web", "prod/db")


def test_match_labels_with_several_labels_needs_all():
    """[API-LS] every matchLabels pair must hold (AND)."""
    extra = pod("web2", "prod", {"app": "web", "tier": "front"})
    m = matrix(BASE + extra + netpol("p", ingress_from("  - podSelector: {matchLabels: {app: web, tier: front}}"), "prod"))
    assert {s for s in SOURCES + ["prod/web2"] if conns(m, s, "prod/db")} == {"prod/web2"}


def test_namespace_match_expressions():
    """[API-LS] matchExpressions also apply to namespace labels (NotIn on env)."""
    got = allowed_into(ingress_from(
        "  - namespaceSelector:\n      matchExpressions: [{key: env, operator: NotIn, values: [prod]}]"))
    assert got == {"dev/web", "dev/db"}


def test_automatic_namespace_name_label_on_declared_namespace():
    """[Concepts-NS] kubernetes.io/metadata.name is set on every namespace (declared without it)."""
    got = allowed_into(ingress_from("  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: dev}}"))
    assert got == {"dev/web", "dev/db"}


def test_automatic_namespace_name_label_cannot_be_overridden():
    """[Concepts-NS] the label is immutable and equals the name, even if a manifest says otherwise."""
    text = (ns("qa", {"kubernetes.io/metadata.name": "prod"}) + pod("t", "qa", {"app": "t"}))
    got = allowed_into(ingress_from("  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: qa}}"),
                       extra=text)
    assert got == set()  # SOURCES do not include qa/t; check it separately
    m = matrix(BASE + text + netpol("p", ingress_from(
        "  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: qa}}"), "prod"))
    assert conns(m, "qa/t", "prod/db") == ALL


def test_automatic_namespace_name_label_on_undeclared_namespace():
    """[Concepts-NS] a namespace referenced but not declared still carries kubernetes.io/metadata.name
    (and no other label)."""
    extra = pod("x", "undeclared", {"app": "x"})
    m = matrix(BASE + extra + netpol("p", ingress_from(
        "  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: undeclared}}"), "prod"))
    assert conns(m, "undeclared/x", "prod/db") == ALL
    assert not conns(m, "dev/web", "prod/db")
    m2 = matrix(BASE + extra + netpol("p", ingress_from(
        "  - namespaceSelector: {matchExpressions: [{key: env, operator: Exists}]}"), "prod"))
    assert not conns(m2, "undeclared/x", "prod/db")


def test_default_namespace_for_objects_without_namespace():
    """[API ObjectMeta] an object without metadata.namespace is in 'default' (kubectl apply's default)."""
    text = """
    apiVersion: v1
    kind: Pod
    metadata: {name: lone, labels: {app: lone}}
    spec: {containers: [{name: c, image: x}]}
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: deny}
    spec: {podSelector: {}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: other, namespace: other}
    spec: {containers: [{name: c, image: x}]}
    """
    m = matrix(text)
    assert not conns(m, "other/other", "default/lone")


# -- the selector type itself -------------------------------------------------------------------
def test_label_selector_unit_semantics():
    """[API-LS] / [apimachinery] at the unit level, including the empty selector."""
    assert LabelSelector().matches({}) and LabelSelector().matches({"a": "b"})
    assert Requirement("a", "NotIn", frozenset({"x"})).matches({})
    assert not Requirement("a", "In", frozenset({"x"})).matches({})
    assert Requirement("a", "DoesNotExist").matches({"b": "x"})
    assert not Requirement("a", "Exists").matches({"b": "x"})


@pytest.mark.parametrize("text, labels, expected", [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "web"}, True),
    ("app!=web", {}, True),  # kubectl: != matches objects without the key
    ("app!=web", {"app": "web"}, False),
    ("app in (a, b),tier notin (x)", {"app": "b"}, True),
    ("app in (a, b),tier notin (x)", {"app": "b", "tier": "x"}, False),
    ("app,!debug", {"app": "1"}, True),
    ("app,!debug", {"app": "1", "debug": ""}, False),
])
def test_parse_selector_text(text, labels, expected):
    """kubectl -l syntax (apimachinery labels.Parse): =, ==, !=, in, notin, exists, !exists."""
    assert parse_selector_text(text).matches(labels) is expected

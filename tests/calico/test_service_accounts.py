"""Calico's service-account matches against the pods' service accounts.

networkpolicy / globalnetworkpolicy reference: ``serviceAccountSelector`` selects the endpoints a policy
applies to by their service account; EntityRule ``serviceAccounts`` (ServiceAccountMatch: ``names``,
``selector``) matches source or destination endpoints by it, every set field of an EntityRule must match.
calico-labels page, "Labels for matching service accounts": ``projectcalico.org/name`` is the service
account's name. A pod's service account is spec.serviceAccountName, ``default`` when unset.
"""

from __future__ import annotations

import yaml

from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.model.ports import ConnSet

ALL, NONE = ConnSet.all(), ConnSet.none()


def deploy(name: str, sa: str | None, app: str = "app") -> str:
    spec = f"serviceAccountName: {sa}, " if sa else ""
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: shop}}\nspec:\n"
            f"  template:\n    metadata: {{labels: {{app: {app}}}}}\n    spec: {{{spec}containers: [{{name: c}}]}}\n---\n")


SAS = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: payments, namespace: shop, labels: {team: money}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: shop}
---
"""
# pay and web carry the same pod labels: only their service accounts tell them apart
PODS = deploy("pay", "payments") + deploy("web", "web") + deploy("cli", None, "cli")


def analyzer(extra: str, with_sas: bool = True) -> Analyzer:
    text = PODS + (SAS if with_sas else "") + extra
    return Analyzer(build_cluster(SourceObject(d) for d in yaml.safe_load_all(text) if d))


def cell(a: Analyzer, src: str, dst: str):
    return a.matrix(external=False).cells.get((src, dst))


def test_service_account_selector_chooses_the_pods_a_policy_applies_to():
    a = analyzer("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: money-in}\n"
                 "spec: {serviceAccountSelector: team == 'money', ingress: [{action: Deny}]}\n")
    assert cell(a, "shop/cli", "shop/pay") is None  # the policy applies to pay (its SA is labelled team=money)
    c = cell(a, "shop/cli", "shop/web")
    assert c is not None and c.conns == ALL and not c.uncertain  # same pod labels, another service account


def test_rule_service_accounts_by_name_and_by_projectcalico_name():
    by_names = ("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\n"
                "spec: {selector: app == 'cli', ingress: [{action: Allow, source: {serviceAccounts: {names: [payments]}}}]}\n")
    a = analyzer(by_names)
    assert cell(a, "shop/pay", "shop/cli").conns == ALL
    assert cell(a, "shop/web", "shop/cli") is None
    by_label = by_names.replace("names: [payments]", "selector: projectcalico.org/name == 'web'")
    a = analyzer(by_label)
    assert cell(a, "shop/web", "shop/cli").conns == ALL and cell(a, "shop/pay", "shop/cli") is None
    assert not cell(a, "shop/web", "shop/cli").uncertain  # every ServiceAccount is in the input


def test_names_and_selector_must_both_match():
    both = ("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\n"
            "spec: {selector: app == 'cli', ingress: [{action: Allow, source: {serviceAccounts: "
            "{names: [payments, web], selector: team == 'money'}}}]}\n")
    a = analyzer(both)
    assert cell(a, "shop/pay", "shop/cli").conns == ALL
    assert cell(a, "shop/web", "shop/cli") is None  # named, but its labels do not match


def test_a_selector_over_unknown_service_accounts_is_uncertain():
    """Without the ServiceAccount objects their labels are unknown: the selector sees the name only and the
    verdicts it decides are uncertain (never a silent guess); names alone stay certain."""
    sel = ("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\n"
           "spec: {selector: app == 'cli', ingress: [{action: Allow, source: {serviceAccounts: {selector: "
           "team == 'money'}}}]}\n")
    a = analyzer(sel, with_sas=False)
    assert cell(a, "shop/pay", "shop/cli") is None  # no label known: not matched...
    v = a.verdict_classes(a.workload_classes["shop/pay"][0], a.workload_classes["shop/cli"][0], "shop/pay", "shop/cli")
    assert v.uncertain  # ...and said to be uncertain, in explain and in the matrix
    assert a._uncertain("shop/pay", "shop/cli") and not a._uncertain("shop/cli", "shop/pay")
    names = sel.replace("selector: team == 'money'", "names: [payments]")
    a = analyzer(names, with_sas=False)
    assert cell(a, "shop/pay", "shop/cli").conns == ALL and not cell(a, "shop/pay", "shop/cli").uncertain


def test_live_model_reanalyses_for_a_service_account_only_where_calico_matches_them():
    from kubectl_microseg.engine.incremental import LiveModel

    sa = SourceObject({"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": "payments", "namespace": "shop", "labels": {"team": "other"}}})
    plain = LiveModel(SourceObject(d) for d in yaml.safe_load_all(PODS) if d)
    up = plain.apply([sa])
    assert not up.rebuilt and not up.namespaces and sa.key() in plain.objects  # nothing reads it: no analysis
    policy = ("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: money-in}\n"
              "spec: {serviceAccountSelector: team == 'money', ingress: [{action: Deny}]}\n")
    calico = LiveModel(SourceObject(d) for d in yaml.safe_load_all(PODS + SAS + policy) if d)
    assert calico.matrix(external=False).cells.get(("shop/cli", "shop/pay")) is None
    up = calico.apply([sa])  # payments loses team=money: the policy no longer applies to pay
    assert up.rebuilt and calico.matrix(external=False).cells[("shop/cli", "shop/pay")].conns == ALL

"""The ruamel writer: comments on every rule, the YAML 1.1 quoting trap, lossless round trips."""

from __future__ import annotations

import io

import pytest
import yaml
from ruamel.yaml import YAML

from kubectl_microseg.model.policy import parse_network_policy
from kubectl_microseg.scaffold import templates, tiers
from kubectl_microseg.scaffold.dns import DnsTarget, find_dns
from kubectl_microseg.scaffold.draft import match_labels, parse_ports
from kubectl_microseg.scaffold.yaml_out import dump, needs_quotes, roundtrip

DNS = DnsTarget("kube-system", ("k8s-app", "kube-dns"), (53,), "kube-system/coredns")


def all_kinds() -> list:
    chain = tiers.TierIntent("production", tiers.parse_chain("frontend -> api:8080 -> postgresql:5432,redis:6379"),
                             tiers.Entry("ingress-nginx", match_labels({"app.kubernetes.io/name": "ingress-nginx"})))
    resolved, _ = tiers.resolve(chain, None)
    return [
        templates.default_deny("production"),
        templates.default_deny("production", "ingress"),
        templates.allow_dns("production", DNS),
        templates.allow_dns("production", find_dns(None)),
        templates.isolate_namespace("development", DNS),
        templates.zone("pci", "compliance-zone", "pci", DNS, "labelled-namespaces"),
        templates.zone("pci", "audited", "on", DNS),  # a YAML 1.1 boolean look-alike must stay quoted
        *templates.allow_from_namespace("production", "monitoring", parse_ports("9090,8080"),
                                        match_labels({"app.kubernetes.io/name": "prometheus"})),
        templates.egress_external("pci", match_labels({"service": "payment"}), parse_ports("443"), DNS),
        *tiers.build(resolved, DNS),
    ]


@pytest.mark.parametrize("value", ["yes", "Yes", "no", "on", "off", "y", "n", "Y", "N", "true", "False", "null",
                                   "012", "1_000", "0b101", "0x1f", "0X1F", "0B101", "0O17", "1e3", "2024-01-01"])
def test_yaml11_lookalikes_are_quoted_and_read_back_as_strings(value: str) -> None:
    d = templates.zone("prod", "enabled", value, DNS)
    text = dump([d])
    assert f"'{value}'" in text
    doc = yaml.safe_load(text)  # PyYAML reads YAML 1.1, as Kubernetes does
    assert doc["spec"]["podSelector"]["matchLabels"]["enabled"] == value
    parse_network_policy(doc)


def test_plain_values_stay_plain() -> None:
    assert not needs_quotes("web") and not needs_quotes("1.2.3") and not needs_quotes("pci")
    assert "compliance-zone: pci" in dump([templates.zone("p", "compliance-zone", "pci", DNS)])


def test_label_keys_that_look_like_booleans_are_quoted() -> None:
    text = dump([templates.zone("p", "on", "yes", DNS)])
    assert "'on': 'yes'" in text
    assert yaml.safe_load(text)["spec"]["podSelector"]["matchLabels"] == {"on": "yes"}


def test_every_kind_is_valid_and_reads_back_identically() -> None:
    drafts = all_kinds()
    docs = list(yaml.safe_load_all(dump(drafts)))
    assert docs == [d.manifest() for d in drafts]
    for doc in docs:
        pol = parse_network_policy(doc)
        assert not pol.warnings


def test_every_allow_rule_has_a_comment_right_above_it() -> None:
    for d in all_kinds():
        lines = dump([d]).splitlines()
        items = [i for i, line in enumerate(lines) if line.startswith("    - ") and
                 (line.strip().startswith("- from:") or line.strip().startswith("- to:") or
                  line.strip().startswith("- ports:") or line.strip() == "- {}")]
        assert len(items) == len(d.ingress) + len(d.egress), d.id
        for i in items:
            assert lines[i - 1].lstrip().startswith("# "), (d.id, lines[i])
        assert lines[1].startswith("# "), "a header comment opens the document"


def test_round_trip_keeps_every_comment_and_byte() -> None:
    text = dump(all_kinds())
    assert "audited: 'on'" in text
    assert roundtrip(text) == text  # quotes included: a plain `on` would be a boolean to Kubernetes
    y = YAML()
    docs = list(y.load_all(text))
    buf = io.StringIO()
    y.dump_all(docs, buf)
    for comment in (line.strip() for line in text.splitlines() if line.strip().startswith("#")):
        assert comment in buf.getvalue()


def test_round_trip_after_an_edit_keeps_the_comments() -> None:
    text = dump([templates.isolate_namespace("development", DNS)])
    y = YAML()
    doc = y.load(text.replace("---\n", "", 1))
    doc["metadata"]["name"] = "renamed"
    buf = io.StringIO()
    y.dump(doc, buf)
    out = buf.getvalue()
    assert "name: renamed" in out
    assert out.count("#") == text.count("#")


def test_output_is_deterministic() -> None:
    assert dump(all_kinds()) == dump(all_kinds())

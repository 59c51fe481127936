"""``get`` lists Calico tiers in evaluation order and Calico policies by tier, order and name (Tier
reference), with what they select; staged policies are marked as not enforced."""

from __future__ import annotations

import json
from pathlib import Path

from kubectl_microseg import cli

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def test_get_tiers_and_policies(capsys, monkeypatch):
    monkeypatch.chdir(GOLDEN)
    assert cli.main(["get", "-f", "calico.yaml", "-A", "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(t["name"], t["order"], t["defaultAction"]) for t in doc["calicoTiers"]] == [
        ("security", 100.0, "Pass"), ("platform", 200.0, "Deny"), ("default", 1_000_000.0, "Deny")]
    pols = {p["name"]: p for p in doc["calicoPolicies"]}
    assert [p["name"] for p in doc["calicoPolicies"]] == ["security.dev-not-to-data", "platform.allow-shop"]
    assert pols["security.dev-not-to-data"]["selects"] == ["shop/db"]
    assert pols["platform.allow-shop"]["selects"] == ["shop/api", "shop/db"]
    assert cli.main(["get", "-f", "calico.yaml", "tiers", "-A"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["security", "100", "Pass"]
    assert out.splitlines()[3].split() == ["default", "1000000", "Deny"]


def test_get_without_calico_has_no_calico_fields(capsys, monkeypatch):
    monkeypatch.chdir(GOLDEN)
    assert cli.main(["get", "-f", "small.yaml", "-A", "-o", "json"]) == 0
    assert "calicoPolicies" not in json.loads(capsys.readouterr().out)

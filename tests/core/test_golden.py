"""Golden tests of every ``matrix -o FORMAT`` on a small fixed scenario and on the demo cluster.

Rewrite the files after an intended change with ``pytest tests/core/test_golden.py --update-golden``
and review the diff. The JSON goldens are also checked against the shape of shared/CONTRACT.md.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json

import pytest

from .util import GOLDEN, run_cli
import itertools

FORMATS = {"table": "table.txt", "wide": "wide.txt", "json": "json", "csv": "csv", "markdown": "md",
           "mermaid": "mmd", "dot": "dot"}
SCENARIOS = {"small": ["-f", "small.yaml"], "demo": ["--demo"]}
PROTOCOLS = {"TCP", "UDP", "SCTP"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "Pod"}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_matrix_golden(scenario, fmt, capsys, monkeypatch, golden):
    monkeypatch.chdir(GOLDEN)  # relative -f path: the title is the same on every machine
    code, out, err = run_cli(capsys, *SCENARIOS[scenario], "matrix", "-o", fmt)
    assert code == 0, err
    golden(GOLDEN / f"{scenario}.{FORMATS[fmt]}", out)


def validate_contract_matrix(doc: dict) -> None:
    """The ``matrix -o json`` shape of CONTRACT.md, checked strictly."""
    assert doc["kind"] == "ConnectivityMatrix"
    assert isinstance(doc["endpoints"], list) and isinstance(doc["connections"], list)
    ids = [e["id"] for e in doc["endpoints"]]
    assert len(ids) == len(set(ids)), "endpoint ids are unique"
    v4 = v6 = 0
    for e in doc["endpoints"]:
        assert isinstance(e["id"], str) and isinstance(e["kind"], str)
        if e["kind"] == "External":
            nets = [ipaddress.ip_network(c) for c in e["cidrs"]]  # strict: valid CIDRs, no host bits
            assert nets, e
            v4 += sum(n.num_addresses for n in nets if n.version == 4)
            v6 += sum(n.num_addresses for n in nets if n.version == 6)
        else:
            assert e["kind"] in WORKLOAD_KINDS, e
            assert e["id"] == f"{e['namespace']}/{e['name']}", e
            assert isinstance(e["labels"], dict)
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in e["labels"].items())
    # the External endpoints partition the whole address space (no gap, no overlap)
    ext_nets = sorted((ipaddress.ip_network(c) for e in doc["endpoints"] if e["kind"] == "External" for c in e["cidrs"]),
                      key=lambda n: (n.version, n.network_address))
    for x, y in itertools.pairwise(ext_nets):
        assert x.version != y.version or not x.overlaps(y), (x, y)
    assert (v4, v6) == (2**32, 2**128)
    known = set(ids)
    pairs = set()
    for c in doc["connections"]:
        assert c["from"] in known and c["to"] in known, c
        assert (c["from"], c["to"]) not in pairs, "one entry per pair"
        pairs.add((c["from"], c["to"]))
        ports = c["ports"]
        if ports == "all":
            continue
        assert isinstance(ports, list) and ports, c
        for p in ports:
            assert p["protocol"] in PROTOCOLS
            assert isinstance(p["port"], int) and isinstance(p["endPort"], int)
            assert 1 <= p["port"] <= p["endPort"] <= 65535
        full = {p["protocol"] for p in ports if (p["port"], p["endPort"]) == (1, 65535)}
        assert full != PROTOCOLS, "every protocol on every port must be written 'all'"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_json_golden_matches_contract(scenario):
    validate_contract_matrix(json.loads((GOLDEN / f"{scenario}.json").read_text()))


def test_csv_golden_agrees_with_json():
    """The CSV lists the same allowed pairs as the JSON."""
    doc = json.loads((GOLDEN / "small.json").read_text())
    rows = list(csv.reader(io.StringIO((GOLDEN / "small.csv").read_text())))
    assert rows[0][:4] == ["from", "from_kind", "to", "to_kind"]
    pairs = {(r[0], r[2]) for r in rows[1:]}
    assert pairs == {(c["from"], c["to"]) for c in doc["connections"]}


def test_small_scenario_semantics():
    """The small golden scenario, read as a human would: pins the verdicts the goldens encode."""
    doc = json.loads((GOLDEN / "small.json").read_text())
    got = {(c["from"], c["to"]): c["ports"] for c in doc["connections"]}
    tcp = lambda p, e=None: [{"protocol": "TCP", "port": p, "endPort": e or p}]  # noqa: E731
    assert got[("shop/web", "shop/db")] == tcp(5432)  # named egress pg ∩ numeric ingress 5432, 9187-9189
    assert got[("shop/web", "kube-system/coredns")] == [{"protocol": "UDP", "port": 53, "endPort": 53}]
    assert ("shop/debug", "shop/db") not in got
    assert ("kube-system/coredns", "shop/web") not in got  # ipBlock never matches pods
    assert got[("2001:db8::/32", "shop/web")] == tcp(8080)
    assert got[("10.0.0.0/8", "kube-system/coredns")] == "all"
    assert not [k for k in got if k[1] == "shop/web" and k[0] == "10.0.0.0/8"]
    assert not [k for k in got if k[0].startswith("shop/") and k[1] not in ("shop/db", "kube-system/coredns")]

"""Observed flows: each export format on a recorded sample (written from the format's documentation; see
kubectl_microseg/dataplane/flowlogs.py for the fields and their sources), mapped onto the sample cluster's
endpoints and judged; `observed`, `simulate --observed` and `scaffold from-matrix --flows EXPORT`.

The sample cluster (samples/cluster.yaml): shop/frontend -> shop/api TCP 8080 and shop/api -> shop/db TCP
5432-5433 are allowed, DNS to kube-system/coredns-1 is allowed, everything else from shop is denied. Each
sample holds the same story: frontend -> api (allowed, went through), db -> api 8080 (denied, dropped),
frontend -> coredns UDP 53 (allowed), frontend -> 203.0.113.10:443 (denied but went through: "would be dropped
if applied"), plus records that are not connection attempts.
"""

from __future__ import annotations

import json

import pytest
import yaml

from kubectl_microseg.cli import main
from kubectl_microseg.dataplane.flowlogs import Format, Verdict, detect, parse
from kubectl_microseg.errors import InputError

from .conftest import SAMPLES

CLUSTER = str(SAMPLES / "cluster.yaml")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def observed_json(capsys, sample: str, *extra: str) -> tuple[int, dict]:
    code, out, _ = run(capsys, "observed", "-f", CLUSTER, str(SAMPLES / sample), "-o", "json", *extra)
    return code, json.loads(out)


def by_key(doc: dict) -> dict:
    return {(r["from"], r["to"], r["protocol"], r["port"]): r for r in doc["results"] if r["category"] != "unused"}


# -- parsers ---------------------------------------------------------------------------------------------

def test_hubble_records_replies_and_non_opening_packets_are_skipped():
    seen, skipped = parse((SAMPLES / "hubble.jsonl").read_text(), "hubble.jsonl")
    # 10 lines: the SYN seen at two observation points is one connection; the SYN-ACK reply (is_reply),
    # the ACK, the ICMP echo and the lost-events record are not connection attempts
    assert skipped == 5
    assert [(s.src_ip, s.dst_ip, s.protocol, s.port, s.verdict) for s in seen] == [
        ("10.244.1.10", "10.244.1.20", "TCP", 8080, Verdict.FORWARDED),
        ("10.244.1.30", "10.244.1.20", "TCP", 8080, Verdict.DROPPED),
        ("10.244.1.10", "10.244.0.5", "UDP", 53, Verdict.FORWARDED),
        ("10.244.1.20", "10.244.1.30", "TCP", 5433, Verdict.DROPPED),
        ("10.244.1.10", "203.0.113.10", "TCP", 443, Verdict.FORWARDED)]
    assert seen[1].reason == "POLICY_DENIED" and seen[1].line == 5


def test_a_bare_flow_of_older_hubble_clis_is_read():
    line = ('{"verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},'
            '"l4":{"UDP":{"source_port":5000,"destination_port":53}},"is_reply":false}')
    seen, _ = parse(line, "x", Format.HUBBLE)
    assert (seen[0].protocol, seen[0].port, seen[0].verdict) == ("UDP", 53, Verdict.FORWARDED)


def test_calico_aggregated_names_counts_and_public_addresses():
    seen, skipped = parse((SAMPLES / "calico.jsonl").read_text(), "calico.jsonl")
    assert skipped == 1  # the ICMP record has no port
    agg = seen[1]
    assert (agg.src_ip, agg.src_ns, agg.src_name, agg.dst_name, agg.count, agg.verdict) == \
        (None, "shop", "db*", "api*", 2, Verdict.DROPPED)
    pub = seen[4]
    assert (pub.dst_ip, pub.dst_ns, pub.dst_name) == ("203.0.113.10", None, None)


def test_conntrack_tuples_unreplied_and_the_pod_behind_a_cluster_ip():
    seen, skipped = parse((SAMPLES / "conntrack.txt").read_text(), "conntrack.txt")
    assert skipped == 2  # the ICMP entry and the summary line
    first = seen[0]
    assert (first.src_ip, first.dst_ip, first.dst_alt, first.port) == ("10.244.1.10", "10.96.0.20", "10.244.1.20", 8080)
    assert seen[2].verdict == Verdict.UNANSWERED
    assert (seen[3].src_ip, seen[3].dst_ip, seen[3].dst_alt) == ("10.244.1.10", "203.0.113.10", None)  # /proc format


@pytest.mark.parametrize("text,fmt", [
    ('{"flow": {"verdict": "DROPPED"}}', Format.HUBBLE),
    ('{"action": "allow", "dest_port": 80, "reporter": "src"}', Format.CALICO),
    ("tcp      6 10 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2", Format.CONNTRACK),
    ("flows:\n  - {from: a/b, to: c/d, port: 80}\n", ""),
    ('{"flows": []}', ""),
])
def test_detect(text, fmt):
    assert detect(text) == fmt


def test_a_bad_line_names_the_file_and_line():
    text = (SAMPLES / "calico.jsonl").read_text().splitlines()
    text.insert(2, '{"action": "maybe", "dest_port": 1, "proto": "tcp"}')
    with pytest.raises(InputError) as e:
        parse("\n".join(text), "flows.log")
    assert "flows.log" in str(e.value) and "line 3" in str(e.value) and "allow or deny" in str(e.value)


def test_bad_input_exits_2_without_traceback(capsys, tmp_path):
    bad = tmp_path / "h.jsonl"
    bad.write_text('{"flow": {"verdict": "FORWARDED"}}\n{"flow": \n')
    code, _, err = run(capsys, "observed", "-f", CLUSTER, str(bad))
    assert code == 2 and "line 2" in err and "Traceback" not in err


# -- joined with the policies ---------------------------------------------------------------------------

@pytest.mark.parametrize("sample", ["hubble.jsonl", "calico.jsonl", "conntrack.txt"])
def test_each_format_tells_the_same_story(capsys, sample):
    code, doc = observed_json(capsys, sample)
    rows = by_key(doc)
    assert rows[("shop/frontend", "shop/api", "TCP", 8080)]["category"] == "allowed"
    assert rows[("shop/frontend", "kube-system/coredns-1", "UDP", 53)]["category"] == "allowed"
    assert rows[("shop/db", "shop/api", "TCP", 8080)]["category"] == "denied-dropped"
    ext = [r for r in doc["results"] if r.get("toAddresses") == ["203.0.113.10"]]
    assert [r["category"] for r in ext] == ["denied-forwarded"]
    assert any("no egress rule matches" in b for b in ext[0]["because"])
    assert code == 1  # observed traffic the policies deny


def test_allowed_but_dropped_and_never_observed(capsys):
    _, doc = observed_json(capsys, "hubble.jsonl")
    r = by_key(doc)[("shop/api", "shop/db", "TCP", 5433)]
    assert (r["category"], r["model"], r["network"], r["dropReasons"]) == \
        ("allowed-dropped", "allow", "dropped", ["POLICY_DENIED"])
    unused = {(r["from"], r["to"]): r["allowed"] for r in doc["results"] if r["category"] == "unused"}
    # api -> db: 5432-5433 allowed, only 5433 seen; api and db never resolved a name in the window
    assert unused == {("shop/api", "shop/db"): "TCP 5432", ("shop/api", "kube-system/coredns-1"): "UDP 53",
                      ("shop/db", "kube-system/coredns-1"): "UDP 53"}
    assert doc["counts"] == {"allowed": 2, "denied-dropped": 1, "denied-forwarded": 1, "allowed-dropped": 1,
                             "unused": 3}


def test_namespace_filter_and_no_unused(capsys):
    _, doc = observed_json(capsys, "calico.jsonl", "-n", "kube-system", "--no-unused")
    assert {(r["from"], r["to"]) for r in doc["results"]} == {("shop/frontend", "kube-system/coredns-1")}


def test_text_and_matrix_output(capsys):
    code, out, _ = run(capsys, "observed", "-f", CLUSTER, str(SAMPLES / "hubble.jsonl"))
    assert code == 1  # the export holds DENIED flows (docs/observed.md)
    assert "DENIED    deny  forwarded      shop/frontend -> 203.0.113.10 (0.0.0.0/0) TCP/443 (1 flow)" in out
    assert "would be dropped if they were applied" in out
    assert "MISMATCH  allow dropped        shop/api -> shop/db TCP/5433" in out
    assert "2 observed, 1 dropped, 1 denied, 1 mismatch, 3 unused" in out
    _code, out, _ = run(capsys, "observed", "-f", CLUSTER, str(SAMPLES / "hubble.jsonl"), "-o", "matrix")
    row = next(ln for ln in out.splitlines() if "shop/frontend" in ln and ln.lstrip().startswith("5."))
    assert row.split()[2:] == ["!", "●", "●", "·", "·"]


def test_an_empty_window_is_not_a_clean_one(capsys, tmp_path):
    empty = tmp_path / "conntrack.txt"
    empty.write_text("conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n")
    _code, out, _ = run(capsys, "observed", "-f", CLUSTER, str(empty), "--format", "conntrack")
    assert "no connection attempt in the exports" in out


# -- feeding scaffold and simulate ------------------------------------------------------------------------

def test_flows_output_is_a_test_flows_file(capsys, tmp_path):
    code, out, _ = run(capsys, "observed", "-f", CLUSTER, str(SAMPLES / "hubble.jsonl"), "-o", "flows")
    assert code == 1
    flows = yaml.safe_load(out)["flows"]
    assert {"from": "shop/frontend", "to": "203.0.113.10", "port": 443, "protocol": "TCP", "expect": "allow"} in flows
    assert {"from": "shop/db", "to": "shop/api", "port": 8080, "protocol": "TCP", "expect": "deny"} in flows
    f = tmp_path / "flows.yaml"
    f.write_text(out)
    _code, out, _ = run(capsys, "test", "-f", CLUSTER, str(f), "-o", "json")
    failed = {(r["from"], r["to"]) for r in json.loads(out)["results"] if r["pass"] is False}
    assert failed == {("shop/frontend", "203.0.113.10")}  # the one the policies deny but the network let through


def test_scaffold_from_matrix_reads_an_export_directly(capsys):
    code, out, err = run(capsys, "scaffold", "from-matrix", "-f", CLUSTER, "--flows", str(SAMPLES / "conntrack.txt"),
                         "--impact", "none")
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if d]
    api = next(d for d in docs if d["metadata"]["name"] == "api-least-privilege")
    ingress = api["spec"]["ingress"]
    assert [r["ports"] for r in ingress] == [[{"protocol": "TCP", "port": 8080}]]
    assert "conntrack.txt (observed), flow" in out
    egress = next(d for d in docs if d["metadata"]["name"] == "frontend-least-privilege")["spec"]["egress"]
    assert {"ipBlock": {"cidr": "203.0.113.10/32"}} in [p for r in egress for p in r["to"]]


def test_simulate_observed_names_the_observed_traffic_a_change_cuts(capsys):
    code, out, _ = run(capsys, "simulate", "--base", CLUSTER, "--delete", "shop/frontend-to-api", "--observed",
                       str(SAMPLES / "calico.jsonl"), "-o", "json")
    obs = json.loads(out)["observed"]
    lost = [(r["from"], r["to"], r["port"], r["count"]) for r in obs if r["lost"]]
    assert lost == [("shop/frontend", "shop/api", 8080, 4)]
    assert code == 1
    code, out, _ = run(capsys, "simulate", "--base", CLUSTER, "--delete", "shop/frontend-to-api", "--observed",
                       str(SAMPLES / "calico.jsonl"), "--allow-breaking")
    assert code == 0 and "1 would be dropped after the change" in out

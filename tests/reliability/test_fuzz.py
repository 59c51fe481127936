"""Property-based fuzzing (hypothesis) of everything that reads input, with a fixed budget.

Kubernetes: random namespaces, pods, workloads and NetworkPolicies (the generators of
tests/core/test_reference_model.py, driven by hypothesis' ``randoms()`` so examples shrink), and invalid
variants made by replacing one field anywhere in an object with a value of another type. Checks:

- nothing but InputError/UsageError (exit 2) ever escapes, for objects and for raw YAML text;
- valid inputs give the same verdict through every path: the matrix, ``explain`` and ``test``;
- adding an allow rule never removes a flow; adding a default deny never adds one; a pod selected by no
  ingress policy is reachable on every port from every source whose egress is not isolated.

nftables: random libnftables JSON (the demo rulesets with one subtree replaced by junk) and random flows:
only InputError/ValueError, the ``nft test`` and ``nft explain`` paths agree, and a drop rule put first in
every input base chain denies every input flow.

Budget: ``derandomize=True`` (the same examples every run, no example database) and max_examples chosen so
the module runs in a few seconds; the whole reliability suite stays well under two minutes on two busy
cores.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import yaml

from kubectl_microseg.cli import main
from kubectl_microseg.engine.explain import explain_pair, find_workload
from kubectl_microseg.engine.k8s import Analyzer, Options
from kubectl_microseg.errors import InputError, MicrosegError, Origin
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.nft.evaluate import evaluate
from kubectl_microseg.nft.packet import flow_from_dict
from kubectl_microseg.nft.parse import parse_ruleset
from kubectl_microseg.plugins.manifests import parse_text
from tests.core.test_reference_model import NAMESPACES, rand_pods, rand_policy, rand_rule

FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DEMO_HOST = Path(__file__).resolve().parents[2] / "kubectl_microseg" / "demo" / "host"

JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 70000) | st.floats(allow_nan=True) | st.text(max_size=12)
    | st.sampled_from(["", "10.0.0.0/8", "TCP", "http", "In", "Ingress", "a/b", "-", "0", "::/0", "yes"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8) | st.sampled_from(
        ["port", "from", "to", "podSelector", "ipBlock", "cidr", "except", "matchLabels", "namespace"]), inner, max_size=3),
    max_leaves=8)


def namespaces() -> list[dict]:
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": dict(labels)}}
            for n, labels in NAMESPACES.items()]


def workload(rng: random.Random, i: int) -> dict:
    kind = rng.choice(["Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"])
    tmpl = {"metadata": {"labels": {rng.choice(["app", "tier"]): rng.choice(["web", "db", "x"])}},
            "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": rng.choice([80, 8080])}]}]}}
    spec = {"template": tmpl}
    return {"apiVersion": "apps/v1" if kind != "Job" else "batch/v1", "kind": kind,
            "metadata": {"name": f"w{i}", "namespace": rng.choice("abc")}, "spec": spec}


def random_model(rng: random.Random) -> list[dict]:
    objs = namespaces() + rand_pods(rng) + [workload(rng, i) for i in range(rng.randint(0, 2))]
    return objs + [rand_policy(rng, i) for i in range(rng.randint(0, 3))]


def objects(raws: list[dict]) -> list[SourceObject]:
    return [SourceObject(r, Origin(file="fuzz.yaml", document=i + 1)) for i, r in enumerate(raws)]


def analyse(raws: list[dict]) -> Analyzer:
    return Analyzer(build_cluster(objects(raws)), Options())


def cells(an: Analyzer) -> dict[tuple[str, str], ConnSet]:
    m = an.matrix(external=False)
    return {(s, d): c.conns for s, d, c in m.connections()}


def paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += paths(v, prefix + (i,))
    return out


def replace_at(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    obj = copy.deepcopy(obj)
    node = obj
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return obj


# --------------------------------------------------------------------------------- never a crash
@settings(FUZZ, max_examples=150)
@given(rng=st.randoms(use_true_random=False), data=st.data())
def test_k8s_bad_objects_give_input_errors_only(rng: random.Random, data) -> None:
    raws = random_model(rng)
    i = data.draw(st.integers(0, len(raws) - 1))
    where = data.draw(st.sampled_from(paths(raws[i])))
    raws[i] = replace_at(raws[i], where, data.draw(JUNK))
    if not isinstance(raws[i], dict):
        return
    try:
        an = analyse(raws)
    except MicrosegError as exc:
        assert exc.exit_code == 2 and str(exc), exc
        return
    an.matrix()  # a model that validates must also analyse (with externals)


YAML_TOKENS = list("ab:-[]{}&*!|>#'\"\n ,?%@`0.\t") + ["---\n", "<<: ", "!!str ", "!!python/object:x ", "&a ", "*a",
                                                       "kind: Pod\n", "metadata:\n  name: x\n", "  ", "- "]
YAMLISH = st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join)


@settings(FUZZ, max_examples=300)
@given(text=YAMLISH, json_=st.booleans())
def test_any_text_gives_objects_or_an_input_error(text: str, json_: bool) -> None:
    try:
        objs = parse_text(text, "fuzz.json" if json_ else "fuzz.yaml")
    except InputError as exc:
        assert str(exc).startswith("fuzz."), exc
        return
    try:
        build_cluster(objs)
    except MicrosegError as exc:
        assert exc.exit_code == 2
        assert str(exc).startswith("fuzz."), exc


# --------------------------------------------------------------------------- same verdict per path
@settings(FUZZ, max_examples=60)
@given(rng=st.randoms(use_true_random=False))
def test_matrix_explain_and_test_agree(rng: random.Random) -> None:
    from kubectl_microseg.commands.test import Flow, check_flow

    an = analyse(random_model(rng))
    cm = cells(an)
    ids = [w.id for w in an.cluster.workloads]
    doc = SourceObject({"flows": []}, Origin(file="flows.yaml", document=1))
    for src in ids:
        for dst in ids:
            conns = cm.get((src, dst), ConnSet.none())
            e = explain_pair(an, find_workload(an, src, None), find_workload(an, dst, None))
            assert e.allowed == conns, (src, dst, e.allowed, conns)
            for proto, port in (("TCP", 80), ("UDP", 53), ("SCTP", 8080)):
                r = check_flow(an, Flow(src, dst, port, proto, None, doc, 0))
                assert r["verdict"] == ("allow" if conns.allows(proto, port) else "deny"), (src, dst, proto, port)


# ------------------------------------------------------------------------------------ invariants
def _policies(raws: list[dict]) -> list[int]:
    return [i for i, r in enumerate(raws) if r["kind"] == "NetworkPolicy"]


def _le(a: dict, b: dict) -> list:
    """Pairs whose connections in ``a`` are not within ``b``."""
    return [(k, v, b.get(k)) for k, v in a.items() if not v <= b.get(k, ConnSet.none())]


@settings(FUZZ, max_examples=60)
@given(rng=st.randoms(use_true_random=False), data=st.data())
def test_adding_an_allow_rule_never_removes_a_flow(rng: random.Random, data) -> None:
    raws = random_model(rng)
    pols = _policies(raws)
    if not pols:
        raws.append(rand_policy(rng, 9))
        pols = _policies(raws)
    before = cells(analyse(raws))
    i = data.draw(st.sampled_from(pols))
    direction = data.draw(st.sampled_from(["ingress", "egress"]))
    spec = raws[i]["spec"]
    # a policy that does not isolate this direction gains nothing from a rule there, and adding the
    # direction to policyTypes would isolate: keep policyTypes as they are
    types = spec.get("policyTypes")
    if types is not None and direction.capitalize() not in types:
        return
    if types is None and direction == "egress" and not spec.get("egress"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
        before = cells(analyse(raws))
    after_raws = copy.deepcopy(raws)
    after_raws[i]["spec"].setdefault(direction, []).append(rand_rule(rng, "from" if direction == "ingress" else "to"))
    after = cells(analyse(after_raws))
    assert not _le(before, after), _le(before, after)


@settings(FUZZ, max_examples=60)
@given(rng=st.randoms(use_true_random=False), data=st.data())
def test_adding_default_deny_never_adds_a_flow(rng: random.Random, data) -> None:
    raws = random_model(rng)
    before = cells(analyse(raws))
    ns = data.draw(st.sampled_from("abc"))
    types = data.draw(st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    raws.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "default-deny", "namespace": ns},
                 "spec": {"podSelector": {}, "policyTypes": types}})
    after = cells(analyse(raws))
    assert not _le(after, before), _le(after, before)


@settings(FUZZ, max_examples=60)
@given(rng=st.randoms(use_true_random=False))
def test_unselected_pod_is_reachable_from_every_source_whose_egress_allows_it(rng: random.Random) -> None:
    an = analyse(random_model(rng))
    cm = cells(an)
    for dst in an.cluster.workloads:
        if any(an.is_isolated(c, "ingress") for c in an.workload_classes[dst.id]):
            continue
        for src in an.cluster.workloads:
            e = explain_pair(an, src, dst)
            # the source's egress decides alone: what it allows towards dst is what the matrix shows
            assert cm.get((src.id, dst.id), ConnSet.none()) == e.egress_allowed, (src.id, dst.id)
            if not any(an.is_isolated(c, "egress") for c in an.workload_classes[src.id]):
                assert cm.get((src.id, dst.id), ConnSet.none()).is_all(), (src.id, dst.id)


# ------------------------------------------------------------------------------------- nftables
def _demo_rulesets() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(DEMO_HOST.glob("*.json"))]


RULESETS = _demo_rulesets()
ADDRS = ["10.0.0.9", "10.0.10.5", "10.0.100.7", "192.168.1.1", "10.0.50.3", "fd00::1", "fd00::2"]
FLOW = st.fixed_dictionaries(
    {"from": st.sampled_from(ADDRS), "to": st.sampled_from(ADDRS)},
    optional={"hook": st.sampled_from(["input", "output", "forward", "prerouting"]),
              "protocol": st.sampled_from(["tcp", "udp", "icmp", "icmpv6", "sctp", "gre"]),
              "port": st.integers(-1, 70000) | st.sampled_from([22, 53, 80, 443, 5432, 9100]),
              "sport": st.integers(0, 65535), "ct_state": st.sampled_from(["new", "established", "related", "open"]),
              "iif": st.sampled_from(["eth0", "lo"]), "oif": st.sampled_from(["eth1"]),
              "expect": st.sampled_from(["allow", "deny", "maybe"])})


@settings(FUZZ, max_examples=150)
@given(which=st.integers(0, len(RULESETS) - 1), data=st.data())
def test_nft_bad_rulesets_give_input_errors_only(which: int, data) -> None:
    doc = RULESETS[which]
    where = data.draw(st.sampled_from(paths(doc)))
    bad = replace_at(doc, where, data.draw(JUNK))
    try:
        rs = parse_ruleset(bad, Origin(file="rs.json"))
    except InputError:
        return
    for _ in range(3):
        try:
            flow = flow_from_dict(data.draw(FLOW))
        except ValueError:
            continue
        ev = evaluate(rs, flow.packet(), flow.hook)
        assert ev.verdict in ("allow", "deny", "unknown")


def _cli(argv: list[str]) -> tuple[int, str]:
    """Run the command line in-process: (exit code, stdout); argparse's own rejections exit 2 too."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue()


EXPLAIN_OPTIONS = {"protocol": "--proto", "port": "--port", "sport": "--sport", "ct_state": "--ct-state",
                   "iif": "--iif", "oif": "--oif"}


@settings(FUZZ, max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, len(RULESETS) - 1), item=FLOW)
def test_nft_flows_validate_or_evaluate_the_same_in_test_and_explain(tmp_path: Path, which: int, item: dict) -> None:
    """The same flow through ``nft test`` (a flows file) and ``nft explain`` (options): both refuse it (exit 2),
    or both give the same verdict and reasons, each from its own command path (file parsing vs. argv)."""
    ruleset = tmp_path / f"rs{which}.json"
    if not ruleset.exists():
        ruleset.write_text(json.dumps(RULESETS[which]), encoding="utf-8")
    item = {k: v for k, v in item.items() if k != "expect"}  # explain states no expectation
    flows = tmp_path / "flows.yaml"
    flows.write_text(yaml.safe_dump({"flows": [item]}), encoding="utf-8")
    code_t, out_t = _cli(["nft", "test", str(flows), "--ruleset", str(ruleset), "-o", "json"])
    argv = ["nft", "explain", "--ruleset", str(ruleset), "--from", item["from"], "--to", item["to"],
            "--hook", str(item.get("hook", "input")), "-o", "json"]  # a flows file's hook defaults to input
    for key, option in EXPLAIN_OPTIONS.items():
        if key in item:
            argv += [option, str(item[key])]
    code_e, out_e = _cli(argv)
    assert (code_t, code_e) in ((0, 0), (2, 2)), (code_t, code_e)
    if code_t == 0:
        tested, explained = json.loads(out_t)["results"][0], json.loads(out_e)
        assert tested["verdict"] == explained["verdict"] and tested["verdict"] in ("allow", "deny", "unknown")
        assert tested["because"] == explained["because"] and tested["because"]


@settings(FUZZ, max_examples=100)
@given(which=st.integers(0, len(RULESETS) - 1), item=FLOW)
def test_nft_a_first_drop_in_every_input_chain_denies_every_input_flow(which: int, item: dict) -> None:
    doc = copy.deepcopy(RULESETS[which])
    items = doc["nftables"]
    for ch in [x["chain"] for x in items if "chain" in x and x["chain"].get("hook") == "input"]:
        first = next((k for k, x in enumerate(items) if "rule" in x and x["rule"]["chain"] == ch["name"]
                      and x["rule"]["table"] == ch["table"] and x["rule"]["family"] == ch["family"]), len(items))
        items.insert(first, {"rule": {"family": ch["family"], "table": ch["table"], "chain": ch["name"],
                                      "handle": 999, "expr": [{"drop": None}]}})
    rs = parse_ruleset(doc, Origin(file="rs.json"))
    item = {**item, "hook": "input"}
    try:
        flow = flow_from_dict(item)
    except ValueError:
        return
    if any(x["chain"].get("hook") == "input" for x in items if "chain" in x):
        assert evaluate(rs, flow.packet(), "input").verdict == "deny"

"""Checks of the packaged demo cluster (kubectl_microseg/demo/) and its expected flows.

The demo is data: these tests keep it valid Kubernetes, keep its planted mistakes exactly where
docs/demo.md says they are (and nowhere else), and run its expectations through the engine.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import yaml

import kubectl_microseg

DEMO = Path(kubectl_microseg.__file__).parent / "demo"
CLUSTER = DEMO / "cluster"
EXPECTATIONS = DEMO / "expectations.yaml"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "demo.md"

# The planted mistakes (docs/demo.md, "Planted mistakes"). Each is asserted to be present below, and
# the "everything else is clean" tests exempt exactly these.
NAMESPACE_WITHOUT_DEFAULT_DENY = "batch"  # PLANTED 1
DEAD_POLICY = ("monitoring", "grafana")  # PLANTED 2: its podSelector says `grafanna`
UNCOVERED_WORKLOAD = ("batch", "report-generator")  # PLANTED 3

API_VERSIONS = {
    "Namespace": "v1",
    "Pod": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "ClusterNetworkPolicy": "policy.networking.k8s.io/v1alpha2",
    "AuthorizationPolicy": "security.istio.io/v1",
    "PeerAuthentication": "security.istio.io/v1",
}
CLUSTER_SCOPED = {"Namespace", "ClusterNetworkPolicy"}
ADMIN_FILE = "cluster-admin.yaml"  # the cluster-scoped guardrails (not in the client's models)
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
PROTOCOLS = {"TCP", "UDP", "SCTP"}

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


# ---------------------------------------------------------------------------------------------------
# Loading


def _documents() -> list[tuple[Path, int, dict[str, Any]]]:
    docs = []
    for path in sorted(CLUSTER.rglob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            for i, doc in enumerate(yaml.safe_load_all(fh)):
                docs.append((path, i, doc))
    return docs


DOCUMENTS = _documents()
ADMIN_KINDS = {"ClusterNetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy"}
MESH_KINDS = {"AuthorizationPolicy", "PeerAuthentication"}  # Istio's: not in the client's models (tests/mesh)
# the namespaced objects; the cluster-scoped admin policies are checked by test_admin_policies_parse
OBJECTS = [doc for _, _, doc in DOCUMENTS if doc is not None and doc.get("kind") not in ADMIN_KINDS | MESH_KINDS]
ADMIN_OBJECTS = [doc for _, _, doc in DOCUMENTS if doc is not None and doc.get("kind") in ADMIN_KINDS]


def _of_kind(*kinds: str) -> list[dict[str, Any]]:
    return [o for o in OBJECTS if o.get("kind") in kinds]


def _ns(obj: dict[str, Any]) -> str:
    return obj["metadata"].get("namespace", "")


def _pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod template (metadata + spec) of a workload, or the Pod itself."""
    if obj["kind"] == "Pod":
        return obj
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


def _controller(obj: dict[str, Any]) -> dict[str, Any] | None:
    for ref in obj["metadata"].get("ownerReferences", []):
        if ref.get("controller"):
            return ref
    return None


NAMESPACE_LABELS = {o["metadata"]["name"]: o["metadata"].get("labels", {}) for o in _of_kind("Namespace")}


class PodGroup:
    """Pods as the policies see them: a workload's template, or a Pod object."""

    def __init__(self, obj: dict[str, Any]):
        tpl = _pod_template(obj)
        self.obj = obj
        self.namespace = _ns(obj)
        self.name = obj["metadata"]["name"]
        self.labels: dict[str, str] = tpl["metadata"].get("labels", {})
        self.host_network = bool(tpl["spec"].get("hostNetwork"))
        self.ports = [
            (p.get("name"), p.get("protocol", "TCP"), p["containerPort"])
            for c in tpl["spec"]["containers"]
            for p in c.get("ports", [])
        ]

    def has_named_port(self, name: str, protocol: str) -> bool:
        return any(n == name and proto == protocol for n, proto, _ in self.ports)


PODS = [PodGroup(o) for o in _of_kind("Pod", *WORKLOAD_KINDS)]


def _endpoint_ids() -> dict[str, PodGroup]:
    """Endpoint id -> pod group for every top-level workload and bare Pod (owned objects fold in)."""
    ids = {}
    for group in PODS:
        if _controller(group.obj) is None:
            ids[f"{group.namespace}/{group.name}"] = group
    return ids


ENDPOINTS = _endpoint_ids()


def _matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector semantics: matchLabels AND matchExpressions; empty selects everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _policies() -> list[dict[str, Any]]:
    return _of_kind("NetworkPolicy")


def _selected(policy: dict[str, Any]) -> list[PodGroup]:
    ns = _ns(policy)
    return [p for p in PODS if p.namespace == ns and _matches(policy["spec"]["podSelector"], p.labels)]


def _peer_pods(policy: dict[str, Any], peer: dict[str, Any]) -> list[PodGroup]:
    """The pods a NetworkPolicyPeer selects (ipBlock peers select none)."""
    if "ipBlock" in peer:
        return []
    ns_sel = peer.get("namespaceSelector")
    pod_sel = peer.get("podSelector")
    out = []
    for pod in PODS:
        if ns_sel is None:
            in_ns = pod.namespace == _ns(policy)
        else:
            in_ns = _matches(ns_sel, NAMESPACE_LABELS.get(pod.namespace, {}))
        if in_ns and _matches(pod_sel, pod.labels):
            out.append(pod)
    return out


def _rules(policy: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any], str]]:
    """(direction, index, rule, peer key) for every ingress and egress rule."""
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(policy["spec"].get(direction) or []):
            yield direction, i, rule, peers


def _where(policy: dict[str, Any]) -> str:
    return f"{_ns(policy)}/{policy['metadata']['name']}"


# ---------------------------------------------------------------------------------------------------
# The manifests are valid Kubernetes


def test_every_file_parses_and_holds_objects():
    assert DOCUMENTS, f"no manifests under {CLUSTER}"
    files = {path for path, _, _ in DOCUMENTS}
    assert {p.name for p in files} >= {"00-namespaces.yaml", "production.yaml", "pci.yaml", "kube-system.yaml"}
    for path, i, doc in DOCUMENTS:
        assert isinstance(doc, dict), f"{path.name} document {i + 1} is not a mapping: {doc!r}"


def test_objects_have_identity():
    seen = Counter()
    for path, i, obj in DOCUMENTS:
        where = f"{path.name} document {i + 1}"
        kind = obj.get("kind")
        assert kind in API_VERSIONS, f"{where}: unexpected kind {kind!r}"
        assert obj.get("apiVersion") == API_VERSIONS[kind], f"{where}: apiVersion {obj.get('apiVersion')!r}"
        meta = obj.get("metadata") or {}
        assert meta.get("name"), f"{where}: metadata.name missing"
        if kind in CLUSTER_SCOPED:
            assert "namespace" not in meta, f"{where}: a {kind} is not namespaced"
        else:
            assert meta.get("namespace"), f"{where}: metadata.namespace missing"
        seen[(kind, meta.get("namespace"), meta["name"])] += 1
    dupes = [k for k, n in seen.items() if n > 1]
    assert not dupes, f"duplicate objects: {dupes}"


def test_files_are_split_by_namespace():
    for path, i, obj in DOCUMENTS:
        if path.name == ADMIN_FILE:
            assert obj["kind"] in CLUSTER_SCOPED - {"Namespace"}, f"{path.name}: only admin policies belong here"
        elif path.name == "00-namespaces.yaml":
            assert obj["kind"] == "Namespace", f"{path.name} document {i + 1}: only Namespaces belong here"
        else:
            assert obj["kind"] != "Namespace", f"{path.name}: Namespaces belong in 00-namespaces.yaml"
            assert _ns(obj) == path.stem, f"{path.name} document {i + 1}: namespace {_ns(obj)!r}"


def test_objects_round_trip_through_the_kubernetes_models():
    """Deserialize into the official client's models and back: a misspelled or misplaced field is dropped
    by the models (so the round trip differs) and a missing required field raises."""
    from kubernetes.client import ApiClient

    api = ApiClient()
    deserialize = api._ApiClient__deserialize  # the client's own (private) model loader
    for path, i, obj in DOCUMENTS:
        if obj["kind"] in CLUSTER_SCOPED - {"Namespace"} or obj["kind"] in MESH_KINDS:
            continue  # not in the client's models; validated by the tool's own parser (tests/core, tests/mesh)
        model = deserialize(obj, "V1" + obj["kind"])
        assert api.sanitize_for_serialization(model) == obj, (
            f"{path.name} document {i + 1} ({obj['kind']} {obj['metadata']['name']}): "
            "a field is misspelled, misplaced or of the wrong type")


def test_names_are_valid():
    for obj in OBJECTS:
        name = obj["metadata"]["name"]
        if obj["kind"] == "Namespace":
            assert DNS1123_LABEL.match(name) and len(name) <= 63, f"namespace name {name!r}"
        else:
            assert DNS1123_SUBDOMAIN.match(name) and len(name) <= 253, f"{obj['kind']} name {name!r}"
        if obj["kind"] == "CronJob":
            assert len(name) <= 52, f"CronJob name {name!r} is longer than 52 characters"


def _label_maps() -> Iterator[tuple[str, dict[str, str]]]:
    for obj in OBJECTS:
        where = f"{obj['kind']} {_ns(obj)}/{obj['metadata']['name']}"
        yield where, obj["metadata"].get("labels") or {}
        if obj["kind"] != "Namespace" and obj["kind"] != "NetworkPolicy":
            yield where + " template", _pod_template(obj)["metadata"].get("labels") or {}


def _valid_label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and not (DNS1123_SUBDOMAIN.match(prefix) and len(prefix) <= 253):
        return False
    return bool(LABEL_NAME.match(name)) and len(name) <= 63


def _valid_label_value(value: Any) -> bool:
    return isinstance(value, str) and (value == "" or (bool(LABEL_NAME.match(value)) and len(value) <= 63))


def test_labels_are_valid():
    for where, labels in _label_maps():
        for key, value in labels.items():
            assert _valid_label_key(key), f"{where}: label key {key!r}"
            assert _valid_label_value(value), f"{where}: label {key}={value!r}"


def test_namespaces_exist_and_carry_their_name_label():
    for name, labels in NAMESPACE_LABELS.items():
        assert labels.get("kubernetes.io/metadata.name") == name, f"namespace {name}"
    used = {_ns(o) for o in OBJECTS if o["kind"] != "Namespace"}
    assert used <= set(NAMESPACE_LABELS), f"namespaces without a manifest: {used - set(NAMESPACE_LABELS)}"
    assert set(NAMESPACE_LABELS) - used == set(), "a namespace holds nothing"


def test_workload_selectors_select_their_templates():
    for obj in _of_kind("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        selector = obj["spec"]["selector"]
        assert selector, f"{obj['kind']} {obj['metadata']['name']}: empty selector"
        assert _matches(selector, _pod_template(obj)["metadata"]["labels"]), (
            f"{obj['kind']} {_ns(obj)}/{obj['metadata']['name']}: selector does not match its template")
    for obj in _of_kind("StatefulSet"):
        assert obj["spec"].get("serviceName"), f"StatefulSet {obj['metadata']['name']} needs serviceName"


def test_container_ports_are_valid():
    for pod in PODS:
        names = [n for n, _, _ in pod.ports if n]
        assert len(names) == len(set(names)), f"{pod.namespace}/{pod.name}: duplicate port names {names}"
        for name, protocol, number in pod.ports:
            assert protocol in PROTOCOLS, f"{pod.namespace}/{pod.name}: protocol {protocol!r}"
            assert 1 <= number <= 65535, f"{pod.namespace}/{pod.name}: port {number}"
            if name is not None:
                assert (IANA_SVC_NAME.match(name) and len(name) <= 15 and "--" not in name
                        and re.search("[a-z]", name)), f"{pod.namespace}/{pod.name}: port name {name!r}"


def _check_selector(selector: Any, where: str) -> None:
    assert isinstance(selector, dict), f"{where}: selector must be a mapping"
    assert set(selector) <= {"matchLabels", "matchExpressions"}, f"{where}: {sorted(selector)}"
    for key, value in (selector.get("matchLabels") or {}).items():
        assert _valid_label_key(key) and _valid_label_value(value), f"{where}: {key}={value!r}"
    for expr in selector.get("matchExpressions") or []:
        op = expr["operator"]
        assert op in {"In", "NotIn", "Exists", "DoesNotExist"}, f"{where}: operator {op!r}"
        if op in {"In", "NotIn"}:
            assert expr.get("values"), f"{where}: {op} needs values"
        else:
            assert not expr.get("values"), f"{where}: {op} takes no values"


def test_policies_are_what_the_api_server_accepts():
    for policy in _policies():
        where = _where(policy)
        spec = policy["spec"]
        _check_selector(spec["podSelector"], f"{where} podSelector")
        assert set(spec.get("policyTypes", [])) <= {"Ingress", "Egress"}, where
        for direction, i, rule, peer_key in _rules(policy):
            rwhere = f"{where} {direction}[{i}]"
            for peer in rule.get(peer_key) or []:
                assert peer, f"{rwhere}: empty peer"
                if "ipBlock" in peer:
                    assert set(peer) == {"ipBlock"}, f"{rwhere}: ipBlock cannot be combined with selectors"
                    net = ipaddress.ip_network(peer["ipBlock"]["cidr"])
                    for ex in peer["ipBlock"].get("except", []):
                        ex_net = ipaddress.ip_network(ex)
                        assert ex_net.version == net.version and ex_net.subnet_of(net), f"{rwhere}: except {ex}"
                for key in ("namespaceSelector", "podSelector"):
                    if key in peer:
                        _check_selector(peer[key], f"{rwhere} {key}")
            for port in rule.get("ports") or []:
                assert port.get("protocol", "TCP") in PROTOCOLS, f"{rwhere}: protocol"
                value = port.get("port")
                if isinstance(value, int):
                    assert 1 <= value <= 65535, f"{rwhere}: port {value}"
                else:
                    assert isinstance(value, str) and IANA_SVC_NAME.match(value), f"{rwhere}: port {value!r}"
                    assert "endPort" not in port, f"{rwhere}: endPort needs a numeric port"


def test_every_rule_has_a_comment_saying_why():
    """Each ingress/egress rule item is directly preceded by a comment line (the demo's own style)."""
    for path in sorted(CLUSTER.rglob("*.yaml")):
        lines = path.read_text(encoding="utf-8").splitlines()
        in_rules = False
        for n, line in enumerate(lines):
            stripped = line.strip()
            if re.match(r"^  (ingress|egress):$", line):
                in_rules = True
                continue
            if in_rules and re.match(r"^(\S|  \S)", line) and not stripped.startswith("#"):
                in_rules = False
            if in_rules and re.match(r"^    - (from|to):", line):
                assert lines[n - 1].strip().startswith("#"), f"{path.name}:{n + 1}: rule without a comment"


# ---------------------------------------------------------------------------------------------------
# The selectors hit what they mean to hit, and the planted mistakes are exactly where documented


def _selector_findings() -> set[tuple[str, str]]:
    """(policy, what) for every pod selector, peer or named port that matches nothing."""
    findings = set()
    for policy in _policies():
        where = _where(policy)
        selected = _selected(policy)
        if not selected:
            findings.add((where, "spec.podSelector"))
        for direction, i, rule, peer_key in _rules(policy):
            peer_pods: list[PodGroup] = []
            for j, peer in enumerate(rule.get(peer_key) or []):
                if "ipBlock" in peer:
                    continue
                pods = _peer_pods(policy, peer)
                if not pods:
                    findings.add((where, f"{direction}[{i}].{peer_key}[{j}]"))
                peer_pods += pods
            # A named port is resolved on the destination: the selected pods for ingress, the peers for egress.
            destinations = selected if direction == "ingress" else peer_pods
            if not destinations:
                continue
            for port in rule.get("ports") or []:
                if isinstance(port.get("port"), str):
                    proto = port.get("protocol", "TCP")
                    if not any(p.has_named_port(port["port"], proto) for p in destinations):
                        findings.add((where, f"{direction}[{i}] port {port['port']}/{proto}"))
    return findings


def test_every_selector_matches_a_pod_except_the_planted_one():
    assert _selector_findings() == {("/".join(DEAD_POLICY), "spec.podSelector")}


def test_planted_dead_policy_is_a_typo_of_a_real_label():
    ns, name = DEAD_POLICY
    [policy] = [p for p in _policies() if _ns(p) == ns and p["metadata"]["name"] == name]
    wanted = policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
    assert wanted == "grafanna"
    assert any(p.labels.get("app.kubernetes.io/name") == "grafana" for p in PODS if p.namespace == ns)


def _is_default_deny(policy: dict[str, Any]) -> bool:
    spec = policy["spec"]
    return (spec["podSelector"] == {} and set(spec.get("policyTypes", [])) == {"Ingress", "Egress"}
            and not spec.get("ingress") and not spec.get("egress"))


def test_every_namespace_but_the_planted_one_has_default_deny():
    with_deny = {_ns(p) for p in _policies() if _is_default_deny(p)}
    assert set(NAMESPACE_LABELS) - with_deny == {NAMESPACE_WITHOUT_DEFAULT_DENY}


def test_every_workload_but_the_planted_one_is_selected_by_a_policy():
    uncovered = {(p.namespace, p.name) for p in PODS
                 if _controller(p.obj) is None
                 and not any(_ns(pol) == p.namespace and _matches(pol["spec"]["podSelector"], p.labels)
                             for pol in _policies())}
    assert uncovered == {UNCOVERED_WORKLOAD}


def test_every_egress_isolated_workload_may_reach_dns():
    """No planted 'egress isolation without DNS': every pod group that some policy isolates for egress
    is allowed UDP and TCP 53 to CoreDNS by its own egress rules."""
    dns = [p for p in PODS if p.labels.get("k8s-app") == "kube-dns" and p.namespace == "kube-system"]
    assert dns
    for pod in PODS:
        egress_policies = [
            pol for pol in _policies()
            if _ns(pol) == pod.namespace and _matches(pol["spec"]["podSelector"], pod.labels)
            and ("Egress" in pol["spec"].get("policyTypes", []) or pol["spec"].get("egress"))]
        if not egress_policies or pod.host_network:
            continue
        for proto in ("UDP", "TCP"):
            ok = any(
                any(d in _peer_pods(pol, peer) for peer in rule.get("to") or [] for d in dns)
                and any(port.get("protocol", "TCP") == proto and port.get("port") == 53
                        for port in rule.get("ports") or [])
                for pol in egress_policies for rule in pol["spec"].get("egress") or [])
            assert ok, f"{pod.namespace}/{pod.name} cannot resolve names over {proto}"


def test_docs_describe_each_planted_mistake():
    text = DOCS.read_text(encoding="utf-8")
    for needle in ("grafanna", "report-generator", "`batch`", "netshoot-debug", "kube-proxy"):
        assert needle in text, f"docs/demo.md does not mention {needle}"


# ---------------------------------------------------------------------------------------------------
# Owners, bare pods, hostNetwork, size


def _find(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    for obj in OBJECTS:
        if obj["kind"] == kind and _ns(obj) == namespace and obj["metadata"]["name"] == name:
            return obj
    return None


def test_owner_references_point_at_objects_in_the_input():
    chains = set()
    for obj in OBJECTS:
        ref = _controller(obj)
        if ref is None:
            continue
        owner = _find(ref["kind"], _ns(obj), ref["name"])
        assert owner is not None, f"{obj['kind']} {obj['metadata']['name']}: owner {ref['kind']} {ref['name']} missing"
        assert owner["metadata"].get("uid") == ref["uid"], f"{obj['metadata']['name']}: owner uid differs"
        assert owner["apiVersion"] == ref["apiVersion"]
        if obj["kind"] == "Pod" and owner["kind"] != "Pod" and owner["kind"] != "CronJob":
            selector = owner["spec"]["selector"]
            assert _matches(selector, obj["metadata"]["labels"]), f"{obj['metadata']['name']}: not selected by its owner"
        top = owner
        kinds = [obj["kind"], owner["kind"]]
        while _controller(top) is not None:
            up = _controller(top)
            top = _find(up["kind"], _ns(top), up["name"])
            assert top is not None
            kinds.append(top["kind"])
        chains.add(tuple(kinds))
    assert ("Pod", "ReplicaSet", "Deployment") in chains
    assert ("Pod", "Job", "CronJob") in chains
    assert ("Pod", "StatefulSet") in chains


def test_there_is_a_bare_pod_and_a_host_network_workload():
    bare = [o for o in _of_kind("Pod") if _controller(o) is None]
    assert [o["metadata"]["name"] for o in bare] == ["netshoot-debug"]
    assert [p.name for p in PODS if p.host_network] == ["kube-proxy"]


def test_the_demo_stays_readable_in_a_terminal():
    assert 18 <= len(ENDPOINTS) <= 30, sorted(ENDPOINTS)
    assert 15 <= len(_policies()) <= 30


# ---------------------------------------------------------------------------------------------------
# The expected flows


def _flows() -> list[dict[str, Any]]:
    with EXPECTATIONS.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)["flows"]


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def test_expectations_are_well_formed():
    flows = _flows()
    assert 40 <= len(flows) <= 80, len(flows)
    keys = Counter()
    for n, flow in enumerate(flows, 1):
        where = f"flow {n} {flow}"
        assert set(flow) <= {"from", "to", "port", "protocol", "expect"}, where
        assert flow["expect"] in {"allow", "deny"}, where
        protocol = flow.get("protocol", "TCP")
        assert protocol in PROTOCOLS, where
        for side in ("from", "to"):
            assert _is_ip(flow[side]) or flow[side] in ENDPOINTS, f"{where}: unknown endpoint {flow[side]!r}"
        assert not (_is_ip(flow["from"]) and _is_ip(flow["to"])), f"{where}: one side must be in the cluster"
        port = flow["port"]
        if isinstance(port, str):
            assert flow["to"] in ENDPOINTS and ENDPOINTS[flow["to"]].has_named_port(port, protocol), (
                f"{where}: the destination has no port named {port!r} for {protocol}")
        else:
            assert isinstance(port, int) and 1 <= port <= 65535, where
        keys[(flow["from"], flow["to"], port, protocol)] += 1
    assert [k for k, c in keys.items() if c > 1] == []
    verdicts = Counter(f["expect"] for f in flows)
    assert verdicts["allow"] >= 15 and verdicts["deny"] >= 15, verdicts


def test_expectations_cover_every_namespace_and_every_planted_mistake():
    flows = _flows()
    touched = {side.split("/")[0] for f in flows for side in (f["from"], f["to"]) if not _is_ip(side)}
    assert touched == set(NAMESPACE_LABELS), touched
    ids = {(f["from"], f["to"]) for f in flows}
    grafana = "/".join(DEAD_POLICY)
    assert ("ingress-nginx/ingress-nginx-controller", grafana) in ids
    uncovered = "/".join(UNCOVERED_WORKLOAD)
    assert any(uncovered in pair and f["expect"] == "allow" for f in flows for pair in [(f["from"], f["to"])])
    assert any(f["to"].startswith(NAMESPACE_WITHOUT_DEFAULT_DENY + "/") and _is_ip(f["from"])
               and f["expect"] == "allow" for f in flows)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubectl_microseg", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_expectations_pass_against_the_engine():
    """`kubectl microseg --demo test expectations.yaml` (CONTRACT.md): every flow as expected, exit 0."""
    proc = _cli("--demo", "test", str(EXPECTATIONS), "-o", "json")
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    report = json.loads(proc.stdout)
    failures = [r for r in report["results"] if r["pass"] is not True]
    assert failures == []
    assert report["failed"] == 0
    assert report["passed"] == len(_flows()) == len(report["results"])
    for result, flow in zip(report["results"], _flows()):
        assert result["verdict"] == flow["expect"], (result, flow)


def test_matrix_endpoints_are_the_demo_workloads():
    """Pods fold into their top controlling owner (and owned ReplicaSets/Jobs with them): the matrix has
    one endpoint per workload, not one per Pod or ReplicaSet."""
    proc = _cli("--demo", "matrix", "-o", "json")
    assert proc.returncode == 0, proc.stderr[-4000:]
    matrix = json.loads(proc.stdout)
    workloads = {e["id"] for e in matrix["endpoints"] if e.get("kind") != "External"}
    assert workloads == set(ENDPOINTS)


def test_admin_policies_parse():
    """The demo's guardrails are ClusterNetworkPolicies (v1alpha2), one per tier, and pass validation."""
    from kubectl_microseg.model.admin import parse_any_admin_policy

    tiers = sorted((p.kind, p.tier.value) for p in map(parse_any_admin_policy, ADMIN_OBJECTS))
    assert tiers == [("ClusterNetworkPolicy", "Admin"), ("ClusterNetworkPolicy", "Baseline")]

"""Helpers of the lint tests: YAML text -> findings, and minimal object builders."""

from __future__ import annotations

import textwrap
from typing import Any

from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.lint import LintContext, lint_cluster
from kubectl_microseg.lint.finding import Finding
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.manifests import parse_text

FILE = "t.yaml"


def lint_yaml(text: str, rules: tuple[str, ...] | None = None) -> list[Finding]:
    """Lint manifests given as YAML text (comments visible, as in a file named t.yaml)."""
    text = textwrap.dedent(text)
    objs = parse_text(text, FILE)
    ctx = LintContext(Analyzer(build_cluster(objs)), lambda p: text.splitlines() if p == FILE else None)
    found = lint_cluster(ctx)
    return [f for f in found if rules is None or f.rule in rules]


def ids(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule, f.object) for f in findings]


def ns(name: str, **labels: str) -> str:
    lab = "".join(f"\n    {k}: {v}" for k, v in labels.items())
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n    x: y{lab}\n---\n"


def deploy(name: str, namespace: str, labels: dict[str, str], ports: list[tuple[str, int, str]] = ()) -> str:
    lab = "".join(f"\n        {k}: {v}" for k, v in labels.items())
    p = "".join(f"\n        - name: {n}\n          containerPort: {num}\n          protocol: {proto}" for n, num, proto in ports)
    ports_block = f"\n        ports:{p}" if ports else ""
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n"
            f"  template:\n    metadata:\n      labels:{lab}\n    spec:\n      containers:\n      - name: c\n"
            f"        image: x{ports_block}\n---\n")


def deny_all(namespace: str) -> str:
    return (f"# baseline\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n"
            f"  namespace: {namespace}\nspec:\n  podSelector: {{}}\n  policyTypes: [Ingress, Egress]\n---\n")


DNS = (ns("kube-system") + deploy("coredns", "kube-system", {"k8s-app": "kube-dns"},
                                         [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]))


def allow_dns(namespace: str) -> str:
    return f"""\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-dns
  namespace: {namespace}
spec:
  podSelector: {{}}
  policyTypes: [Egress]
  egress:
    # DNS
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - protocol: UDP
          port: 53
        - protocol: TCP
          port: 53
---
"""


def nft_doc(chains: list[dict[str, Any]]) -> dict[str, Any]:
    """A libnftables JSON document: table inet fw with the given chains ({name, hook, policy, rules})."""
    items: list[dict[str, Any]] = [{"table": {"family": "inet", "name": "fw", "handle": 1}}]
    handle = 2
    for c in chains:
        items.append({"chain": {"family": "inet", "table": "fw", "name": c["name"], "handle": handle,
                                "type": "filter", "hook": c["hook"], "prio": 0, "policy": c.get("policy", "drop")}})
        handle += 1
        for expr in c["rules"]:
            items.append({"rule": {"family": "inet", "table": "fw", "chain": c["name"], "handle": handle,
                                   "expr": expr}})
            handle += 1
    return {"nftables": items}


def m(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


TCP_DPORT = {"payload": {"protocol": "tcp", "field": "dport"}}
UDP_DPORT = {"payload": {"protocol": "udp", "field": "dport"}}
IP_SADDR = {"payload": {"protocol": "ip", "field": "saddr"}}
CT_STATE = {"ct": {"key": "state"}}
ACCEPT: dict[str, Any] = {"accept": None}
DROP: dict[str, Any] = {"drop": None}
LOG = {"log": {"prefix": "drop: "}}
COUNTER = {"counter": {"packets": 0, "bytes": 0}}
ESTABLISHED = [m(CT_STATE, ["established", "related"], "in"), ACCEPT]


def prefix(addr: str, length: int) -> dict[str, Any]:
    return {"prefix": {"addr": addr, "len": length}}

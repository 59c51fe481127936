"""Bad input: what the API server would reject, YAML/JSON syntax errors and non-object documents.

Each case gives exit 2 and exactly one line on stderr naming the file, the document and the line (the
exact line is marked ``#<`` in the case text), never a traceback, and nothing on stdout.

Citations: [Val] kubernetes pkg/apis/networking/validation/validation.go (ValidateNetworkPolicySpec,
ValidateNetworkPolicyPort, ValidateNetworkPolicyPeer, ValidateIPBlock); [ValLS] apimachinery
pkg/apis/meta/v1/validation ValidateLabelSelector / ValidateLabels; [ValPort] apimachinery
validation.IsValidPortNum / IsValidPortName (IANA_SVC_NAME); [Schema] the OpenAPI types of
networking.k8s.io/v1 (wrong JSON types are rejected while decoding).
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from .util import run_cli

GOOD_DOC = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
"""


def policy(spec: str) -> str:
    return ("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: bad\n  namespace: shop\n"
            "spec:\n" + textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ") + "\n")


def ingress_peer(peer: str) -> str:
    return policy("podSelector: {}\ningress:\n- from:\n" + textwrap.indent(textwrap.dedent(peer).strip("\n"), "  ") + "\n")


def ingress_ports(ports: str) -> str:
    return policy("podSelector: {}\ningress:\n- ports:\n" + textwrap.indent(textwrap.dedent(ports).strip("\n"), "  ") + "\n")


CASES = {
    # [Val] ValidateIPBlock: cidr must parse
    "cidr-invalid-prefix": (ingress_peer("- ipBlock:\n    cidr: 10.0.0.0/33 #<"), "CIDR"),
    "cidr-without-prefix": (ingress_peer("- ipBlock:\n    cidr: 10.0.0.1 #<"), "CIDR"),
    "cidr-garbage": (ingress_peer("- ipBlock:\n    cidr: not-an-ip/8 #<"), "CIDR"),
    "cidr-missing": (ingress_peer("- ipBlock: {except: [10.0.0.0/16]} #<"), "cidr"),
    "except-invalid": (ingress_peer("- ipBlock:\n    cidr: 10.0.0.0/8\n    except:\n    - 10.0.0.0/99 #<"), "CIDR"),
    # [Val] except "must be a strict subset of `cidr`"
    "except-outside": (ingress_peer("- ipBlock:\n    cidr: 10.0.0.0/8\n    except:\n    - 11.0.0.0/16 #<"), "strict subset"),
    "except-equal": (ingress_peer("- ipBlock:\n    cidr: 10.0.0.0/8\n    except:\n    - 10.0.0.0/8 #<"), "strict subset"),
    "except-wider": (ingress_peer("- ipBlock:\n    cidr: 10.1.0.0/16\n    except:\n    - 10.0.0.0/8 #<"), "strict subset"),
    "except-other-family": (ingress_peer("- ipBlock:\n    cidr: 10.0.0.0/8\n    except:\n    - 'fd00::/64' #<"), "strict subset"),
    # [Val] ValidateNetworkPolicyPort: endPort
    "endport-without-port": (ingress_ports("- protocol: TCP\n  endPort: 90 #<"), "endPort"),
    "endport-named-port": (ingress_ports("- port: http\n  endPort: 90 #<"), "endPort"),
    "endport-below-port": (ingress_ports("- port: 100\n  endPort: 90 #<"), "endPort"),
    "endport-out-of-range": (ingress_ports("- port: 100\n  endPort: 65536 #<"), "65535"),
    # [ValPort] IsValidPortNum: 1..65535
    "port-zero": (ingress_ports("- port: 0 #<"), "65535"),
    "port-too-big": (ingress_ports("- port: 65536 #<"), "65535"),
    "port-negative": (ingress_ports("- port: -1 #<"), "65535"),
    # [ValPort] IsValidPortName: IANA_SVC_NAME; a quoted number is a string, hence a (bad) name
    "port-name-quoted-number": (ingress_ports("- port: \"80\" #<"), "port name"),
    "port-name-upper": (ingress_ports("- port: HTTP #<"), "port name"),
    "port-name-double-dash": (ingress_ports("- port: my--port #<"), "port name"),
    "port-name-too-long": (ingress_ports("- port: abcdefghijklmnop #<"), "port name"),
    # [Val] protocol: Unsupported value (case-sensitive: TCP, UDP, SCTP)
    "protocol-unknown": (ingress_ports("- port: 80\n  protocol: ICMP #<"), "ICMP"),
    "protocol-lowercase": (ingress_ports("- port: 80\n  protocol: tcp #<"), "tcp"),
    # [ValLS] operators and values
    "selector-bad-operator": (policy("podSelector:\n  matchExpressions:\n  - key: app\n    operator: Equals #<\n    values: [a]"), "Equals"),
    # values missing: the line is that of the requirement (there is no values field to point at)
    "selector-in-without-values": (policy("podSelector:\n  matchExpressions:\n  - key: app #<\n    operator: In"), "values"),
    "selector-notin-empty-values": (policy("podSelector:\n  matchExpressions:\n  - key: app\n    operator: NotIn\n    values: [] #<"), "values"),
    "selector-exists-with-values": (policy("podSelector:\n  matchExpressions:\n  - key: app\n    operator: Exists\n    values: [a] #<"), "values"),
    "selector-missing-key": (policy("podSelector:\n  matchExpressions:\n  - operator: Exists #<"), "key"),
    "selector-bad-label-key": (policy("podSelector:\n  matchLabels:\n    -bad: x #<"), "-bad"),
    "selector-bad-label-value": (policy("podSelector:\n  matchLabels:\n    app: 'has space' #<"), "has space"),
    "selector-non-string-value": (policy("podSelector:\n  matchLabels:\n    version: 1.5 #<"), "string"),
    "selector-bool-value": (policy("podSelector:\n  matchLabels:\n    enabled: true #<"), "string"),
    "ns-selector-non-string-value": (ingress_peer("- namespaceSelector:\n    matchLabels:\n      tier: 3 #<"), "string"),
    # [Schema] wrong types
    "ports-not-a-list": (policy("podSelector: {}\ningress:\n- ports: 80 #<"), "list"),
    "from-not-a-list": (policy("podSelector: {}\ningress:\n- from: {podSelector: {}} #<"), "list"),
    "ingress-not-a-list": (policy("podSelector: {}\ningress: yes #<"), "list"),
    "port-wrong-type": (ingress_ports("- port: [80] #<"), "port"),
    "endport-wrong-type": (ingress_ports("- port: 80\n  endPort: '90' #<"), "endPort"),
    "selector-not-an-object": (policy("podSelector: app=web #<"), "object"),
    "policytypes-not-a-list": (policy("podSelector: {}\npolicyTypes: Ingress #<"), "list"),
    # [Val] ValidateNetworkPolicyPeer
    "peer-empty": (ingress_peer("- {} #<"), "peer"),
    "peer-ipblock-and-podselector": (ingress_peer("- ipBlock: {cidr: 10.0.0.0/8} #<\n  podSelector: {}"), "ipBlock"),
    "peer-ipblock-and-nsselector": (ingress_peer("- namespaceSelector: {} #<\n  ipBlock: {cidr: 10.0.0.0/8}"), "ipBlock"),
    # [Val] policyTypes
    "policytypes-three": (policy("podSelector: {}\npolicyTypes: [Ingress, Egress, Ingress] #<"), "two"),
    "policytypes-unknown": (policy("podSelector: {}\npolicyTypes:\n- Ingress\n- Both #<"), "Both"),
    # [ValLS] ValidateLabels on pods and namespaces (a workload's labels with non-string values)
    "pod-label-number": ("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    version: 2 #<\nspec: {}\n", "string"),
    "namespace-label-invalid": ("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: n2\n  labels:\n    a: 'x y' #<\n", "x y"),
    "deployment-template-label-bool": ("---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n"
                                       "    metadata:\n      labels:\n        enabled: yes #<\n", "string"),
    # not a Kubernetes object
    "document-is-a-list": ("---\n- a #<\n- b\n", "mapping"),
    "document-is-a-string": ("---\njust a string #<\n", "mapping"),
    "object-without-kind": ("---\napiVersion: v1 #<\nmetadata: {name: x}\n", "kind"),
    "object-without-name": ("---\napiVersion: v1\nkind: Pod\nmetadata: #<\n  labels: {}\n", "name"),
}


def _write(tmp_path, name: str, text: str) -> tuple[str, int, int]:
    """Write the case and return (path, expected document number, expected 1-based line)."""
    lines = text.split("\n")
    marked = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith("#<")]
    assert len(marked) == 1, "a case marks exactly one line"
    path = tmp_path / name
    path.write_text(text)
    return str(path), text.count("---\n"), marked[0]


def _check_error(code: int, out: str, err: str, path: str, doc: int | None, line: int, fragment: str) -> None:
    assert code == 2, (code, err)
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    msg = lines[0]
    assert path in msg
    if doc is not None:
        assert f"document {doc}," in msg, msg
    assert re.search(rf"\bline {line}\b", msg), f"expected line {line}: {msg}"
    assert fragment.lower() in msg.lower(), msg


@pytest.mark.parametrize("name", sorted(CASES))
def test_rejected_like_the_api_server(name, tmp_path, capsys):
    body, fragment = CASES[name]
    text = "---\n" + GOOD_DOC + body  # the bad object is document 2, so the document number is checked
    path, doc, line = _write(tmp_path, "bad.yaml", text)
    code, out, err = run_cli(capsys, "matrix", "-f", path, "-o", "json")
    _check_error(code, out, err, path, doc, line, fragment)


@pytest.mark.parametrize("command", [["matrix"], ["get"], ["explain", "pod", "x"]])
def test_every_command_reports_bad_input_the_same_way(command, tmp_path, capsys):
    text = "---\n" + GOOD_DOC + CASES["cidr-invalid-prefix"][0]
    path, doc, line = _write(tmp_path, "bad.yaml", text)
    code, out, err = run_cli(capsys, *command, "-f", path)
    _check_error(code, out, err, path, doc, line, "CIDR")


@pytest.mark.parametrize("text, doc", [
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x: y #<\nspec: {}\n", 1),
    ("---\n" + GOOD_DOC + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n - bad #<\n", 2),
    ("---\n" + GOOD_DOC + "---\nkind: Pod\nmetadata: {name: @x} #<\n", 2),
    ("---\n" + GOOD_DOC + "---\nkind: Pod\nmetadata: {name: *nope} #<\n", 2),
    # an unclosed flow mapping is found where the next token is, as kubectl reports it too
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {app: web\nspec: {} #<\n", 1),
])
def test_yaml_syntax_error(text, doc, tmp_path, capsys):
    """A YAML syntax error: exit 2, file, document and the line of the problem."""
    lines = text.split("\n")
    marked = [i + 1 for i, ln in enumerate(lines) if ln.rstrip().endswith("#<")]
    path = tmp_path / "syntax.yaml"
    path.write_text(text)
    code, out, err = run_cli(capsys, "matrix", "-f", str(path))
    _check_error(code, out, err, str(path), doc, marked[0], "YAML")


def test_json_syntax_error(tmp_path, capsys):
    path = tmp_path / "x.json"
    path.write_text('{\n  "apiVersion": "v1",\n  "kind": "Pod",\n  "metadata": {"name": "x",}\n}\n')
    code, out, err = run_cli(capsys, "matrix", "-f", str(path))
    _check_error(code, out, err, str(path), 1, 4, "JSON")


def test_error_inside_a_list_item_names_the_item_line(tmp_path, capsys):
    """An invalid policy inside ``kind: List``: the line of the offending field inside the item."""
    doc = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "a"},
         "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "XTP"}]}]}},
    ]}
    text = json.dumps(doc, indent=2)
    line = next(i + 1 for i, ln in enumerate(text.split("\n")) if '"XTP"' in ln)
    path = tmp_path / "list.json"
    path.write_text(text)
    code, out, err = run_cli(capsys, "matrix", "-f", str(path))
    _check_error(code, out, err, str(path), 1, line, "XTP")


def test_list_item_not_an_object(tmp_path, capsys):
    path = tmp_path / "l.yaml"
    path.write_text("apiVersion: v1\nkind: List\nitems:\n- 42\n")
    code, _out, err = run_cli(capsys, "matrix", "-f", str(path))
    assert code == 2 and "Traceback" not in err and str(path) in err and len(err.strip().split("\n")) == 1


def test_missing_file(tmp_path, capsys):
    code, _out, err = run_cli(capsys, "matrix", "-f", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml" in err and "Traceback" not in err


def test_not_utf8(tmp_path, capsys):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    code, _out, err = run_cli(capsys, "matrix", "-f", str(path))
    assert code == 2 and str(path) in err and "Traceback" not in err

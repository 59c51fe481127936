"""Hostile and malformed inputs of issue 24, one test per finding; each failed before the fix.

Every case must end with a one-line error and exit 2 (bad input) or 3 (unreachable), never a traceback,
a hang or a silently different answer. The expected wording is the API server's or nft's where they have one.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from kubectl_microseg.cli import main
from kubectl_microseg.errors import InputError
from kubectl_microseg.nft.parse import parse_ruleset
from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401


def run(capsys, *argv: str) -> tuple[int, str, str]:
    old = signal.getsignal(signal.SIGPIPE)
    try:
        code = main(list(argv))
    finally:
        signal.signal(signal.SIGPIPE, old)
    out = capsys.readouterr()
    return code, out.out, out.err


def refused(capsys, *argv: str, code: int = 2) -> str:
    got, _out, err = run(capsys, *argv)
    assert got == code, (got, err)
    assert "Traceback" not in err and err.startswith("error: ") and err.count("\n") == 1, err
    return err


NS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"


def np(spec: str, meta: str = "  namespace: shop\n", top: str = "") -> str:
    return (NS + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web\n" + meta
            + top + "spec:\n" + "".join(f"  {ln}\n" for ln in spec.splitlines()))


def pod(extra: str = "", status: str = "", name: str = "web") -> str:
    return (f"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: shop\n  labels: {{app: web}}\n"
            f"spec:\n  containers: [{{name: c, image: x}}]\n{extra}{status}")


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


# ------------------------------------------------------------------------------- nft: jump loops
LOOP = {"nftables": [
    {"metainfo": {"json_schema_version": 1}},
    {"table": {"family": "inet", "name": "f", "handle": 1}},
    {"chain": {"family": "inet", "table": "f", "name": "input", "handle": 1, "type": "filter", "hook": "input",
               "prio": 0, "policy": "accept"}},
    {"chain": {"family": "inet", "table": "f", "name": "a", "handle": 2}},
    {"chain": {"family": "inet", "table": "f", "name": "b", "handle": 3}},
    {"rule": {"family": "inet", "table": "f", "chain": "input", "handle": 4, "expr": [{"jump": {"target": "a"}}]}},
    {"rule": {"family": "inet", "table": "f", "chain": "a", "handle": 5, "expr": [{"jump": {"target": "b"}}]}},
    {"rule": {"family": "inet", "table": "f", "chain": "b", "handle": 6, "expr": [{"goto": {"target": "a"}}]}}]}


@pytest.mark.parametrize("argv", [["nft", "matrix", "--ruleset", "{f}"], ["lint", "--ruleset", "{f}"],
                                  ["nft", "explain", "--ruleset", "{f}", "--from", "10.0.0.1", "--to", "10.0.0.2",
                                   "--port", "22"]])
def test_a_jump_loop_is_refused_naming_its_chains(tmp_path, capsys, argv) -> None:
    """nft refuses it at commit (nf_tables_check_loops: "Too many links"); the evaluator spun forever."""
    f = write(tmp_path, json.dumps(LOOP), "loop.json")
    err = refused(capsys, *[a.replace("{f}", f) for a in argv])
    assert "jump loop in table inet f: a -> b -> a" in err and f in err


def test_a_chain_jumping_to_itself_and_through_a_verdict_map(tmp_path) -> None:
    doc = json.loads(json.dumps(LOOP))
    doc["nftables"][-1]["rule"]["expr"] = [{"vmap": {"key": {"meta": {"key": "l4proto"}},
                                                     "data": {"set": [["tcp", {"jump": {"target": "b"}}]]}}}]
    with pytest.raises(InputError, match="b -> b"):
        parse_ruleset(doc)


# ------------------------------------------------------------------------- nft: what nft refuses
def _with(change) -> dict:
    doc = json.loads(json.dumps(LOOP))
    doc["nftables"] = doc["nftables"][:4] + [{"rule": {"family": "inet", "table": "f", "chain": "input",
                                                       "handle": 4, "expr": [{"accept": None}]}}]
    change(doc["nftables"])
    return doc


def _match(right) -> callable:
    def change(items: list) -> None:
        items[-1]["rule"]["expr"] = [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                                                "right": right}}, {"accept": None}]
    return change


def _addr(ln) -> callable:
    def change(items: list) -> None:
        items[-1]["rule"]["expr"] = [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                                                "right": {"prefix": {"addr": "10.0.0.0", "len": ln}}}}, {"drop": None}]
    return change


@pytest.mark.parametrize("change, words", [
    (lambda i: i[2]["chain"].update(policy="explode"), "unknown chain policy 'explode'"),
    (lambda i: i[1]["table"].pop("name"), "table without 'name'"),
    (lambda i: i.__setitem__(1, {"table": "f"}), "a table must be an object"),
    (lambda i: i[2]["chain"].pop("table"), "chain without 'table'"),
    (lambda i: i[-1]["rule"].pop("chain"), "rule without 'chain'"),
    (lambda i: i[-1]["rule"].update(handle={"tcp": {"bogus": 1}}), "rule handle must be a number"),
    (lambda i: i[0]["metainfo"].update(json_schema_version=99), "JSON schema version 99 is not supported"),
    (_match(99999), "exceeds the valid range 0-65535"),
    (_match({"range": [1024, 80]}), "zero or negative size"),
    (_addr(-300), "prefix length -300 is not between 0 and 32"),
    (_addr(-2 ** 63), "is not between 0 and 32"),
])
def test_json_that_nft_refuses_is_refused(change, words) -> None:
    """Each was analysed before (policy "explode" gave verdict allow) or crashed (AddressValueError,
    MemoryError, TypeError: unhashable)."""
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_ruleset(_with(change))


def test_json_duplicate_keys_and_nan_are_refused(tmp_path, capsys) -> None:
    """kubectl decodes JSON strictly (duplicate fields are errors; Go has no NaN); YAML duplicates were
    already refused."""
    f = write(tmp_path, '{"apiVersion": "v1", "kind": "Namespace",\n "metadata": {"name": "a"},\n "kind": "Pod"}',
              "d.json")
    assert 'line 3: JSON: duplicate key "kind" in one object' in refused(capsys, "matrix", "-f", f)
    f = write(tmp_path, '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "x": NaN}}', "n.json")
    assert "NaN is not a JSON number" in refused(capsys, "matrix", "-f", f)
    doc = json.dumps(LOOP).replace('"family": "inet", "name": "f"', '"family": "inet", "name": "f", "name": "g"', 1)
    f = write(tmp_path, doc, "r.json")
    assert 'duplicate key "name"' in refused(capsys, "nft", "matrix", "--ruleset", f)


def test_nft_apply_dry_run_checks_the_file_first(tmp_path, capsys) -> None:
    """A table without a name (KeyError) or given as a string (TypeError) crashed `nft apply --dry-run`."""
    doc = {"nftables": [{"table": {"family": "inet"}}]}
    f = write(tmp_path, json.dumps(doc), "t.json")
    assert "table without 'name'" in refused(capsys, "nft", "apply", f, "--dry-run")
    f = write(tmp_path, json.dumps({"nftables": [{"table": "inet"}]}), "s.json")
    assert "a table must be an object" in refused(capsys, "nft", "apply", f, "--dry-run")
    f = write(tmp_path, json.dumps(LOOP), "loop.json")
    assert "jump loop" in refused(capsys, "nft", "apply", f, "--dry-run")


def test_nft_apply_changes_cover_both_address_families() -> None:
    """With SSH_CONNECTION over IPv4, a ruleset dropping all IPv6 input reported "no connectivity changes"."""
    from kubectl_microseg.nft.simulate import change_lines, host_changes

    drop6 = {"nftables": [
        {"table": {"family": "inet", "name": "f"}},
        {"chain": {"family": "inet", "table": "f", "name": "input", "type": "filter", "hook": "input", "prio": 0,
                   "policy": "accept"}},
        {"rule": {"family": "inet", "table": "f", "chain": "input", "expr": [
            {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv6"}}, {"drop": None}]}}]}
    lines = change_lines(host_changes(parse_ruleset({"nftables": []}), parse_ruleset(drop6), "this host",
                                      ["127.0.0.1"]))
    assert lines == ["- everything else (IPv6) -> this host: ICMPV6, SCTP 1-65535, TCP 1-65535, UDP 1-65535 "
                     "becomes denied"]


# ------------------------------------------------------------------------------- nft includes
def test_nft_includes_outside_the_directory_and_non_files_are_refused(tmp_path, capsys, monkeypatch) -> None:
    """nft read /etc/shadow as root and echoed its lines; /dev/zero or a FIFO stalled 60 s, then exit 3."""
    f = write(tmp_path, 'include "/etc/passwd"\n', "a.nft")
    assert "a.nft, line 1: include '/etc/passwd' is outside the ruleset's directory" in refused(
        capsys, "nft", "matrix", "--ruleset", f)
    os.mkfifo(tmp_path / "fifo")
    f = write(tmp_path, 'flush ruleset\ninclude "fifo"\n', "b.nft")
    t0 = time.monotonic()
    assert "b.nft, line 2: include 'fifo' is not a regular file" in refused(capsys, "nft", "matrix", "--ruleset", f)
    monkeypatch.setenv("KUBECTL_MICROSEG_NFT_INCLUDE_ANYWHERE", "1")
    f = write(tmp_path, 'include "/dev/zero"\n', "c.nft")
    assert "include '/dev/zero' is not a regular file" in refused(capsys, "nft", "matrix", "--ruleset", f)
    assert time.monotonic() - t0 < 5


def test_an_error_in_an_included_file_names_that_file(tmp_path) -> None:
    from kubectl_microseg.plugins.nftables import nft_input_error

    err = nft_input_error(f"In file included from {tmp_path}/main.nft:4:1-30:\n{tmp_path}/rules.nft:2:11-15: "
                          "Error: Service out of range\n", str(tmp_path / "main.nft"))
    assert str(err).startswith(f"{tmp_path}/rules.nft, line 2: Service out of range")


# ------------------------------------------------------------------------------ Kubernetes objects
@pytest.mark.parametrize("status", [
    "status: {podIP: not-an-ip}\n", "status: {podIP: 7}\n", "status: {podIPs: [{ip: 10.0.0.300}]}\n",
    "status: {podIPs: [{ip: 'fe80::1%eth0'}]}\n"])
@pytest.mark.parametrize("argv", [["matrix"], ["get", "workloads"], ["lint"], ["matrix", "--ipblock-matches-pods"]])
def test_a_pod_ip_that_is_not_an_ip_is_bad_input(tmp_path, capsys, status, argv) -> None:
    """ValueError tracebacks in matrix, get, lint, explain before."""
    f = write(tmp_path, NS + pod(status=status))
    err = refused(capsys, *argv, "-f", f)
    assert "Pod web:" in err and "status.podIP" in err


def test_host_network_must_be_a_boolean(tmp_path, capsys) -> None:
    """`hostNetwork: "false"` (a string) was read as true: the pod was exempt from every policy."""
    f = write(tmp_path, NS + pod(extra='  hostNetwork: "false"\n'))
    assert "must be a boolean, not a string ('false') (at spec.hostNetwork)" in refused(capsys, "matrix", "-f", f)


@pytest.mark.parametrize("spec, meta, top, field", [
    ("podSelector: {}\ningress:\n- from:\n  - ipBlock: {cidr: 10.0.0.0/8, exept: [10.1.0.0/16]}", None, "",
     "spec.ingress[0].from[0].ipBlock.exept"),
    ("podSelector: {}\ningress:\n- ports:\n  - {protcol: UDP, port: 53}", None, "", "spec.ingress[0].ports[0].protcol"),
    ("podSelector:\n  matchExpressions:\n  - {key: app, operator: In, valuse: [a]}", None, "",
     "spec.podSelector.matchExpressions[0].valuse"),
    ("podSelector: {}", "  namspace: shop\n", "", "metadata.namspace"),
    ("podSelector: {}", None, "sepc: {}\n", "sepc"),
])
def test_misspelt_fields_are_refused(tmp_path, capsys, spec, meta, top, field) -> None:
    """kubectl's strict field validation (its default) refuses them; they were ignored (`namspace` put
    the policy in `default`)."""
    f = write(tmp_path, np(spec, meta if meta is not None else "  namespace: shop\n", top))
    err = refused(capsys, "matrix", "-f", f)
    assert "unknown field" in err and f"(at {field})" in err


def test_misspelt_field_in_anp_spec_is_refused(tmp_path, capsys) -> None:
    anp = ("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata:\n  name: a\n"
           "spec:\n  priority: 10\n  subject: {namespaces: {}}\n  ingres: []\n")
    assert "(at spec.ingres)" in refused(capsys, "matrix", "-f", write(tmp_path, anp))


# ----------------------------------------------------------------------------- validation parity
@pytest.mark.parametrize("spec, words", [
    ("podSelector: {matchLabels: {app: \"web\\n\"}}", "invalid label value"),
    ("podSelector: {matchLabels: {\"app\\n\": web}}", "invalid label key"),
    ("podSelector: {matchLabels: {/app: web}}", "prefix part must be non-empty"),
    ("podSelector: {}\ningress:\n- ports: [{port: \"http\\n\"}]", "invalid port name"),
    ("podSelector: {}\ningress:\n- from: [{ipBlock: {cidr: 10.0.0.0/255.0.0.0}}]", "must be a valid CIDR value"),
    ("podSelector: {}\ningress:\n- from: [{ipBlock: {cidr: \" 10.0.0.0/8 \"}}]", "must be a valid CIDR value"),
    ("podSelector: {}\ningress:\n- from: [{ipBlock: {cidr: \"fe80::%eth0/64\"}}]", "must be a valid CIDR value"),
    ("podSelector: {}\ningress:\n- from: [{ipBlock: {cidr: 10.0.0.1/24}}]",
     "must not have bits set beyond the prefix length"),
    ("podSelector: {}\ningress:\n- from: [{ipBlock: {cidr: 10.0.0.0/08}}]", "must not have leading 0s"),
    ("podSelector: {}\ningress:\n- from: [{ipBlock: {cidr: \"::ffff:10.0.0.0/104\"}}]", "IPv4-mapped IPv6"),
])
def test_accepted_though_the_api_server_refuses(tmp_path, capsys, spec, words) -> None:
    """apimachinery validation (regexes anchored at the very end; IsValidCIDRForLegacyField, strict)."""
    assert words in refused(capsys, "matrix", "-f", write(tmp_path, np(spec)))


def test_container_ports_are_validated(tmp_path, capsys) -> None:
    f = write(tmp_path, NS + pod(extra="").replace("image: x}", "image: x, ports: [{name: Http_, containerPort: 80}]}"))
    assert "invalid port name 'Http_'" in refused(capsys, "matrix", "-f", f)
    f = write(tmp_path, NS + pod(extra="").replace("image: x}", "image: x, ports: [{name: http, containerPort: 0}]}"))
    assert "must be between 1 and 65535" in refused(capsys, "matrix", "-f", f)


def test_invalid_object_names_are_warned_about(tmp_path, capsys) -> None:
    """Deliberately more lenient (docs/errors.md): analysis goes on, with a warning per object."""
    f = write(tmp_path, NS.replace("name: shop", "name: Shop_") + pod(name="Web_").replace("namespace: shop", "namespace: x"))
    code, _out, err = run(capsys, "matrix", "-f", f)
    assert code == 0
    assert "Namespace" in err and "'Shop_' is not a valid DNS-1123 label" in err
    assert "'Web_' is not a valid DNS subdomain" in err


def test_anp_networks_follow_the_crd_rules(tmp_path, capsys) -> None:
    def anp(nets: str) -> str:
        return ("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata:\n  name: a\n"
                "spec:\n  priority: 10\n  subject: {namespaces: {}}\n  egress:\n  - action: Deny\n"
                f"    to: [{{networks: {nets}}}]\n")
    assert "must not have bits set" in refused(capsys, "matrix", "-f", write(tmp_path, anp("[10.0.0.1/8]")))
    assert "must be a valid CIDR" in refused(capsys, "matrix", "-f", write(tmp_path, anp("['fe80::%eth0/64']")))
    many = "[" + ", ".join(f"10.{i}.0.0/16" for i in range(26)) + "]"
    assert "must have at most 25 items" in refused(capsys, "matrix", "-f", write(tmp_path, anp(many)))


def test_anp_empty_ports_is_refused(tmp_path, capsys) -> None:
    anp = ("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata:\n  name: a\n"
           "spec:\n  priority: 10\n  subject: {namespaces: {}}\n  ingress:\n  - action: Deny\n"
           "    from: [{namespaces: {}}]\n    ports: []\n")
    assert "must have at least 1 item" in refused(capsys, "matrix", "-f", write(tmp_path, anp))


@pytest.mark.parametrize("spec", [
    "podSelector: {}\ningress:\n- ports: [null]",
    "podSelector: {matchLabels: {app: null}}",
    "podSelector: {matchLabels: {day: 2024-01-01}}",
])
def test_refused_though_the_api_server_accepts(tmp_path, capsys, spec) -> None:
    """A null port is an empty NetworkPolicyPort (TCP, all ports); a null label value is ""; go-yaml reads
    an unquoted date as a string."""
    code, _out, err = run(capsys, "matrix", "-f", write(tmp_path, np(spec)), "-o", "json")
    assert code == 0, err


# ------------------------------------------------------------------------------------ -f DIR
def test_an_unreadable_subdirectory_is_an_error(tmp_path, capsys, monkeypatch) -> None:
    """kubectl apply -R says "permission denied"; the deny-all policy inside was skipped: 4 pairs, exit 0.
    (Tests run as root: the refusal of the kernel is injected.)"""
    (tmp_path / "ok.yaml").write_text(NS)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "deny.yaml").write_text(np("podSelector: {}"))
    real = os.scandir

    def scandir(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    err = refused(capsys, "matrix", "-f", str(tmp_path))
    assert f"{tmp_path}/locked: cannot read directory: permission denied" in err


def test_a_dangling_symlink_is_an_error(tmp_path, capsys) -> None:
    (tmp_path / "ok.yaml").write_text(NS)
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    assert "gone.yaml: no such file or directory" in refused(capsys, "matrix", "-f", str(tmp_path))


# ----------------------------------------------------------------------------- kubeconfig, server
def test_bad_base64_in_a_kubeconfig_is_bad_input(tmp_path, capsys, monkeypatch) -> None:
    """binascii.Error traceback before."""
    kc = tmp_path / "kc"
    kc.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: "
                  "'https://127.0.0.1:1', certificate-authority-data: '!!notbase64!!'}}]\n"
                  "users: [{name: c, user: {client-certificate-data: '%%%', client-key-data: '%%%'}}]\n"
                  "contexts: [{name: c, context: {cluster: c, user: c}}]\n")
    monkeypatch.setenv("KUBECONFIG", str(kc))
    assert 'invalid kubeconfig for context "c"' in refused(capsys, "matrix", "--request-timeout", "1s")


def test_a_reflected_authorization_header_is_redacted() -> None:
    """A proxy that echoes the request put `authorization: Bearer ...` on the terminal, whole and multi-line."""
    from kubernetes.client.exceptions import ApiException

    from kubectl_microseg.plugins.kube.failures import classify, unreachable

    exc = ApiException(status=502, reason="Bad Gateway")
    exc.body = ("<html>\n<pre>\nGET /api/v1/namespaces\nauthorization: Bearer sk-live-0123456789abcdefSECRET\n"
                "Cookie: session=abc123SECRET\n" + "x\n" * 400)
    msg = str(unreachable("https://127.0.0.1:6443", classify(exc)))
    assert "SECRET" not in msg and "authorization: [redacted]" in msg and "\n" not in msg and len(msg) < 300


def test_exec_plugin_stderr_is_bounded_and_redacted(tmp_path, capsys, monkeypatch) -> None:
    plugin = tmp_path / "plugin.sh"
    plugin.write_text("#!/bin/sh\necho 'token=hunter2hunter2 refresh failed' >&2\nfor i in $(seq 50); do echo line $i >&2; done\nexit 1\n")
    plugin.chmod(0o755)
    kc = tmp_path / "kc"
    kc.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: "
                  "'https://127.0.0.1:1'}}]\nusers: [{name: c, user: {exec: {apiVersion: "
                  f"client.authentication.k8s.io/v1beta1, command: {plugin}, interactiveMode: Never}}}}}}]\n"
                  "contexts: [{name: c, context: {cluster: c, user: c}}]\n")
    monkeypatch.setenv("KUBECONFIG", str(kc))
    code, _out, err = run(capsys, "matrix", "--request-timeout", "1s")
    assert code == 3 and "Traceback" not in err
    # the client logged the plugin's whole stderr (a token in it) through the root logger
    warning, error = err.splitlines()
    assert warning.startswith("warning: kubeconfig: exec: process returned 1. token=[redacted] refresh failed")
    assert "hunter2" not in err and "line 50" not in err and error.startswith("error: ")


@pytest.mark.parametrize("meta, words", [
    ("  namespace: shop\n  labels: {\"app\\n\": web}\n", "invalid label key"),
    ("  namespace: shop\n  annotations: {replicas: 3}\n", "annotation value must be a string"),
    ("  namespace: shop\n  annotations: {\"/x\": y}\n", "prefix part must be non-empty"),
])
def test_object_meta_of_a_policy_is_validated(tmp_path, capsys, meta, words) -> None:
    """ValidateObjectMeta (labels, annotations) holds for a NetworkPolicy too; its labels were not read."""
    assert words in refused(capsys, "matrix", "-f", write(tmp_path, np("podSelector: {}", meta)))

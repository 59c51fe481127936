"""Every entry of the input-error catalogue (docs/errors.md, built from tests/reliability/catalogue.py):
exit 2, exactly one line on stderr naming the file, the document and the line where known, nothing on
stdout, never a traceback, and the message exactly as documented."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .catalogue import BEGIN, DOC, E, END, Entry, named_file, normalise, run_entry

REPO = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("kubectl-microseg")


def _can_unshare() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nft"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="module")
def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_catalogue_is_large_and_ids_unique():
    ids = [e.id for e in E]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 100


@pytest.mark.parametrize("entry", E, ids=[e.id for e in E])
def test_catalogue_entry(entry: Entry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc_text: str) -> None:
    if entry.needs_root and not _can_unshare():
        pytest.skip("needs root and unshare -n (a scratch network namespace) to let nft check the file")
    if entry.setup is not None:
        entry.setup(monkeypatch)
    code, out, err = run_entry(entry, tmp_path)
    assert "Traceback" not in err, err
    assert code == 2, f"exit {code}: {err}"
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    msg = normalise(err, tmp_path)
    assert msg.startswith(f"error: {named_file(entry)}"), msg
    head = msg.split(": ", 2)[1] if msg.count(": ") >= 2 else msg
    if entry.document is not None:
        assert f"document {entry.document}" in msg, msg
    line = entry.expected_line()
    if line is not None:
        assert f"line {line}:" in msg, msg
    else:
        assert ", line " not in head, msg
    assert entry.keyword in msg, msg
    # the documentation shows exactly this message
    section = doc_text[doc_text.index(f"### `{entry.id}`"):]
    section = section[: section.find("\n### ", 1)]
    assert msg in section, f"docs/errors.md is stale for {entry.id}; run python -m tests.reliability.catalogue --write"


def test_document_has_every_entry_and_nothing_else(doc_text: str) -> None:
    body = doc_text[doc_text.index(BEGIN): doc_text.index(END)]
    documented = [ln.split("`")[1] for ln in body.splitlines() if ln.startswith("### `")]
    assert documented == [e.id for e in E]


def test_billion_laughs_is_refused_quickly_through_the_installed_command(tmp_path: Path) -> None:
    """A subprocess with the real entry point: refused in well under the time the expansion would take."""
    from .catalogue import BILLION_LAUGHS

    (tmp_path / "lol.yaml").write_text(BILLION_LAUGHS)
    t0 = time.monotonic()
    p = subprocess.run([str(EXE), "matrix", "-f", "lol.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 2 and "excessive YAML aliasing" in p.stderr and "Traceback" not in p.stderr
    assert time.monotonic() - t0 < 10


def test_deep_nesting_does_not_crash_the_process(tmp_path: Path) -> None:
    """libyaml's composer recurses in C: 40,000 levels would be a SIGSEGV without the depth check."""
    (tmp_path / "deep.yaml").write_text("x: " + "[" * 40000 + "]" * 40000 + "\n")
    (tmp_path / "deepblock.yaml").write_text("".join("  " * i + "- \n" for i in range(3000)) + "  " * 3000 + "x\n")
    for name in ("deep.yaml", "deepblock.yaml"):
        p = subprocess.run([str(EXE), "matrix", "-f", name], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
        assert p.returncode == 2, (name, p.returncode, p.stderr[-500:])
        assert "deeper than 1000" in p.stderr and "Traceback" not in p.stderr


def test_aliases_within_limits_are_fine(tmp_path: Path, capsys) -> None:
    """Anchors and merge keys that Kubernetes accepts are read normally."""
    from kubectl_microseg.cli import main

    (tmp_path / "a.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n"
        "  labels: &l {app: web}\nspec:\n  template:\n    metadata:\n      labels: *l\n"
        "    spec:\n      containers: [{name: c, ports: [{name: http, containerPort: 80}]}]\n"
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
        "spec:\n  podSelector: {matchLabels: &m {app: web}}\n  ingress:\n  - from: [{podSelector: {matchLabels: *m}}]\n"
        "    ports: [&p {port: http}, {<<: *p, protocol: TCP}]\n")
    assert main(["matrix", "-f", str(tmp_path / "a.yaml"), "-o", "json"]) == 0


def test_size_limit_on_stdin(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import io

    from kubectl_microseg.cli import main
    from kubectl_microseg.plugins import manifests

    monkeypatch.setattr(manifests, "MAX_FILE_BYTES", 100)
    fake = io.TextIOWrapper(io.BytesIO(b"# " + b"x" * 500 + b"\n"))
    monkeypatch.setattr(sys, "stdin", fake)
    assert main(["matrix", "-f", "-"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: -: more than 100 bytes, over the 100 bytes size limit"), err


def test_duplicates_are_a_note_and_the_later_one_wins(tmp_path: Path, capsys) -> None:
    """docs/errors.md "Not errors": like a second `kubectl apply` of the same name. The first policy
    allows nothing in; the second (same name, no namespace = default) allows everything: it must win."""
    import json

    from kubectl_microseg.cli import main

    base = ("apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {app: a}}\nspec: {containers: [{name: c}]}\n---\n"
            "apiVersion: v1\nkind: Pod\nmetadata: {name: b, labels: {app: b}}\nspec: {containers: [{name: c}]}\n")
    (tmp_path / "pods.yaml").write_text(base)
    (tmp_path / "deny.yaml").write_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, "
                                        "namespace: default}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n")
    (tmp_path / "allow.yaml").write_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
                                         "spec: {podSelector: {}, ingress: [{}]}\n")
    files = ["-f", str(tmp_path / "pods.yaml"), "-f", str(tmp_path / "deny.yaml"), "-f", str(tmp_path / "allow.yaml")]
    assert main(["matrix", *files, "-o", "json"]) == 0
    cap = capsys.readouterr()
    pairs = {(c["from"], c["to"]) for c in json.loads(cap.out)["connections"]}
    assert ("default/a", "default/b") in pairs
    assert "duplicate NetworkPolicy default/p" in cap.err and "replaces" in cap.err
    # and the other order denies
    assert main(["matrix", *files[:2], *files[4:], *files[2:4], "-o", "json"]) == 0
    pairs = {(c["from"], c["to"]) for c in json.loads(capsys.readouterr().out)["connections"]}
    assert ("default/a", "default/b") not in pairs


def test_duplicate_admin_policies_replace_each_other(tmp_path: Path) -> None:
    from kubectl_microseg.model.cluster import build_cluster
    from kubectl_microseg.plugins.manifests import ManifestSource

    anp = ("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: {kind}\nmetadata: {{name: {name}}}\n"
           "spec:\n  {prio}subject: {{namespaces: {{}}}}\n  ingress:\n  - {{action: {action}, from: [{{namespaces: {{}}}}]}}\n")
    text = "---\n".join([anp.format(kind="AdminNetworkPolicy", name="x", prio="priority: 5\n  ", action="Deny"),
                         anp.format(kind="AdminNetworkPolicy", name="x", prio="priority: 5\n  ", action="Allow"),
                         anp.format(kind="BaselineAdminNetworkPolicy", name="default", prio="", action="Deny"),
                         anp.format(kind="BaselineAdminNetworkPolicy", name="default", prio="", action="Allow")])
    (tmp_path / "a.yaml").write_text(text)
    cluster = build_cluster(ManifestSource([str(tmp_path / "a.yaml")]).load().objects)
    assert [(a.policy.name, a.policy.ingress[0].action) for a in cluster.admin_policies] == [("x", "Allow"), ("default", "Allow")]
    assert sum("duplicate" in n for n in cluster.notes) == 2


def test_objects_without_namespace_are_in_default(tmp_path: Path) -> None:
    from kubectl_microseg.model.cluster import build_cluster
    from kubectl_microseg.plugins.manifests import ManifestSource

    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n")
    cluster = build_cluster(ManifestSource([str(tmp_path / "a.yaml")]).load().objects)
    assert [w.id for w in cluster.workloads] == ["default/a"]
    assert "default" in cluster.namespaces

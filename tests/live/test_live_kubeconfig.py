"""Kubeconfig and context resolution the kubectl way (KUBECONFIG merging, --kubeconfig, --context, in-cluster)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from kubectl_microseg.errors import UnreachableError, UsageError
from kubectl_microseg.plugins.kube import KubeSource, config as kubeconf
from kubectl_microseg.plugins.kube.config import connect, kubeconfig_paths, parse_request_timeout, resolve_context
from tests.fakeapi import FakeApiServer, write_kubeconfig
from tests.live.helpers import FAST, ns


@pytest.fixture
def two_servers(isolated_kubeconfig: Path):
    with FakeApiServer() as a, FakeApiServer() as b:
        a.add(ns("from-a"))
        b.add(ns("from-b"))
        yield a, b


def test_first_file_to_set_current_context_wins(two_servers, isolated_kubeconfig: Path, monkeypatch) -> None:
    a, b = two_servers
    first = write_kubeconfig(isolated_kubeconfig / "first", a, context="ctx-a")
    second = write_kubeconfig(isolated_kubeconfig / "second", b, context="ctx-b")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), "", str(isolated_kubeconfig / "missing"),
                                                      str(second)]))
    snap = KubeSource(tuning=FAST).load()
    assert [o.name for o in snap.objects if o.kind == "Namespace"] == ["from-a"]
    assert snap.objects[0].origin.cluster == "ctx-a" and snap.description == "context ctx-a"
    assert a.requests and not b.requests
    # the trap this avoids: the client's own merger lets the *last* file's current-context win
    cfg = client.Configuration()
    config.load_kube_config(config_file=os.environ["KUBECONFIG"], client_configuration=cfg, persist_config=False)
    assert cfg.host == b.url


def test_context_flag_and_first_definition_wins(two_servers, isolated_kubeconfig: Path, monkeypatch) -> None:
    a, b = two_servers
    first = write_kubeconfig(isolated_kubeconfig / "first", a, context="ctx-a", extra_contexts={"shared": a.url})
    second = write_kubeconfig(isolated_kubeconfig / "second", b, context="ctx-b", extra_contexts={"shared": b.url})
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), str(second)]))
    assert KubeSource(context="ctx-b", tuning=FAST).load().description == "context ctx-b"
    assert b.requests
    shared = KubeSource(context="shared", tuning=FAST).connection
    assert shared.server == a.url  # the first file to define the name wins


def test_kubeconfig_flag_is_one_file_without_merging(two_servers, isolated_kubeconfig: Path, monkeypatch) -> None:
    a, b = two_servers
    first = write_kubeconfig(isolated_kubeconfig / "first", a, context="ctx-a")
    second = write_kubeconfig(isolated_kubeconfig / "second", b, context="ctx-b")
    monkeypatch.setenv("KUBECONFIG", str(first))
    assert KubeSource(kubeconfig=str(second), tuning=FAST).connection.server == b.url
    with pytest.raises(UsageError, match='context "ctx-a" does not exist'):
        _ = KubeSource(kubeconfig=str(second), context="ctx-a").connection
    with pytest.raises(UsageError, match="does not exist"):
        _ = KubeSource(kubeconfig=str(isolated_kubeconfig / "nope")).connection


def test_context_namespace_and_missing_current_context(isolated_kubeconfig: Path) -> None:
    path = write_kubeconfig(isolated_kubeconfig / "c", "http://127.0.0.1:1", context="x", namespace="team")
    assert connect(str(path)).namespace == "team"
    bare = write_kubeconfig(isolated_kubeconfig / "d", "http://127.0.0.1:1", context="x", current=False)
    with pytest.raises(UsageError, match="no context is set"):
        connect(str(bare))
    assert resolve_context([bare], "x")[0] == "x"


def test_no_kubeconfig_at_all_is_unreachable_like_kubectl(isolated_kubeconfig: Path) -> None:
    assert kubeconfig_paths(None) == []
    with pytest.raises(UnreachableError, match="localhost:8080 was refused") as info:
        connect()
    assert info.value.exit_code == 3


def test_in_cluster_config_when_no_kubeconfig(isolated_kubeconfig: Path, monkeypatch) -> None:
    sa = isolated_kubeconfig / "sa"
    sa.mkdir()
    (sa / "token").write_text("in-cluster-token")
    (sa / "namespace").write_text("apps\n")
    (sa / "ca.crt").write_text("not a real CA")
    monkeypatch.setattr(kubeconf, "SERVICE_ACCOUNT_DIR", sa)
    from kubernetes.config import incluster_config
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(sa / "ca.crt"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    conn = connect()
    assert (conn.context, conn.namespace, conn.server) == ("in-cluster", "apps", "https://10.96.0.1:443")


def test_kubeconfig_is_never_written_and_tokens_never_shown(fake_api, isolated_kubeconfig: Path,
                                                           monkeypatch, capsys) -> None:
    path = write_kubeconfig(isolated_kubeconfig / "k", fake_api, token="s3cr3t-token")
    before = path.read_bytes()
    monkeypatch.setenv("KUBECONFIG", str(path))
    KubeSource(tuning=FAST).load()
    assert path.read_bytes() == before
    cfg = yaml.safe_load(before)
    cfg["contexts"][0]["context"]["cluster"] = "no-such-cluster"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(UsageError) as info:
        KubeSource().load()
    assert "s3cr3t" not in str(info.value)
    out = capsys.readouterr()
    assert "s3cr3t" not in out.out + out.err


@pytest.mark.parametrize("text,seconds", [(None, None), ("", None), ("0", 0.0), ("5", 5.0), ("10s", 10.0),
                                          ("1m30s", 90.0), ("1.5h", 5400.0), ("250ms", 0.25)])
def test_request_timeout_kubectl_syntax(text, seconds) -> None:
    assert parse_request_timeout(text) == seconds


@pytest.mark.parametrize("text", ["abc", "10x", "-1s", "1 m", "s"])
def test_request_timeout_rejects_bad_values(text) -> None:
    with pytest.raises(UsageError, match="invalid timeout value"):
        parse_request_timeout(text)


def test_namespace_and_all_namespaces_conflict() -> None:
    with pytest.raises(UsageError):
        KubeSource(namespace="a", all_namespaces=True)

"""A live matrix equals the matrix of the same objects given as files (the demo cluster, end to end).

The demo manifests are loaded into the fake API server; ``kubectl microseg`` then runs once against the
live cluster (the real client, over HTTP, through the kube source) and once with ``-f`` on the files.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from kubectl_microseg.cli import main
from tests.fakeapi import FakeApiServer

DEMO = Path(__file__).resolve().parents[2] / "kubectl_microseg" / "demo" / "cluster"


@pytest.fixture
def demo_cluster(fake_api: FakeApiServer, fake_kubeconfig) -> FakeApiServer:
    fake_api.load_yaml(*(p.read_text() for p in sorted(DEMO.glob("*.yaml"))))
    return fake_api


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process. main() resets SIGPIPE to the default (right for a CLI, fatal for a test
    process whose fake server writes to closed sockets), so the test's handler is restored after."""
    old = signal.getsignal(signal.SIGPIPE)
    try:
        code = main(list(argv))
    finally:
        signal.signal(signal.SIGPIPE, old)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("extra", [[], ["-n", "production"], ["--no-external"]])
def test_live_matrix_equals_file_matrix(demo_cluster: FakeApiServer, capsys, extra: list[str]) -> None:
    code_live, live, err_live = run_cli(capsys, "matrix", "-o", "json", *extra)
    code_files, files, _ = run_cli(capsys, "-f", str(DEMO), "matrix", "-o", "json", *extra)
    assert (code_live, code_files) == (0, 0), err_live
    assert json.loads(live) == json.loads(files)
    assert len(json.loads(live)["connections"]) > 5  # a real matrix, not two empty ones
    assert demo_cluster.requests_matching(verb="list", resource="networkpolicies")


def test_live_table_matches_files_except_the_title(demo_cluster: FakeApiServer, capsys) -> None:
    _, live, _ = run_cli(capsys, "matrix")
    _, files, _ = run_cli(capsys, "-f", str(DEMO), "matrix")
    assert "context fake" in live
    strip = lambda text: [line for line in text.splitlines() if "connectivity (" not in line]  # noqa: E731
    assert strip(live) == strip(files)


def test_live_matrix_follows_a_change_like_the_files_would(demo_cluster: FakeApiServer, capsys, tmp_path) -> None:
    """Deleting a policy on the server and deleting it from the files give the same matrix again."""
    victim = next(o for o in demo_cluster.objects("NetworkPolicy"))
    demo_cluster.delete("networking.k8s.io/v1", "NetworkPolicy", victim["metadata"]["name"],
                        victim["metadata"]["namespace"])
    import yaml
    docs = list(demo_cluster.objects())
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(docs))
    _, live, _ = run_cli(capsys, "matrix", "-o", "json")
    _, files, _ = run_cli(capsys, "-f", str(tmp_path / "all.yaml"), "matrix", "-o", "json")
    _, before, _ = run_cli(capsys, "-f", str(DEMO), "matrix", "-o", "json")
    assert json.loads(live) == json.loads(files) != json.loads(before)


def test_unreachable_server_exits_3_with_kubectl_wording(isolated_kubeconfig, monkeypatch, capsys) -> None:
    import socket

    from tests.fakeapi import write_kubeconfig
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = write_kubeconfig(isolated_kubeconfig / "k", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("KUBECONFIG", str(path))
    code, out, err = run_cli(capsys, "matrix")
    assert code == 3 and out == ""
    assert err.strip() == (f"error: The connection to the server 127.0.0.1:{port} was refused - did you specify "
                           "the right host or port?")

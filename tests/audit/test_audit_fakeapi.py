"""``audit --watch`` against the fake API server: a real server-side apply names its field manager."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest
import yaml

from kubectl_microseg.cli import build_parser, main
from tests.audit.helpers import API_FROM_WEB, BASE, netpol
from tests.fakeapi import FakeApiServer
from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401 - fixtures


def server_side_apply(server: FakeApiServer, obj: dict, manager: str) -> dict:
    meta = obj["metadata"]
    url = (f"{server.url}/apis/networking.k8s.io/v1/namespaces/{meta['namespace']}/networkpolicies/{meta['name']}"
           f"?fieldManager={manager}&force=true")
    req = urllib.request.Request(url, data=yaml.safe_dump(obj).encode(), method="PATCH",
                                 headers={"Content-Type": "application/apply-patch+yaml"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def test_watch_reports_server_side_apply_with_manager_and_diff(fake_api, fake_kubeconfig, tmp_path,  # noqa: F811
                                                              capsys) -> None:
    fake_api.add(*BASE)
    log = tmp_path / "audit.jsonl"
    result: dict = {}
    args = build_parser().parse_args(["audit", "--watch", "--count", "1", "--timeout", "20", "--log", str(log),
                                      "-o", "json", "--request-timeout", "5s"])
    # main() installs a signal handler, which only the main thread may do: run the command function
    cmd = threading.Thread(target=lambda: result.setdefault("code", args.func(args)))
    cmd.start()
    assert fake_api.wait_for_watches(1, resource="networkpolicies", timeout=10), "audit never started watching"
    stored = server_side_apply(fake_api, netpol("api", "shop", {"app": "api"}, API_FROM_WEB), "ci-pipeline")
    assert stored["metadata"]["managedFields"][0]["manager"] == "ci-pipeline"
    cmd.join(25)
    assert not cmd.is_alive() and result["code"] == 0
    lines = capsys.readouterr().out.splitlines()
    doc = json.loads(lines[-1])
    assert doc["type"] == "ADDED" and doc["object"]["name"] == "api"
    assert doc["changedBy"]["lastWriter"]["manager"] == "ci-pipeline"
    assert doc["changedBy"]["lastWriter"]["operation"] == "Apply"
    assert [(p["from"], p["to"]) for p in doc["connectivity"]["added"]] == [("shop/web", "shop/api")]
    assert json.loads(log.read_text().splitlines()[0]) == doc


def test_watch_refuses_offline_sources(capsys) -> None:
    assert main(["audit", "--watch", "--demo"]) == 2
    assert "live cluster" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_list_demo_policies(fmt: str, capsys) -> None:
    assert main(["audit", "--demo", "-o", fmt]) == 0
    out = capsys.readouterr().out
    assert "monitoring" in out and "grafana" in out

"""``lint`` on the live source (the fake API server): objects are named by cluster, annotations explain rules."""

from __future__ import annotations

import json

from kubectl_microseg.cli import main
from tests.audit.helpers import API_FROM_WEB, BASE, netpol
from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401 - fixtures


def test_lint_live_cluster(fake_api, fake_kubeconfig, capsys) -> None:  # noqa: F811
    fake_api.add(*BASE, netpol("api", "shop", {"app": "api"}, API_FROM_WEB),
                 netpol("web", "shop", {"app": "web"}, API_FROM_WEB, annotations={"microseg.io/why": "self"}),
                 netpol("typo", "shop", {"app": "apii"}))
    code = main(["lint", "-o", "json", "--no-ignore-file", "--fail-on", "warning", "--request-timeout", "5s"])
    doc = json.loads(capsys.readouterr().out)
    got = [(f["rule"], f["object"], f["location"]) for f in doc["findings"]]
    assert code == 1
    assert ("MS004", "NetworkPolicy shop/typo", {"cluster": "fake"}) in got
    assert doc["findings"][[g[1] for g in got].index("NetworkPolicy shop/typo")]["fix"] == "did you mean app=api?"
    explained = [(r, o) for r, o, _ in got if r == "MS013"]
    assert explained == [("MS013", "NetworkPolicy shop/api")]  # shop/web has an annotation; live: no comments

"""Server-side dry run of scaffolded policies against the fake API server (real HTTP, real client).

The fake server checks identity fields only (not NetworkPolicy semantics; those are the engine's
validation, tested elsewhere); this proves the files, read the way Kubernetes reads YAML (1.1), are
accepted by the real client and API protocol as they are.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client, config

from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401

from .helpers import run_cli


def test_scaffolded_policies_pass_a_server_side_dry_run(fake_api, fake_kubeconfig: Path, capsys) -> None:  # noqa: F811
    code, out, _ = run_cli(capsys, "--demo", "scaffold", "tiers", "frontend -> api:8080 -> postgresql:5432,redis:6379",
                           "-n", "production", "--impact", "none")
    assert code == 0
    code, zone, _ = run_cli(capsys, "--demo", "scaffold", "zone", "tier=api", "-n", "production", "--impact", "none")
    assert code == 0
    api = client.NetworkingV1Api(config.new_client_from_config(str(fake_kubeconfig)))
    docs = [d for d in yaml.safe_load_all(out + zone) if d]
    assert len(docs) == 5
    for doc in docs:
        made = api.create_namespaced_network_policy(doc["metadata"]["namespace"], doc, dry_run="All")
        assert made.metadata.name == doc["metadata"]["name"]
    # the YAML 1.1 look-alike came through as the string "on", not the boolean true
    assert made.spec.pod_selector.match_labels == {"tier": "api"}
    assert len(fake_api.requests_matching(verb="create", resource="networkpolicies")) == 5

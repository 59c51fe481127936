"""``probe`` against the fake API server: ephemeral containers, exec over the real WebSocket protocol, the
comparison with the model, the likely causes, failures, cleanup and Ctrl-C.

The network behind exec is simulated (conftest ``Network``): a Cilium 1.14 that ignores endPort.
"""

from __future__ import annotations

import _thread
import json
import threading
import time
from pathlib import Path

import pytest

from kubectl_microseg.cli import main
from tests.fakeapi.podexec import ephemeral_state


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def probe_containers(api, ns: str = "shop") -> dict[str, list[tuple[str, str | None]]]:
    out = {}
    for pod in api.objects("Pod"):
        if pod["metadata"]["namespace"] != ns:
            continue
        names = [c["name"] for c in pod["spec"].get("ephemeralContainers") or []]
        out[pod["metadata"]["name"]] = [(n, ephemeral_state(pod, n)) for n in names]
    return out


def test_without_yes_nothing_is_created_and_the_plan_is_printed(cluster, network, capsys):
    code, out, _ = run(capsys, "probe", "-n", "shop", "--image", "nicolaka/netshoot")
    assert code == 0
    assert "nothing was run or created" in out
    assert "allow shop/frontend -> shop/api TCP/8080" in out
    assert "nc -z -v -w 3 10.244.1.20 8080" in out
    assert not cluster.requests_matching(resource="pods/ephemeralcontainers")
    assert not cluster.runtime.calls


def test_yes_needs_a_way_to_probe(cluster, network, capsys):
    code, _, err = run(capsys, "probe", "-n", "shop", "--yes")
    assert code == 2 and "--image IMAGE" in err


def test_ephemeral_containers_probe_compare_and_clean_up(cluster, network, capsys):
    code, out, _err = run(capsys, "probe", "-n", "shop", "--image", "nicolaka/netshoot", "--yes", "-o", "json")
    report = json.loads(out)
    assert report["cni"] == ["Cilium v1.14.5"]
    rows = {(r["from"], r["to"], r["port"]): r for r in report["results"]}
    # frontend -> api:8080 allowed by the model (named port http = 8080) and connected
    r = rows[("shop/frontend", "shop/api", 8080)]
    assert (r["model"], r["network"], r["outcome"], r["agree"]) == ("allow", "allow", "connected", True)
    # api -> db:5433 is inside the endPort range: the model allows, Cilium 1.14 drops
    r = rows[("shop/api", "shop/db", 5433)]
    assert (r["model"], r["network"], r["agree"]) == ("allow", "deny", False)
    assert any("Cilium does not implement endPort" in c for c in r["causes"])
    # db -> frontend:80: denied by both
    r = rows[("shop/db", "shop/frontend", 80)]
    assert (r["model"], r["network"], r["outcome"], r["agree"]) == ("deny", "deny", "blocked", True)
    assert report["disagreed"] == 1 and code == 1
    # one ephemeral container per source pod, created through the subresource, then ended
    patches = cluster.requests_matching(verb="patch", resource="pods/ephemeralcontainers")
    assert len(patches) == 3
    assert all(p.headers["Content-Type"].startswith("application/strategic-merge-patch+json") for p in patches)
    states = probe_containers(cluster)
    assert all(len(v) == 1 and v[0][1] == "terminated" for v in states.values()), states
    # every probe ran in the probe container, over the channel protocol the client prefers
    probes = [c for c in cluster.runtime.calls if c.command[0] == "timeout"]
    assert probes and all(c.ephemeral and c.container.startswith("microseg-probe-") for c in probes)
    assert {c.protocol for c in probes} == {"v5.channel.k8s.io"}
    assert report["cleanup"] == []


def test_text_output_names_the_disagreement_and_its_cause(cluster, network, capsys):
    code, out, _ = run(capsys, "probe", "--from", "shop/api", "--to", "shop/db", "--image", "netshoot", "--yes")
    assert code == 1
    assert "DISAGREE  allow  deny     shop/api -> shop/db TCP/5433" in out
    assert "AGREE     allow  allow    shop/api -> shop/db TCP/5432" in out
    assert "likely cause: Cilium does not implement endPort" in out
    assert "model: shop/api-to-db ingress rule 1" in out or "model:" in out
    assert "1 agree, 1 disagree, 0 unknown" in out


def test_exec_mode_runs_in_the_pods_container_and_creates_nothing(cluster, network, capsys):
    code, out, _ = run(capsys, "probe", "--from", "frontend", "--to", "api", "--port", "http", "--exec", "--yes",
                       "--dns", "-o", "json")
    report = json.loads(out)
    assert code == 0, report
    assert [(r["kind"], r["port"], r["agree"]) for r in report["results"]] == [("pod", 8080, True), ("dns", 53, True)]
    assert not cluster.requests_matching(resource="pods/ephemeralcontainers")
    assert {(c.pod, c.container, c.ephemeral) for c in cluster.runtime.calls} == {("frontend", "web", False)}


def test_external_egress_probe_is_judged_by_the_model(cluster, network, capsys):
    network.open.add(("frontend", "203.0.113.10", 443))
    network.listening.add(("203.0.113.10", 443))
    code, out, _ = run(capsys, "probe", "--from", "frontend", "--to", "api", "--port", "8080", "--exec", "--yes",
                       "--external", "203.0.113.10:443", "-o", "json")
    ext = next(r for r in json.loads(out)["results"] if r["kind"] == "external")
    # default-deny egress: the model denies, the network let it through -> a disagreement, exit 1
    assert (ext["model"], ext["network"], ext["agree"]) == ("deny", "allow", False)
    assert code == 1


def test_refused_means_the_network_let_it_through(cluster, network, capsys):
    network.open.add(("db", IPS_API, 9999))
    code, out, _ = run(capsys, "probe", "--from", "db", "--to", "api", "--port", "9999", "--exec", "--yes",
                       "-o", "json")
    r = json.loads(out)["results"][0]
    assert (r["outcome"], r["network"], r["model"], r["agree"]) == ("refused", "allow", "deny", False)
    assert code == 1


IPS_API = "10.244.1.20"


def test_image_that_cannot_be_pulled_is_a_clear_error(cluster, network, capsys):
    cluster.runtime.failing_images["no/such-image"] = "ErrImagePull"
    code, _, err = run(capsys, "probe", "--from", "frontend", "--to", "api", "--image", "no/such-image", "--yes",
                       "--ready-timeout", "5")
    assert code == 2
    assert "no/such-image cannot run in pod shop/frontend: ErrImagePull" in err
    assert "Traceback" not in err


def test_forbidden_ephemeral_containers_exit_3(cluster, network, capsys):
    cluster.rbac.deny("patch", "pods/ephemeralcontainers")
    code, _, err = run(capsys, "probe", "--from", "frontend", "--to", "api", "--image", "netshoot", "--yes")
    assert code == 3
    assert "cannot add an ephemeral container to pod shop/frontend" in err and "forbidden" in err


def test_forbidden_exec_is_reported_per_cell_and_exit_3(cluster, network, capsys):
    cluster.rbac.deny("create", "pods/exec")
    code, out, err = run(capsys, "probe", "--from", "frontend", "--to", "api", "--exec", "--yes", "-o", "json")
    r = json.loads(out)["results"][0]
    assert r["outcome"] == "error" and "exec refused" in r["detail"]
    assert code == 3 and "no probe could be run" in err


def test_missing_tools_in_the_image_are_named(cluster, network, capsys):
    network.missing_tools = True
    _code, out, _ = run(capsys, "probe", "--from", "frontend", "--to", "api", "--image", "distroless", "--yes",
                       "-o", "json")
    r = json.loads(out)["results"][0]
    assert r["outcome"] == "error" and "probe tool is missing" in r["detail"]
    assert probe_containers(cluster)["frontend"][0][1] == "terminated"


def test_concurrency_limit_is_respected(cluster, network, capsys):
    running, peak, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def slow(call):
        if call.command[0] != "timeout":
            return
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(0.15)
        with lock:
            running[0] -= 1

    network.on_exec = slow
    _code, out, _ = run(capsys, "probe", "-n", "shop", "--exec", "--yes", "--concurrency", "2", "-o", "json")
    assert len(json.loads(out)["results"]) >= 4
    assert peak[0] == 2


def test_ctrl_c_cancels_and_still_cleans_up(cluster, network, capsys):
    seen = []

    def interrupt(call):
        if call.command[0] == "timeout":
            seen.append(call)
            if len(seen) == 1:
                _thread.interrupt_main()  # the user presses Ctrl-C while the first probe runs
            time.sleep(0.3)

    network.on_exec = interrupt
    code, _, err = run(capsys, "probe", "-n", "shop", "--image", "netshoot", "--yes", "--concurrency", "1")
    assert code == 130 and "interrupted" in err
    states = probe_containers(cluster)
    created = [s for v in states.values() for s in v]
    assert created and all(state == "terminated" for _, state in created), states
    assert len(seen) <= 2  # the remaining probes (8 in all) were cancelled


def test_unknown_source_is_a_usage_error(cluster, network, capsys):
    code, _, err = run(capsys, "probe", "--from", "nope", "--to", "api", "--exec", "--yes")
    assert code == 2 and "no pod or workload named 'nope'" in err


@pytest.mark.parametrize("flows,expected", [
    ("flows:\n  - {from: shop/frontend, to: shop/api, port: http}\n  - {from: 10.0.0.1, to: shop/api, port: 80}\n",
     ["shop/frontend -> shop/api TCP/8080"]),
])
def test_flows_file_cells(cluster, network, capsys, tmp_path, flows, expected):
    f = tmp_path / "flows.yaml"
    f.write_text(flows)
    code, out, _ = run(capsys, "probe", "--flows", str(f), "--image", "x")
    assert code == 0
    for e in expected:
        assert e in out
    assert "not probed, the source is outside the cluster" in out


def test_probe_works_under_the_view_and_probe_roles_alone(cluster, network, capsys):
    import yaml as _yaml

    from tests.fakeapi import Rule

    docs = {d["metadata"]["name"]: d for d in _yaml.safe_load_all(Path("deploy/rbac.yaml").read_text())
            if d and d["kind"] == "ClusterRole"}
    rules = [Rule(v, r, None) for name in ("microseg-view", "microseg-probe") for rule in docs[name]["rules"]
             for r in rule["resources"] for v in rule["verbs"]]
    cluster.rbac.restrict(*rules)
    code, out, err = run(capsys, "probe", "--from", "frontend", "--to", "api", "--image", "netshoot", "--yes")
    assert code == 0, err
    assert "1 agree, 0 disagree" in out
    assert probe_containers(cluster)["frontend"][0][1] == "terminated"
    cluster.rbac.restrict(*[r for r in rules if r.resource != "pods/ephemeralcontainers"])
    code, _, err = run(capsys, "probe", "--from", "frontend", "--to", "api", "--image", "netshoot", "--yes")
    assert code == 3 and "forbidden" in err


def test_sample_of_class_pairs_is_bounded_and_reproducible(cluster, network, capsys):
    # 5 running pods with an IP, 5 classes (the cilium agent is hostNetwork and declares no port: a source only)
    code, out, _ = run(capsys, "probe", "--sample", "--image", "x", "-o", "json")
    cells = json.loads(out)["cells"]
    assert code == 0 and len(cells) == 20  # 5 sources x (1 + 1 + 2 + 1 declared ports of the other 4 classes)
    assert not any(c["from"] == c["to"] for c in cells)
    code, out, _ = run(capsys, "probe", "--sample", "--max-cells", "7", "--seed", "3", "--image", "x", "-o", "json")
    first = json.loads(out)
    code, out, _ = run(capsys, "probe", "--sample", "--max-cells", "7", "--seed", "3", "--image", "x", "-o", "json")
    assert len(first["cells"]) == 7 and json.loads(out)["cells"] == first["cells"]
    assert "sampled 7 of them" in " ".join(first["notes"])


def test_external_target_must_be_an_address(cluster, network, capsys):
    code, _, err = run(capsys, "probe", "-n", "shop", "--exec", "--external", "api.github.com:443")
    assert code == 2 and "expected ADDRESS:PORT" in err

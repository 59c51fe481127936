"""Workloads (endpoints of the matrix) and the manifests source.

Citations:
- [Contract-WL] shared/CONTRACT.md, "matrix -o json": a Deployment, StatefulSet, DaemonSet, ReplicaSet,
  ReplicationController, Job or CronJob stands for its pods (one endpoint, kind as written); a bare Pod
  is its own endpoint; a Pod stands under its controlling owner (the ownerReference with
  controller: true, kind and name as written), climbing ReplicaSet -> Deployment and Job -> CronJob
  where the input holds the intermediate owner.
- [README-3] shared/conformance/README.md convention 3: an ownerReference without ``kind`` gives an
  endpoint of kind Pod named after the owner.
- [Contract-Src] CONTRACT.md, entry points: -f reads YAML or JSON files, multi-document YAML, a
  ``kind: List``, or a directory recursively; unknown kinds are skipped with a note (issue 2, item 3).
- [API-List] Kubernetes API conventions: typed lists (PodList, ...) hold items of that kind, often
  without their own ``kind``.
"""

from __future__ import annotations

import json

import pytest

from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.manifests import ManifestSource, parse_text

from .util import ALL, NONE, cluster_of, conns, matrix, netpol, run_cli, tcp

TEMPLATE = """
    metadata: {labels: {app: %s}}
    spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}"""


def workload(kind: str, name: str, api: str = "apps/v1") -> str:
    tmpl = TEMPLATE % name
    if kind == "CronJob":
        spec = f"  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:{_indent(tmpl, 4)}"
    else:
        spec = f"  template:{tmpl}"
    return f"---\napiVersion: {api}\nkind: {kind}\nmetadata: {{name: {name}, namespace: ns}}\nspec:\n{spec}\n"


def _indent(text: str, n: int) -> str:
    return "\n".join((" " * n + line) if line.strip() else line for line in text.split("\n"))


KINDS = [("Deployment", "apps/v1"), ("StatefulSet", "apps/v1"), ("DaemonSet", "apps/v1"),
         ("ReplicaSet", "apps/v1"), ("ReplicationController", "v1"), ("Job", "batch/v1"), ("CronJob", "batch/v1")]


@pytest.mark.parametrize("kind, api", KINDS)
def test_every_workload_kind_stands_for_its_pod_template(kind, api):
    """[Contract-WL] each kind is one endpoint with its template's labels and named ports."""
    text = workload(kind, "w", api) + workload("Deployment", "client") + netpol(
        "p", "podSelector: {matchLabels: {app: w}}\ningress:\n- from: [{podSelector: {matchLabels: {app: client}}}]\n"
             "  ports: [{port: http}]", "ns")
    m = matrix(text)
    ep = m.endpoint("ns/w")
    assert (ep.kind, ep.namespace, ep.name, dict(ep.labels)) == (kind, "ns", "w", {"app": "w"})
    assert conns(m, "ns/client", "ns/w") == tcp(8080)


def owned_pod(name: str, owner_kind: str | None, owner: str, labels: str = "{app: web}", controller: bool = True) -> str:
    kind = f"kind: {owner_kind}, " if owner_kind else ""
    return (f"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: ns\n  labels: {labels}\n"
            f"  ownerReferences: [{{apiVersion: apps/v1, {kind}name: {owner}, uid: u, controller: {str(controller).lower()}}}]\n"
            "spec: {containers: [{name: c, image: x}]}\n")


def owned(kind: str, name: str, owner_kind: str, owner: str, api: str = "apps/v1") -> str:
    return (f"---\napiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: ns\n"
            f"  ownerReferences: [{{apiVersion: {api}, kind: {owner_kind}, name: {owner}, uid: u, controller: true}}]\n"
            f"spec:\n  template:{TEMPLATE % 'web'}\n")


def ids(text: str) -> dict[str, str]:
    return {w.id: w.kind for w in cluster_of(text).workloads}


def test_pods_stand_under_owner_not_in_input():
    """[Contract-WL] the controlling ownerReference names the owner even when it is absent."""
    text = owned_pod("web-abc-1", "ReplicaSet", "web-abc") + owned_pod("web-abc-2", "ReplicaSet", "web-abc")
    assert ids(text) == {"ns/web-abc": "ReplicaSet"}
    w = cluster_of(text).workloads[0]
    assert sorted(w.pods) == ["web-abc-1", "web-abc-2"]


def test_pods_climb_replicaset_to_deployment():
    """[Contract-WL] Pod -> ReplicaSet (in the input) -> Deployment: the pod stands under the Deployment."""
    text = owned_pod("web-abc-1", "ReplicaSet", "web-abc") + owned("ReplicaSet", "web-abc", "Deployment", "web")
    assert ids(text) == {"ns/web": "Deployment"}
    text2 = text + workload("Deployment", "web").replace("namespace: ns", "namespace: ns")
    assert ids(text2) == {"ns/web": "Deployment"}


def test_pods_climb_job_to_cronjob():
    """[Contract-WL] Pod -> Job (in the input) -> CronJob."""
    text = owned_pod("etl-1-x", "Job", "etl-1") + owned("Job", "etl-1", "CronJob", "etl", "batch/v1")
    assert ids(text) == {"ns/etl": "CronJob"}
    assert ids(owned_pod("etl-1-x", "Job", "etl-1")) == {"ns/etl-1": "Job"}


def test_replicaset_owned_by_deployment_without_pods():
    """[Contract-WL] a ReplicaSet owned by a Deployment stands under it (no duplicate endpoint)."""
    text = owned("ReplicaSet", "web-abc", "Deployment", "web") + workload("Deployment", "web")
    assert ids(text) == {"ns/web": "Deployment"}


def test_owner_reference_without_kind():
    """[README-3] an ownerReference without kind: endpoint named after the owner, kind Pod."""
    assert ids(owned_pod("x-1", None, "x")) == {"ns/x": "Pod"}


def test_non_controller_owner_reference_gives_bare_pod():
    """[Contract-WL] only the ownerReference with controller: true counts."""
    assert ids(owned_pod("x-1", "ReplicaSet", "x", controller=False)) == {"ns/x-1": "Pod"}


def test_bare_pod():
    assert ids(owned_pod("x-1", "ReplicaSet", "x").replace("  ownerReferences", "  finalizers")) == {"ns/x-1": "Pod"}


def test_pods_of_one_owner_keep_their_own_labels():
    """Pods of one owner with different labels: each pod is matched by its own labels; the workload's
    labels are those they share."""
    text = (owned_pod("web-1", "ReplicaSet", "web", "{app: web, canary: 'yes'}")
            + owned_pod("web-2", "ReplicaSet", "web", "{app: web}")
            + workload("Deployment", "client")
            + netpol("p", "podSelector: {matchLabels: {canary: 'yes'}}\ningress: []", "ns"))
    m = matrix(text)
    assert dict(m.endpoint("ns/web").labels) == {"app": "web"}
    assert conns(m, "ns/client", "ns/web") == ALL  # web-2 is open
    assert m.cells[("ns/client", "ns/web")].partial


# -- the manifests source -----------------------------------------------------------------------
POD_LIST = {
    "apiVersion": "v1", "kind": "PodList",
    "items": [{"metadata": {"name": "p1", "namespace": "ns", "labels": {"app": "p1"}},
               "spec": {"containers": [{"name": "c", "image": "x"}]}}],
}


def test_kind_list_and_typed_list(tmp_path):
    """[Contract-Src] kind: List; [API-List] PodList items without kind are Pods."""
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        POD_LIST,
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "ns"},
         "spec": {"template": {"metadata": {"labels": {"app": "d"}}, "spec": {}}}},
    ]})
    cl = build_cluster(parse_text(text, "list.json"))
    assert {w.id: w.kind for w in cl.workloads} == {"ns/p1": "Pod", "ns/d": "Deployment"}


def test_directory_recursive_json_and_multidoc_yaml(tmp_path, capsys):
    """[Contract-Src] a directory is read recursively: *.yaml, *.yml, *.json; other files ignored."""
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "pods.json").write_text(json.dumps(POD_LIST))
    (tmp_path / "sub" / "multi.yaml").write_text(workload("Deployment", "a") + workload("StatefulSet", "b"))
    (tmp_path / "sub" / "deeper" / "np.yml").write_text(netpol("deny", "podSelector: {}", "ns"))
    (tmp_path / "README.md").write_text("not a manifest: {")
    (tmp_path / "notes.txt").write_text("{{{")
    code, out, err = run_cli(capsys, "matrix", "-f", str(tmp_path), "-o", "json")
    assert code == 0, err
    doc = json.loads(out)
    wl = {e["id"]: e["kind"] for e in doc["endpoints"] if e["kind"] != "External"}
    assert wl == {"ns/p1": "Pod", "ns/a": "Deployment", "ns/b": "StatefulSet"}
    assert not [c for c in doc["connections"] if c["to"] in wl]  # the deny policy from np.yml applies


def test_several_f_options(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text(workload("Deployment", "a"))
    (tmp_path / "b.json").write_text(json.dumps(POD_LIST))
    code, out, err = run_cli(capsys, "matrix", "-f", str(tmp_path / "a.yaml"), "-f", str(tmp_path / "b.json"), "-o", "json")
    assert code == 0, err
    assert {"ns/a", "ns/p1"} <= {e["id"] for e in json.loads(out)["endpoints"]}


def test_unknown_kinds_are_skipped_with_a_note(tmp_path, capsys):
    """[Contract-Src] an unknown kind is not an error: it is skipped and a note says so."""
    (tmp_path / "x.yaml").write_text(workload("Deployment", "a")
                                     + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    code, out, err = run_cli(capsys, "matrix", "-f", str(tmp_path), "-o", "json")
    assert code == 0
    assert "Widget" in err and "note" in err
    assert "Widget" in " ".join(json.loads(out).get("notes", []))


def test_empty_documents_are_ignored():
    cl = build_cluster(parse_text("---\n---\n" + workload("Deployment", "a") + "---\n", "x.yaml"))
    assert [w.id for w in cl.workloads] == ["ns/a"]


def test_object_origin_names_file_document_and_line():
    objs = parse_text(workload("Deployment", "a") + workload("Deployment", "b"), "x.yaml")
    assert [(o.origin.file, o.origin.document) for o in objs] == [("x.yaml", 1), ("x.yaml", 2)]
    assert objs[1].line_of(("spec", "template")) == 14


def test_manifest_source_snapshot(tmp_path):
    (tmp_path / "a.yaml").write_text(workload("Deployment", "a"))
    snap = ManifestSource([str(tmp_path)]).load()
    assert [o.name for o in snap.objects] == ["a"]


def test_skipped_kinds_are_counted():
    """The note counts every skipped object, also NetworkPolicies of an API group the tool does not read."""
    from kubectl_microseg.model.objects import SourceObject

    objs = [SourceObject({"apiVersion": "extensions/v1beta1", "kind": "NetworkPolicy", "metadata": {"name": f"n{i}"},
                          "spec": {}}) for i in range(3)]
    objs += [SourceObject({"apiVersion": "x/v1", "kind": "Widget", "metadata": {"name": f"w{i}"}}) for i in range(2)]
    (note,) = build_cluster(objs).notes
    assert "NetworkPolicy (extensions/v1beta1) (3)" in note and "Widget (2)" in note


# -- one name, two workloads; one pod of a workload whose pods differ -------------------------------
CLASH = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: nginx, namespace: b}
spec: {template: {metadata: {labels: {app: nginx}}, spec: {containers: [{name: c, image: nginx}]}}}
---
apiVersion: v1
kind: Pod
metadata: {name: nginx, namespace: b, labels: {run: nginx}}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-nginx, namespace: b}
spec: {podSelector: {matchLabels: {app: nginx}}, ingress: []}
"""


def test_a_workload_and_a_bare_pod_of_one_name_stay_two_endpoints(capsys, tmp_path):
    """[Contract-WL] each workload is one endpoint, kind as written: `kubectl run nginx` beside a
    Deployment nginx is a second endpoint, not a pod of the Deployment. Their ids name the kind."""
    m = matrix(CLASH)
    ids = {e.id for e in m.endpoints if not e.is_external}
    assert ids == {"b/nginx[Deployment]", "b/nginx[Pod]"}
    assert conns(m, "b/nginx[Pod]", "b/nginx[Deployment]") == NONE  # the Deployment's pods are isolated
    assert conns(m, "b/nginx[Deployment]", "b/nginx[Pod]") == ALL
    f = tmp_path / "c.yaml"
    f.write_text(CLASH)
    code, _, err = run_cli(capsys, "explain", "pod", "nginx", "-n", "b", "-f", str(f))
    assert code == 2 and "ambiguous" in err and "b/nginx[Pod]" in err
    code, out, _ = run_cli(capsys, "explain", "pod", "b/nginx[Deployment]", "-f", str(f))
    assert code == 0 and "ingress: isolated by b/deny-nginx" in out


MIXED = """
apiVersion: v1
kind: Pod
metadata:
  name: rs-1
  namespace: a
  labels: {role: a}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, controller: true, uid: x}]
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: rs-2
  namespace: a
  labels: {role: b}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, controller: true, uid: x}]
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: src, namespace: a, labels: {app: src}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec: {podSelector: {matchLabels: {role: b}}, ingress: []}
"""


def test_explain_and_test_of_one_pod_answer_for_that_pod(capsys, tmp_path):
    """A workload whose pods differ is partly allowed in the matrix; `explain pod POD` and a flow to POD
    answer for that pod alone (its class), and a named port resolves on that pod's containers."""
    m = matrix(MIXED)
    assert conns(m, "a/src", "a/rs") == ALL and m.cells[("a/src", "a/rs")].partial
    f = tmp_path / "m.yaml"
    f.write_text(MIXED)
    code, out, _ = run_cli(capsys, "explain", "pod", "rs-2", "-n", "a", "--from", "src", "--port", "80", "-f", str(f))
    assert code == 0 and "DENY" in out and "isolated by a/p" in out
    code, out, _ = run_cli(capsys, "explain", "pod", "rs-1", "-n", "a", "--from", "src", "--port", "80", "-f", str(f))
    assert code == 0 and "ALLOW" in out
    flows = tmp_path / "flows.yaml"
    flows.write_text("flows:\n"
                     "  - {from: a/src, to: a/rs-2, port: http, expect: deny}\n"
                     "  - {from: a/src, to: a/rs-1, port: http, expect: allow}\n")
    code, out, _ = run_cli(capsys, "test", str(flows), "-f", str(f), "-o", "json")
    doc = json.loads(out)
    assert code == 0 and doc["failed"] == 0, doc
    assert [r["port"] for r in doc["results"]] == ["http", "http"]

"""Write a generated cluster as one ``kubectl get -o yaml`` / ``-o json`` dump: the shape people keep.

Every object gets what the API server adds and kubectl prints: uid, resourceVersion, creationTimestamp,
generation, a ``kubectl.kubernetes.io/last-applied-configuration`` annotation, managedFields (FieldsV1 of
the applier and the controllers), a defaulted spec (pods: node, volumes, tolerations, probes) and a status
(conditions, containerStatuses, podIP(s), hostIP(s)). Keys are sorted and block sequences not indented, as
kubectl's YAML printer (sigs.k8s.io/yaml over go-yaml) writes them.

    python benchmarks/dump.py M /tmp/dump-M.yaml          # or .json
    python benchmarks/dump.py --bench S M [--runs 3]       # whole-process matrix: YAML dump vs JSON dump

The JSON dump of ``--bench`` is indented as ``kubectl get -o json`` writes it, except where that would pass
the 64 MiB input limit (size M): then it is compact.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import SIZES, namespace, pod, policies, workload

try:
    from yaml import CSafeDumper as Dumper
except ImportError:  # pragma: no cover
    from yaml import SafeDumper as Dumper  # type: ignore[assignment]

STAMP = "2026-11-30T09:14:{:02d}Z"


def fields_v1(obj: Any) -> Any:
    """The FieldsV1 set of an object: every mapping key as ``f:key``, list items by ``k:``/``v:``/``i:``."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {".": {}} if obj else {}
        for k, v in obj.items():
            out[f"f:{k}"] = fields_v1(v)
        return out
    if isinstance(obj, list):
        out = {".": {}}
        for i, v in enumerate(obj):
            key = json.dumps({"name": v["name"]}, separators=(",", ":")) if isinstance(v, dict) and "name" in v else str(i)
            out[f"k:{key}" if isinstance(v, dict) and "name" in v else f"i:{i}"] = fields_v1(v)
        return out
    return {}


def decorate(obj: dict, r: random.Random, seq: int) -> dict:
    """``obj`` as the API server returns it."""
    applied = copy.deepcopy(obj)
    out = copy.deepcopy(obj)
    meta = out["metadata"]
    meta.update({"uid": f"{r.getrandbits(32):08x}-{r.getrandbits(16):04x}-4{r.getrandbits(12):03x}-a{r.getrandbits(12):03x}-{r.getrandbits(48):012x}",
                 "resourceVersion": str(100000 + seq), "creationTimestamp": STAMP.format(seq % 60), "generation": 1})
    kind = out["kind"]
    managers = [{"apiVersion": out["apiVersion"], "fieldsType": "FieldsV1", "manager": "kubectl-client-side-apply",
                 "operation": "Update", "time": STAMP.format(seq % 60)}]
    if kind != "Pod":
        meta.setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = \
            json.dumps(applied, separators=(",", ":"), sort_keys=True) + "\n"
    spec = out.get("spec")
    if kind in ("Deployment", "StatefulSet", "Pod"):
        pod_spec = spec if kind == "Pod" else spec["template"]["spec"]
        pod_spec.update({"dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                         "securityContext": {}, "terminationGracePeriodSeconds": 30})
        for c in pod_spec["containers"]:
            c.update({"imagePullPolicy": "IfNotPresent", "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                      "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                      "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": c["ports"][0]["containerPort"], "scheme": "HTTP"},
                                         "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1}})
            for p in c["ports"]:
                p.setdefault("protocol", "TCP")
    if kind in ("Deployment", "StatefulSet"):
        spec.update({"revisionHistoryLimit": 10, "progressDeadlineSeconds": 600} if kind == "Deployment" else
                    {"revisionHistoryLimit": 10, "podManagementPolicy": "OrderedReady", "serviceName": meta["name"]})
        conds = [{"lastTransitionTime": STAMP.format(seq % 60), "lastUpdateTime": STAMP.format(seq % 60), "message": m,
                  "reason": why, "status": "True", "type": t} for t, why, m in (
            ("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            ("Progressing", "NewReplicaSetAvailable", f'ReplicaSet "{meta["name"]}-7d4b9c8f6" has successfully progressed.'))]
        n = spec.get("replicas", 1)
        out["status"] = {"availableReplicas": n, "conditions": conds, "observedGeneration": 1, "readyReplicas": n,
                         "replicas": n, "updatedReplicas": n}
        managers.append({"apiVersion": out["apiVersion"], "fieldsType": "FieldsV1", "manager": "kube-controller-manager",
                         "operation": "Update", "subresource": "status", "time": STAMP.format(seq % 60),
                         "fieldsV1": fields_v1({"status": out["status"]})})
    if kind == "Pod":
        node = f"node-{seq % 50:02d}"
        host = f"192.168.{seq % 50 // 250}.{seq % 50 + 10}"
        spec.update({"nodeName": node, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
                     "serviceAccountName": "default", "serviceAccount": "default",
                     "tolerations": [{"effect": "NoExecute", "key": f"node.kubernetes.io/{t}", "operator": "Exists",
                                      "tolerationSeconds": 300} for t in ("not-ready", "unreachable")],
                     "volumes": [{"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
                         {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                         {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                         {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}]}}]})
        for c in spec["containers"]:
            c["volumeMounts"] = [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-x7k2p", "readOnly": True}]
        ip = out.pop("status")["podIP"]
        conds = [{"lastProbeTime": None, "lastTransitionTime": STAMP.format(seq % 60), "status": "True", "type": t}
                 for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
        out["status"] = {"conditions": conds, "containerStatuses": [{
            "containerID": f"containerd://{r.getrandbits(128):032x}{r.getrandbits(128):032x}", "image": c["image"],
            "imageID": f"{c['image']}@sha256:{r.getrandbits(128):032x}{r.getrandbits(128):032x}", "lastState": {},
            "name": c["name"], "ready": True, "restartCount": 0, "started": True,
            "state": {"running": {"startedAt": STAMP.format(seq % 60)}}} for c in spec["containers"]],
            "hostIP": host, "hostIPs": [{"ip": host}], "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "qosClass": "Burstable", "startTime": STAMP.format(seq % 60)}
        meta["generateName"] = meta["name"].rsplit("-", 1)[0] + "-"
        managers[0]["manager"] = "kube-controller-manager"
        managers.append({"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kubelet", "operation": "Update",
                         "subresource": "status", "time": STAMP.format(seq % 60), "fieldsV1": fields_v1({"status": out["status"]})})
    managers[0]["fieldsV1"] = fields_v1({k: v for k, v in applied.items() if k not in ("apiVersion", "kind")})
    meta["managedFields"] = managers
    return out


def objects(size: str, seed: int = 1, counts: dict[str, int] | None = None) -> list[dict]:
    """The generated cluster of ``size`` (with its Pods), as the API server returns it."""
    n_ns, per_ns, replicas, n_pol = SIZES[size]
    r = random.Random(seed)
    plain: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}]
    dns = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coredns", "namespace": "kube-system"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}}, "spec": {"containers": [
                        {"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.12.0",
                         "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                   {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}]}]}}}}
    plain += [dns, *(pod(dns, k) for k in range(2))]
    for i in range(n_ns):
        ns_obj = namespace(i, r)
        ns = ns_obj["metadata"]["name"]
        plain.append(ns_obj)
        for j in range(per_ns):
            w = workload(ns, j, ns_obj["metadata"]["labels"]["team"], replicas)
            plain.append(w)
            plain.extend(pod(w, k) for k in range(replicas))
        plain.extend(policies(ns, i, n_pol, r))
    if counts is not None:
        for o in plain:
            counts[o["kind"]] = counts.get(o["kind"], 0) + 1
    return [decorate(o, r, n) for n, o in enumerate(plain)]


def write_dump(size: str, path: str, seed: int = 1) -> int:
    """Write the dump (YAML or JSON by the file's extension); return its size in bytes."""
    dump = {"apiVersion": "v1", "items": objects(size, seed), "kind": "List", "metadata": {"resourceVersion": ""}}
    if path.endswith(".json"):
        text = json.dumps(dump, indent=4, sort_keys=True) + "\n"
    else:
        text = yaml.dump(dump, Dumper=Dumper, default_flow_style=False, sort_keys=True, width=1 << 30, allow_unicode=True)
    Path(path).write_text(text)
    return len(text.encode())


def bench(size: str, runs: int, work: str) -> dict[str, Any]:
    """Whole-process ``matrix -f DUMP -o json`` on the YAML and the JSON dump: ranges of wall and CPU
    seconds, peak RSS; the two outputs must be equal."""
    from run import cli_process

    row: dict[str, Any] = {"size": size}
    outputs = {}
    for ext in ("yaml", "json"):
        path = f"{work}/dump-{size}.{ext}"
        row[f"{ext}_bytes"] = write_dump(size, path)
        if row[f"{ext}_bytes"] > 64 << 20:
            dump = {"apiVersion": "v1", "items": objects(size), "kind": "List", "metadata": {"resourceVersion": ""}}
            Path(path).write_text(json.dumps(dump, sort_keys=True))
            row[f"{ext}_bytes"] = Path(path).stat().st_size
        rs = [cli_process(["matrix", "-f", path, "-o", "json"]) for _ in range(runs)]
        outputs[ext] = rs[0][3]
        row[f"{ext}_wall"] = [round(min(r[0] for r in rs), 2), round(max(r[0] for r in rs), 2)]
        row[f"{ext}_cpu"] = [round(min(r[1] for r in rs), 2), round(max(r[1] for r in rs), 2)]
        row[f"{ext}_rss_mib"] = round(max(r[2] for r in rs))
    if outputs["yaml"] != outputs["json"]:
        raise RuntimeError("the YAML dump and the JSON dump give different matrices")
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", nargs="+", metavar="SIZE", choices=sorted(SIZES))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("size", nargs="?", choices=sorted(SIZES))
    ap.add_argument("path", nargs="?", help="*.yaml or *.json")
    args = ap.parse_args(argv)
    if args.bench:
        with tempfile.TemporaryDirectory(prefix="microseg-dump-") as work:
            for size in args.bench:
                print(json.dumps(bench(size, args.runs, work)), flush=True)
        return 0
    if not (args.size and args.path):
        ap.error("SIZE and PATH, or --bench SIZE...")
    print(write_dump(args.size, args.path))
    return 0


if __name__ == "__main__":
    sys.exit(main())

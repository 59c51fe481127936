"""CONTRACT.md: "Only workload controllers group pods: a Pod whose controlling owner is a Node (the mirror
pod of a static pod: etcd, kube-apiserver, kube-scheduler on kubeadm clusters) is its own endpoint
(`kind: Pod`)." """

from __future__ import annotations

from .util import cluster_of

MIRROR = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}-node-1
  namespace: kube-system
  labels: {{component: {name}, tier: control-plane}}
  ownerReferences: [{{apiVersion: v1, kind: Node, name: node-1, controller: true, uid: "1"}}]
spec: {{hostNetwork: true, containers: [{{name: c}}]}}
---
"""


def test_mirror_pods_are_their_own_endpoints():
    text = "".join(MIRROR.format(name=n) for n in ("etcd", "kube-apiserver", "kube-scheduler")) + """
apiVersion: v1
kind: Pod
metadata:
  name: web-abc
  namespace: kube-system
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web, controller: true, uid: "2"}]
spec: {containers: [{name: c}]}
"""
    ws = {w.id: w for w in cluster_of(text).workloads}
    assert sorted(ws) == ["kube-system/etcd-node-1", "kube-system/kube-apiserver-node-1",
                          "kube-system/kube-scheduler-node-1", "kube-system/web"]
    assert all(ws[i].kind == "Pod" and ws[i].pods == [i.split("/")[1]] for i in ws if "node-1" in i)
    assert ws["kube-system/web"].kind == "ReplicaSet"  # a workload controller still groups its pods

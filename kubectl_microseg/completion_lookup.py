"""Provides the names that completion offers for values: namespaces, pods, endpoints, contexts.

They come from the source the typed options choose, as the command itself would: the model of
``-f``/``--demo`` (read with the real sources), or else the live cluster through ``kubectl get``
(with the typed ``--kubeconfig``, ``--context`` and ``-n``, a short timeout, and nothing at all when
kubectl is missing or the cluster does not answer: completion never waits long or fails loudly).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from functools import cached_property

from .errors import MicrosegError

TIMEOUT_SECONDS = 4.0
"""Longest wait for one ``kubectl get`` (the API server is asked for 3s)."""

_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController",
                   "Job", "CronJob")
_NAMES = '{range .items[*]}{.metadata.name}{"\\n"}{end}'
_NS_NAMES = '{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}'


class Lookup:
    """Names for completion, read lazily from the model or the live cluster.

    Args:
        values: the option values typed so far (argparse dests: filename, demo, kubeconfig, context,
            namespace).
    """

    def __init__(self, values: dict[str, object]):
        self.values = values

    @property
    def offline(self) -> bool:
        """True when the typed options choose files or the demo rather than the cluster."""
        return bool(self.values.get("filename") or self.values.get("demo"))

    @property
    def namespace(self) -> str | None:
        value = self.values.get("namespace")
        return str(value) if value else None

    def namespaces(self) -> list[str]:
        """Namespace names."""
        if self.offline:
            names = {o["namespace"] for o in self._objects if o["namespace"]}
            names |= {o["name"] for o in self._objects if o["kind"] == "Namespace"}
            return sorted(names)
        return self._kubectl("get", "namespaces", "-o", f"jsonpath={_NAMES}")

    def pods(self) -> list[str]:
        """Pod names in the typed namespace (kubectl's default namespace on a live cluster).

        In the model, pods mostly stand under their workloads, so workload names are offered too; with
        no namespace typed they are given as ``namespace/name`` (the form ``explain`` accepts).
        """
        if self.offline:
            kinds = ("Pod", *_WORKLOAD_KINDS)
            found = [o for o in self._objects if o["kind"] in kinds and o["namespace"] and self._in_namespace(o)]
            if self.namespace:
                return sorted({o["name"] for o in found})
            return sorted({f"{o['namespace']}/{o['name']}" for o in found})
        return self._kubectl("get", "pods", *self._ns_args(), "-o", f"jsonpath={_NAMES}")

    def endpoints(self) -> list[str]:
        """Endpoint ids (``namespace/name``): workloads and pods that no controller owns."""
        if self.offline:
            return sorted({f"{o['namespace']}/{o['name']}" for o in self._objects
                           if o["kind"] in ("Pod", *_WORKLOAD_KINDS) and not o["owned"]
                           and o["namespace"] and self._in_namespace(o)})
        kinds = "deployments,statefulsets,daemonsets,cronjobs,pods"
        scope = self._ns_args() or ["--all-namespaces"]
        return self._kubectl("get", kinds, *scope, "-o", f"jsonpath={_NS_NAMES}")

    def contexts(self) -> list[str]:
        """Context names of the kubeconfig."""
        return self._kubectl("config", "get-contexts", "-o", "name", cluster=False)

    def _in_namespace(self, obj: dict) -> bool:
        return self.namespace is None or obj["namespace"] == self.namespace

    def _ns_args(self) -> list[str]:
        return ["--namespace", self.namespace] if self.namespace else []

    @cached_property
    def _objects(self) -> list[dict]:
        """kind, namespace, name and whether a controller owns it, for every object of -f/--demo."""
        from .load import load_snapshot

        args = argparse.Namespace(filename=self.values.get("filename"), demo=bool(self.values.get("demo")))
        if isinstance(args.filename, str):
            args.filename = [args.filename]
        try:
            objects = load_snapshot(args).objects
        except (MicrosegError, OSError, ValueError):
            return []
        out = []
        for obj in objects:
            owners = (obj.raw.get("metadata") or {}).get("ownerReferences") or []
            owned = any(isinstance(o, dict) and o.get("controller") for o in owners)
            out.append({"kind": obj.kind, "namespace": obj.namespace, "name": obj.name, "owned": owned})
        return out

    def _kubectl(self, *args: str, cluster: bool = True) -> list[str]:
        """Lines printed by ``kubectl ARGS`` with the typed kubeconfig/context ([] on any failure)."""
        kubectl = os.environ.get("KUBECTL_MICROSEG_KUBECTL") or shutil.which("kubectl")
        if not kubectl:
            return []
        cmd = [kubectl, *args]
        if self.values.get("kubeconfig"):
            cmd += ["--kubeconfig", str(self.values["kubeconfig"])]
        if self.values.get("context"):
            cmd += ["--context", str(self.values["context"])]
        if cluster:
            cmd += ["--request-timeout", "3s"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                                  stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return []
        if proc.returncode != 0:
            return []
        return sorted({line.strip() for line in proc.stdout.splitlines() if line.strip()})

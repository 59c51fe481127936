"""The live Kubernetes source (entry point ``kube``): list and watch a cluster with the official client.

Modules: ``config`` (kubeconfig and context the kubectl way, request timeouts), ``kinds`` (what is read
and the client calls), ``listing`` (pagination, retries, tuning), ``gather`` (initial load and 403
fallbacks), ``watching`` (watch threads, 410 re-list, back-off, STATE events), ``failures``
(classification and kubectl-like wording), ``source`` (KubeSource).
"""

from .listing import Tuning
from .source import KubeSource

__all__ = ["KubeSource", "Tuning"]

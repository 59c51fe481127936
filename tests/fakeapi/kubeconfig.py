"""Provides write_kubeconfig: a kubeconfig file pointing at a FakeApiServer (or any URL)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml


def write_kubeconfig(path: str | Path, server: Any, *, context: str = "fake", namespace: str | None = None,
                     token: str | None = None, current: bool = True,
                     extra_contexts: dict[str, str] | None = None) -> Path:
    """Write a kubeconfig with one cluster/user/context for ``server`` (a FakeApiServer or a URL).

    Args:
        path: where to write it.
        server: a started FakeApiServer, or a server URL string.
        context: the context (and cluster and user) name.
        namespace: the context's default namespace, if any.
        token: bearer token for the user (defaults to the server's ``token``, if it has one).
        current: set ``current-context`` to this context.
        extra_contexts: more contexts, name -> server URL, each with its own cluster and user.

    Returns:
        The path written.
    """
    url = server if isinstance(server, str) else server.url
    tok = token if token is not None else getattr(server, "token", None)
    contexts = {context: url, **(extra_contexts or {})}
    cfg: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "preferences": {},
                           "clusters": [], "users": [], "contexts": []}
    for name, u in contexts.items():
        cluster: dict[str, Any] = {"server": u}
        ca = getattr(server, "ca_pem", None)
        if ca and u == url:
            cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
        cfg["clusters"].append({"name": name, "cluster": cluster})
        cfg["users"].append({"name": name, "user": {"token": tok} if tok else {}})
        ctx: dict[str, Any] = {"cluster": name, "user": name}
        if namespace and name == context:
            ctx["namespace"] = namespace
        cfg["contexts"].append({"name": name, "context": ctx})
    if current:
        cfg["current-context"] = context
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p

"""Provides server-side apply of NetworkPolicies, with a server-side dry run, for ``kubectl microseg apply``.

Every write is a server-side apply (``PATCH`` with ``application/apply-patch+yaml``) under the field
manager ``kubectl-microseg``, so applying the same files again changes nothing (the server compares the
applied configuration with what this manager owns). ``dry_run=True`` sends ``dryRun=All``: the server runs
admission and validation and answers with the object it would store, and persists nothing.

Whether an object was created, configured or left unchanged is decided by comparing what the server
answered with what was there before (a GET first): the spec, labels and annotations.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .config import Connection
from .failures import CLIENT_ERRORS, classify, status_message, unreachable
from .listing import read_json

FIELD_MANAGER = "kubectl-microseg"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
SERVER_SET_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")
IGNORED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

CREATED, CONFIGURED, UNCHANGED = "created", "configured", "unchanged"


class ApplyFailed(Exception):
    """One request failed: the server's message and whether the server could be reached at all."""

    def __init__(self, message: str, *, unreachable: bool = False, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.unreachable = unreachable
        self.status = status


@dataclass(frozen=True)
class Outcome:
    """What one apply did (or, in a dry run, would do) to one object."""

    namespace: str
    name: str
    action: str
    """created, configured or unchanged."""
    dry_run: bool = False

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


def apply_body(raw: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The object to send: the manifest with its namespace set and server-set fields removed."""
    body = copy.deepcopy(raw)
    body.pop("status", None)
    meta = body.setdefault("metadata", {})
    meta["namespace"] = namespace
    for key in SERVER_SET_METADATA:
        meta.pop(key, None)
    return body


def _essence(obj: dict[str, Any] | None) -> Any:
    """What decides 'unchanged': spec, labels, annotations (minus kubectl bookkeeping)."""
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    ann = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in IGNORED_ANNOTATIONS}
    return {"spec": obj.get("spec") or {}, "labels": meta.get("labels") or {}, "annotations": ann}


class PolicyApplier:
    """Reads and server-side applies NetworkPolicies over one connection."""

    def __init__(self, conn: Connection, *, force: bool = False, timeout: Any = None,
                 field_manager: str = FIELD_MANAGER):
        self.conn = conn
        self.api = client.NetworkingV1Api(api_client=conn.api_client)
        self.force = force
        self.timeout = timeout
        self.field_manager = field_manager

    def _fail(self, exc: BaseException, what: str) -> ApplyFailed:
        """An ApplyFailed for a client exception: 4xx answers are refusals, the rest unreachability."""
        if isinstance(exc, ApiException) and exc.status and 400 <= int(exc.status) < 500:
            return ApplyFailed(f"{what}: {status_message(exc.body) or exc.reason} (HTTP {exc.status})",
                               status=int(exc.status))
        failure = classify(exc)
        if isinstance(exc, ApiException) and failure.status:
            return ApplyFailed(f"{what}: {failure.message} (HTTP {failure.status})", unreachable=True,
                               status=failure.status)
        return ApplyFailed(f"{what}: {unreachable(self.conn.server, failure)}", unreachable=True)

    def current(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The object as stored now, or None when it does not exist."""
        try:
            resp = self.api.read_namespaced_network_policy(name, namespace, _preload_content=False,
                                                           _request_timeout=self.timeout)
            return read_json(resp)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise self._fail(exc, f"reading NetworkPolicy {namespace}/{name}") from None
        except CLIENT_ERRORS as exc:
            raise self._fail(exc, f"reading NetworkPolicy {namespace}/{name}") from None

    def apply(self, body: dict[str, Any], *, dry_run: bool) -> Outcome:
        """Server-side apply one policy (``dryRun=All`` when ``dry_run``); raises ApplyFailed."""
        meta = body["metadata"]
        ns, name = meta["namespace"], meta["name"]
        before = self.current(ns, name)
        kw: dict[str, Any] = {"field_manager": self.field_manager, "_content_type": APPLY_CONTENT_TYPE,
                              "_preload_content": False, "_request_timeout": self.timeout}
        if self.force:
            kw["force"] = True
        if dry_run:
            kw["dry_run"] = "All"
        what = f"{'server-side dry run of' if dry_run else 'applying'} NetworkPolicy {ns}/{name}"
        try:
            after = read_json(self.api.patch_namespaced_network_policy(name, ns, body, **kw))
        except CLIENT_ERRORS as exc:
            raise self._fail(exc, what) from None
        if before is None:
            action = CREATED
        elif _essence(before) == _essence(after):
            action = UNCHANGED
        else:
            action = CONFIGURED
        return Outcome(ns, name, action, dry_run)


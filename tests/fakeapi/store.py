"""Provides the fake API server's storage: objects, resourceVersions, the change log and watches.

It behaves like etcd behind the API server as far as clients can tell:
- one global, increasing resourceVersion; every write gets the next one;
- a change log that watches replay from a resourceVersion, and that can be *compacted*, after which
  older resourceVersions (of watches and of continue tokens) are answered with 410 Gone;
- consistent paginated lists: a continue token names the list's snapshot resourceVersion and the last
  key returned, and later pages are served from that snapshot.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .resources import Resource, resource_for

Key = tuple[str, str, str]
"""(resource id, namespace or '', name)."""


@dataclass(frozen=True)
class LogEntry:
    """One change: the resourceVersion it got, its type and the object after it (before, for DELETED)."""

    rv: int
    type: str
    resource: Resource
    namespace: str
    name: str
    obj: dict[str, Any]


class ApiError(Exception):
    """An error the server answers with a Status object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A metav1.Status failure object, as the real server sends it."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


class Store:
    """Objects of every resource, with resourceVersions, a change log and a condition to wait on."""

    def __init__(self, first_rv: int = 1000):
        self._objects: dict[Key, dict[str, Any]] = {}
        self._log: list[LogEntry] = []
        self._rv = first_rv
        self.compacted_rv = 0
        """resourceVersions below this are gone (410) for watches and continue tokens."""
        self.continue_floor = 0
        """Continue tokens whose snapshot is below this are expired (410), like etcd compaction."""
        self.cond = threading.Condition()

    # -- reading -----------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        with self.cond:
            return self._rv

    def log_since(self, index: int) -> tuple[list[LogEntry], int]:
        """Log entries from position ``index`` on, and the position after the last one."""
        with self.cond:
            return self._log[index:], len(self._log)

    def log_index_after(self, rv: int) -> int:
        """Position of the first log entry with a resourceVersion above ``rv``."""
        with self.cond:
            for i, e in enumerate(self._log):
                if e.rv > rv:
                    return i
            return len(self._log)

    def get(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self.cond:
            obj = self._objects.get((res.id, namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def items(self, res: Resource, namespace: str | None, at_rv: int | None = None, *,
              copy_out: bool = True) -> list[dict[str, Any]]:
        """Objects of ``res`` (in ``namespace`` if given), sorted by key, as of ``at_rv`` (default now).

        ``copy_out=False`` returns the stored objects themselves, for a caller that only reads them (a list
        page serialised at once): copying every object for every page made paged lists quadratic."""
        with self.cond:
            if at_rv is None or at_rv >= self._rv:
                objs = {k: v for k, v in self._objects.items() if k[0] == res.id}
            else:
                objs = {}
                for e in self._log:
                    if e.rv > at_rv:
                        break
                    if e.resource != res:
                        continue
                    key = (res.id, e.namespace, e.name)
                    if e.type == "DELETED":
                        objs.pop(key, None)
                    else:
                        objs[key] = e.obj
            out = [copy.deepcopy(v) if copy_out else v
                   for k, v in sorted(objs.items()) if namespace is None or k[1] == namespace]
        return out

    # -- continue tokens (the format of the real server: base64 JSON with rv and start key) -------

    @staticmethod
    def encode_continue(rv: int, start: str) -> str:
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode_continue(self, token: str) -> tuple[int, str]:
        """The (snapshot rv, start key) of a token; ApiError 400 if malformed, 410 if expired."""
        try:
            pad = "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(token + pad))
            rv, start = int(data["rv"]), str(data["start"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiError(400, "BadRequest", f"continue key is not valid: {exc}") from exc
        if rv < max(self.compacted_rv, self.continue_floor):
            raise ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent "
                           "list result. You can start a new list without the continue parameter.")
        return rv, start

    # -- writing -----------------------------------------------------------------------------------

    def _commit(self, type_: str, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """Assign the next resourceVersion, store (or drop) the object, log and wake watchers."""
        self._rv += 1
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self._rv)
        ns = meta.get("namespace", "") if res.namespaced else ""
        key = (res.id, ns, meta["name"])
        if type_ == "DELETED":
            self._objects.pop(key, None)
        else:
            self._objects[key] = obj
        self._log.append(LogEntry(self._rv, type_, res, ns, meta["name"], copy.deepcopy(obj)))
        self.cond.notify_all()
        return copy.deepcopy(obj)

    def put(self, obj: dict[str, Any], *, dry_run: bool = False) -> tuple[str, dict[str, Any]]:
        """Create or replace an object as given (apiVersion and kind decide the resource).

        Returns ("ADDED" or "MODIFIED", the stored object). A dry run returns what would be stored.
        """
        obj = copy.deepcopy(obj)
        res = resource_for(str(obj.get("apiVersion")), str(obj.get("kind")))
        if res is None:
            raise ApiError(404, "NotFound", f"no resource for {obj.get('apiVersion')}/{obj.get('kind')}")
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ApiError(422, "Invalid", "metadata.name: Required value: name or generateName is required")
        if res.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        with self.cond:
            old = self._objects.get((res.id, meta.get("namespace", ""), meta["name"]))
            type_ = "MODIFIED" if old is not None else "ADDED"
            if old is not None:
                meta["uid"] = old["metadata"].get("uid")
                meta["creationTimestamp"] = old["metadata"].get("creationTimestamp")
            else:
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            if dry_run:
                meta["resourceVersion"] = old["metadata"]["resourceVersion"] if old else ""
                return type_, obj
            return type_, self._commit(type_, res, obj)

    def delete(self, res: Resource, namespace: str | None, name: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Delete an object; ApiError 404 if it does not exist. Returns the deleted object."""
        with self.cond:
            old = self._objects.get((res.id, namespace or "", name))
            if old is None:
                raise not_found(res, name)
            if dry_run:
                return copy.deepcopy(old)
            return self._commit("DELETED", res, copy.deepcopy(old))

    def compact(self) -> int:
        """Forget history: every resourceVersion before the current one becomes too old (410)."""
        with self.cond:
            self.compacted_rv = self._rv
            return self._rv

    def expire_continue_tokens(self) -> None:
        """Make every continue token issued so far expire (410), without affecting watches."""
        with self.cond:
            self._rv += 1  # tokens name snapshots <= the old rv
            self.continue_floor = self._rv


def not_found(res: Resource, name: str) -> ApiError:
    """The 404 the real server sends for a missing object."""
    group = res.group
    what = f"{res.plural}.{group}" if group else res.plural
    return ApiError(404, "NotFound", f'{what} "{name}" not found',
                    {"name": name, "group": group, "kind": res.plural} if group else {"name": name, "kind": res.plural})

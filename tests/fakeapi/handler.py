"""Provides the fake API server's request handler: routing, authorization, faults, and the verbs.

Verbs as the API server names them: get, list, watch (see ``watchstream``), create (POST), patch
(server-side apply or merge patch), update (PUT), delete; errors are Status objects.
"""

from __future__ import annotations

import copy
import io
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import yaml

from . import podexec
from .rbac import forbidden_message
from .records import RecordedRequest, truthy, typed
from .resources import RESOURCES, Resource, Target, parse_path
from .store import ApiError, not_found, status_body
from .watchstream import WatchStream
import contextlib

if TYPE_CHECKING:
    from .server import FakeApiServer


@dataclass
class Ctx:
    """Per-request state handed to the route handlers."""

    target: Target
    verb: str
    query: dict[str, str]
    record: RecordedRequest
    extra: dict[str, Any] = field(default_factory=dict)


class _NoSigpipeWriter(io.RawIOBase):
    """A raw socket writer that sends with MSG_NOSIGNAL (EPIPE becomes BrokenPipeError, never a signal)."""

    def __init__(self, sock: socket.socket):
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if isinstance(self._sock, ssl.SSLSocket):  # TLS takes no flags; Python ignores SIGPIPE in tests anyway
            return self._sock.send(data)
        return self._sock.send(data, getattr(socket, "MSG_NOSIGNAL", 0))


class Handler(BaseHTTPRequestHandler):
    """Routes one HTTP request; the server instance is the class attribute ``api``."""

    api: FakeApiServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stalls on keep-alive connections
    wbufsize = 64 * 1024  # headers and body leave in one write (handle_one_request flushes)
    server_version = "fake-kube-apiserver/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on ``api.requests`` instead."""

    def setup(self) -> None:
        super().setup()
        # writes never raise SIGPIPE: code under test may have reset SIGPIPE to its default (the CLI
        # does, so that `| head` ends quietly), which would kill the whole test process on a closed socket
        self.wfile = io.BufferedWriter(_NoSigpipeWriter(self.connection), self.wbufsize)
        with self.api._req_lock:
            self.api._socks.add(self.connection)

    def finish(self) -> None:
        with self.api._req_lock:
            self.api._socks.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ----------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        rec = RecordedRequest(method, parts.path, query, dict(self.headers.items()), body)
        with self.api._req_lock:
            self.api.requests.append(rec)
        try:
            self._route(method, parts.path, query, rec)
        except ApiError as err:
            self._status(rec, err.code, err.reason, err.message, err.details)
        except _Handled:
            pass
        except OSError:  # the client went away (or a drop fault cut the stream)
            rec.status = rec.status or 499
            self.close_connection = True

    def _route(self, method: str, path: str, query: dict[str, str], rec: RecordedRequest) -> None:
        if path in ("/version", "/healthz", "/livez", "/readyz"):
            if path == "/version":
                self._json(rec, 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake"})
            else:
                self._raw(rec, 200, b"ok", "text/plain")
            return
        if self.api.token is not None and self.headers.get("Authorization") != f"Bearer {self.api.token}":
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if method == "GET" and self._discovery(path, rec):
            return
        if podexec.route(self, method, path, rec):  # pods/NAME/exec and pods/NAME/ephemeralcontainers
            return
        target = parse_path(path)
        if target is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        verb = _verb(method, target, query)
        rec.verb, rec.resource, rec.namespace = verb, target.resource.id, target.namespace
        self._apply_faults(verb, target.resource.id, rec, query)
        if not self.api.rbac.permits(verb, target.resource.plural, target.namespace):
            raise _forbidden(self.api.user, verb, target)  # authorization comes first, as on the real server
        if target.resource.id in self.api.unserved:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ctx = Ctx(target, verb, query, rec)
        getattr(self, f"_do_{verb}")(ctx)

    def _discovery(self, path: str, rec: RecordedRequest) -> bool:
        """/api/v1 and /apis/GROUP/VERSION: an APIResourceList of the served resources (every user may read
        it: the system:discovery ClusterRole); 404 for a group version with nothing served."""
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "v1"] and len(parts) == 2:
            gv = ("", "v1")
        elif parts[0] == "apis" and len(parts) == 3:
            gv = (parts[1], parts[2])
        else:
            return False
        served = [r for r in RESOURCES if (r.group, r.version) == gv and r.id not in self.api.unserved]
        if not served:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self._json(rec, 200, {"kind": "APIResourceList", "apiVersion": "v1",
                              "groupVersion": f"{gv[0]}/{gv[1]}" if gv[0] else gv[1],
                              "resources": [{"name": r.plural, "kind": r.kind, "namespaced": r.namespaced,
                                             "verbs": ["get", "list", "watch"]} for r in served]})
        return True

    def _apply_faults(self, verb: str, resource: str, rec: RecordedRequest, query: dict[str, str]) -> None:
        hook = self.api.faults.take(verb, resource, "hook", query)
        if hook is not None and hook.hook is not None:
            hook.hook(rec)
        delay = self.api.faults.take(verb, resource, "delay", query)
        if delay is not None:
            time.sleep(delay.seconds)
        fault = self.api.faults.take(verb, resource, "status", query)
        if fault is not None:
            reasons = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                       504: "Timeout"}
            details = {"retryAfterSeconds": fault.retry_after} if fault.retry_after is not None else None
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            msg = ("Too many requests, please try again later." if fault.status == 429
                   else "an error on the server (\"injected fault\") has prevented the request from succeeding")
            self._status(rec, fault.status, reasons.get(fault.status, "InternalError"), msg, details, headers)
            raise _Handled()
        if verb == "watch":
            drop = self.api.faults.take(verb, resource, "drop", query)
            if drop is not None:
                rec.headers["x-fakeapi-drop-after"] = str(drop.after_events)

    def _json(self, rec: RecordedRequest, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._raw(rec, code, json.dumps(body).encode(), "application/json", headers)

    def _raw(self, rec: RecordedRequest, code: int, data: bytes, ctype: str,
             headers: dict[str, str] | None = None) -> None:
        rec.status = code
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _status(self, rec: RecordedRequest, code: int, reason: str, message: str,
                details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        self._json(rec, code, status_body(code, reason, message, details), headers)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    # -- verbs -------------------------------------------------------------------------------------

    def _do_get(self, ctx: Ctx) -> None:
        t = ctx.target
        obj = self.api.store.get(t.resource, t.namespace, t.name or "")
        if obj is None:
            raise not_found(t.resource, t.name or "")
        self._json(ctx.record, 200, typed(obj, t.resource))

    def _do_list(self, ctx: Ctx) -> None:
        t, q, store = ctx.target, ctx.query, self.api.store
        limit = int(q["limit"]) if q.get("limit", "").isdigit() and int(q["limit"]) > 0 else None
        start = ""
        if q.get("continue"):
            rv, start = store.decode_continue(q["continue"])
        else:
            rv = store.resource_version
        items = store.items(t.resource, t.namespace, at_rv=rv, copy_out=False)  # only read, then serialised
        keys = [f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}" for o in items]
        page = [(k, o) for k, o in zip(keys, items) if k > start]
        cont = ""
        if limit is not None and len(page) > limit:
            page = page[:limit]
            cont = store.encode_continue(rv, page[-1][0])
        body_items = []
        for _, o in page:
            o = dict(o)
            o.pop("kind", None)
            o.pop("apiVersion", None)
            body_items.append(o)
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if cont:
            meta["continue"] = cont
            meta["remainingItemCount"] = len([k for k in keys if k > start]) - len(page)
        self._json(ctx.record, 200, {"kind": t.resource.list_kind, "apiVersion": t.resource.api_version,
                                     "metadata": meta, "items": body_items})

    def _do_watch(self, ctx: Ctx) -> None:
        WatchStream(self, ctx).run()

    def _do_create(self, ctx: Ctx) -> None:
        t = ctx.target
        obj = _parse_body(ctx.record)
        _check_identity(obj, t, None)
        if self.api.store.get(t.resource, t.namespace, obj["metadata"]["name"]) is not None:
            raise ApiError(409, "AlreadyExists", f'{_what(t.resource)} "{obj["metadata"]["name"]}" already exists',
                           {"name": obj["metadata"]["name"], "kind": t.resource.plural})
        manager = ctx.query.get("fieldManager") or _default_manager(self.headers.get("User-Agent", ""))
        self._store_write(ctx, obj, manager, apply=False)

    def _do_patch(self, ctx: Ctx) -> None:
        t = ctx.target
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        body = _parse_body(ctx.record)
        current = self.api.store.get(t.resource, t.namespace, t.name or "")
        if ctype == "application/apply-patch+yaml":
            manager = ctx.query.get("fieldManager")
            if not manager:
                raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required '
                               'value: is required for apply patch')
            _check_identity(body, t, t.name)
            if current is None and not self.api.rbac.permits("create", t.resource.plural, t.namespace):
                raise _forbidden(self.api.user, "create", t)
            own = self.api._ownership_of(t.resource, t.namespace, t.name or "")
            trial = copy.deepcopy(own)
            merged = trial.apply(current, body, manager, truthy(ctx.query.get("force")))
            ctx.extra["ownership"] = trial
            self._store_write(ctx, merged, manager, apply=True)
        elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if current is None:
                raise not_found(t.resource, t.name or "")
            merged = _merge_patch(current, body)
            manager = ctx.query.get("fieldManager") or _default_manager(self.headers.get("User-Agent", ""))
            self._store_write(ctx, merged, manager, apply=False)
        else:
            raise ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - '
                           f'accepted media types include: application/json-patch+json, application/merge-patch+json,'
                           f' application/apply-patch+yaml, got "{ctype}"')

    def _do_update(self, ctx: Ctx) -> None:
        t = ctx.target
        obj = _parse_body(ctx.record)
        _check_identity(obj, t, t.name)
        manager = ctx.query.get("fieldManager") or _default_manager(self.headers.get("User-Agent", ""))
        self._store_write(ctx, obj, manager, apply=False)

    def _do_delete(self, ctx: Ctx) -> None:
        t = ctx.target
        dry = ctx.query.get("dryRun") == "All"
        obj = self.api.store.delete(t.resource, t.namespace, t.name or "", dry_run=dry)
        if not dry:
            self.api._ownership.pop((t.resource.id, t.namespace or "", t.name or ""), None)
        self._json(ctx.record, 200, typed(obj, t.resource))

    def _store_write(self, ctx: Ctx, obj: dict[str, Any], manager: str, *, apply: bool) -> None:
        """Persist (unless dryRun=All) with managedFields, answering 201 for creates and 200 otherwise."""
        t = ctx.target
        dry = ctx.query.get("dryRun") == "All"
        if ctx.query.get("dryRun") not in (None, "", "All"):
            raise ApiError(400, "BadRequest", f'Invalid dryRun value "{ctx.query["dryRun"]}": must be "All"')
        obj = typed(obj, t.resource)
        if t.resource.namespaced:
            obj.setdefault("metadata", {})["namespace"] = t.namespace
        name = obj["metadata"]["name"]
        own = ctx.extra.get("ownership") or copy.deepcopy(self.api._ownership_of(t.resource, t.namespace, name))
        if not apply:
            own.record_update(manager, obj)
        obj["metadata"]["managedFields"] = own.render(t.resource.api_version)
        with self.api.store.cond:
            type_, stored = self.api.store.put(obj, dry_run=dry)
            if not dry:
                self.api._ownership[(t.resource.id, t.namespace or "", name)] = own
        self._json(ctx.record, 201 if type_ == "ADDED" else 200, typed(stored, t.resource))


class _Handled(Exception):
    """The response was already sent (by a fault)."""


def _verb(method: str, t: Target, query: dict[str, str]) -> str:
    if method == "GET":
        if t.name is not None:
            return "get"
        return "watch" if truthy(query.get("watch")) else "list"
    if method == "POST" and t.name is None:
        return "create"
    if t.name is not None:
        return {"PATCH": "patch", "PUT": "update", "DELETE": "delete"}.get(method, "unknown")
    raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def _what(res: Resource) -> str:
    return f"{res.plural}.{res.group}" if res.group else res.plural


def _forbidden(user: str, verb: str, t: Target) -> ApiError:
    details = {"name": t.name} if t.name else {}
    if t.resource.group:
        details["group"] = t.resource.group
    details["kind"] = t.resource.plural
    return ApiError(403, "Forbidden", forbidden_message(user, verb, t.resource, t.namespace, t.name), details)


def _parse_body(rec: RecordedRequest) -> dict[str, Any]:
    try:
        body = rec.json()
    except yaml.YAMLError as exc:
        raise ApiError(400, "BadRequest", f"error decoding YAML: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body must be an object")
    return body


def _check_identity(obj: dict[str, Any], t: Target, name: str | None) -> None:
    """The body's apiVersion/kind must match the URL, and its name the URL's (422/400 otherwise)."""
    if obj.get("apiVersion") != t.resource.api_version or obj.get("kind") != t.resource.kind:
        raise ApiError(400, "BadRequest", f"the API version in the data ({obj.get('apiVersion')}) and kind "
                       f"({obj.get('kind')}) do not match the resource {_what(t.resource)}")
    meta = obj.setdefault("metadata", {})
    if not meta.get("name"):
        raise ApiError(422, "Invalid", f'{t.resource.kind} "" is invalid: metadata.name: Required value: '
                       "name or generateName is required")
    if name is not None and meta["name"] != name:
        raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
    ns = meta.get("namespace")
    if ns and t.namespace and ns != t.namespace:
        raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                       "sent on the request")


def _merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch."""
    out = copy.deepcopy(current)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge_patch(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _default_manager(user_agent: str) -> str:
    """The server derives a default field manager from the User-Agent's first word."""
    return (user_agent.split("/")[0] or "unknown").strip() or "unknown"

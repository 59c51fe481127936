"""Provides the fake kubelet behind the fake API server: ephemeral containers and ``exec``.

What it implements, as the real API server and kubelet do it:
- ``PATCH /api/v1/namespaces/NS/pods/NAME/ephemeralcontainers`` (subresource ``pods/ephemeralcontainers``,
  verb ``patch``; strategic merge or JSON merge patch of ``spec.ephemeralContainers``, merged by name).
  Existing ephemeral containers may not be removed or changed (422, as the API server's validation:
  "ephemeral containers ... may not be removed or changed"); a name already used by a container is 422.
  The fake kubelet then reports the container in ``status.ephemeralContainerStatuses``: ``waiting``
  (``ContainerCreating``) for ``start_delay`` seconds, then ``running``; or ``waiting`` with the reason of
  ``failing_images[image]`` (e.g. ``ErrImagePull``), for ever.
- ``GET .../pods/NAME/exec?command=...&container=...&stdout=true&stderr=true`` upgraded to a WebSocket
  (RFC 6455) with the channel subprotocol the official client offers (``v5.channel.k8s.io`` preferred,
  ``v4.channel.k8s.io``): every binary frame starts with a channel byte (1 stdout, 2 stderr, 3 the
  error channel, which carries a ``metav1.Status``: ``Success``, or ``Failure`` with reason
  ``NonZeroExitCode`` and the exit code as the message of the ``ExitCode`` cause), then a close frame.
  Authorization is ``create`` on ``pods/exec`` (what the API server checks for a WebSocket exec since
  Kubernetes 1.30). A missing pod is 404; an unknown or not running container is 400, before the upgrade.
- What a command does is up to the test: ``exec_handler(call) -> ExecResult`` plays the container's
  processes (and the network); ``terminate(api, ...)`` is what a process that ends the container calls.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlsplit

from .resources import resource_named
from .store import ApiError, not_found
import contextlib

if TYPE_CHECKING:
    from .handler import Handler

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PODS = resource_named("pods")


@dataclass
class ExecCall:
    """One exec the fake kubelet ran."""

    namespace: str
    pod: str
    container: str
    command: list[str]
    ephemeral: bool
    protocol: str = ""


@dataclass
class ExecResult:
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0
    delay: float = 0.0
    """Seconds the command 'runs' before its output is sent."""


@dataclass
class PodRuntime:
    """The fake kubelet's behaviour, set by tests (``api.runtime``)."""

    exec_handler: Callable[[ExecCall], ExecResult] | None = None
    failing_images: dict[str, str] = field(default_factory=dict)
    """image -> the waiting reason the kubelet reports for it (ErrImagePull, ImagePullBackOff, ...)."""
    start_delay: float = 0.0
    calls: list[ExecCall] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def execs(self, command0: str | None = None) -> list[ExecCall]:
        with self.lock:
            return [c for c in self.calls if command0 in (None, c.command[0] if c.command else None)]


def route(handler: Handler, method: str, path: str, rec: Any) -> bool:
    """Serve ``pods/NAME/ephemeralcontainers`` and ``pods/NAME/exec``; False for any other path."""
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    if len(parts) != 7 or parts[:3] != ["api", "v1", "namespaces"] or parts[4] != "pods":
        return False
    ns, pod, sub = parts[3], parts[5], parts[6]
    if sub not in ("ephemeralcontainers", "exec"):
        return False
    api = handler.api
    verb = {"ephemeralcontainers": {"GET": "get", "PATCH": "patch"}, "exec": {"GET": "create", "POST": "create"}}[sub]
    verb_name = verb.get(method)
    if verb_name is None:
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    rec.verb, rec.resource, rec.namespace = verb_name, f"pods/{sub}", ns
    if not api.rbac.permits(verb_name, f"pods/{sub}", ns):
        raise ApiError(403, "Forbidden", f'pods "{pod}" is forbidden: User "{api.user}" cannot {verb_name} '
                       f'resource "pods/{sub}" in API group "" in the namespace "{ns}"',
                       {"name": pod, "kind": "pods"})
    current = api.store.get(PODS, ns, pod)
    if current is None:
        raise not_found(PODS, pod)
    if sub == "ephemeralcontainers":
        if method == "PATCH":
            current = _patch_ephemeral(api, ns, pod, current, rec)
        handler._json(rec, 200, {"kind": "Pod", "apiVersion": "v1", **{k: v for k, v in current.items()
                                                                     if k not in ("kind", "apiVersion")}})
        return True
    _exec(handler, ns, pod, current, rec)
    return True


# -- ephemeral containers ----------------------------------------------------------------------------

def _patch_ephemeral(api: Any, ns: str, pod: str, current: dict[str, Any], rec: Any) -> dict[str, Any]:
    ctype = (rec.headers.get("Content-Type") or rec.headers.get("content-type") or "").split(";")[0].strip()
    if ctype not in ("application/strategic-merge-patch+json", "application/merge-patch+json"):
        raise ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted '
                       f'media types include: application/strategic-merge-patch+json, application/merge-patch+json, '
                       f'got "{ctype}"')
    body = rec.json() or {}
    wanted = ((body.get("spec") or {}).get("ephemeralContainers")) if isinstance(body, dict) else None
    if not isinstance(wanted, list):
        raise ApiError(422, "Invalid", f'Pod "{pod}" is invalid: spec.ephemeralContainers: Required value')
    obj = copy.deepcopy(current)
    spec = obj.setdefault("spec", {})
    existing = {c["name"]: c for c in spec.get("ephemeralContainers") or []}
    names = {c.get("name") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])}
    added = []
    if ctype == "application/merge-patch+json":  # a JSON merge patch replaces the whole list
        kept = {c.get("name") for c in wanted}
        if set(existing) - kept:
            raise ApiError(422, "Invalid", f'Pod "{pod}" is invalid: spec.ephemeralContainers: Forbidden: existing '
                           "ephemeral containers may not be removed or changed")
    for c in wanted:
        name = c.get("name") if isinstance(c, dict) else None
        if not name or not c.get("image"):
            raise ApiError(422, "Invalid", f'Pod "{pod}" is invalid: spec.ephemeralContainers: name and image '
                           "are required")
        if name in names:
            raise ApiError(422, "Invalid", f'Pod "{pod}" is invalid: spec.ephemeralContainers[0].name: Duplicate '
                           f'value: "{name}"')
        if name in existing:
            if existing[name] != c:
                raise ApiError(422, "Invalid", f'Pod "{pod}" is invalid: spec.ephemeralContainers: Forbidden: '
                               "existing ephemeral containers may not be removed or changed")
            continue
        for forbidden in ("ports", "livenessProbe", "readinessProbe", "startupProbe", "resources", "lifecycle"):
            if c.get(forbidden):
                raise ApiError(422, "Invalid", f'Pod "{pod}" is invalid: spec.ephemeralContainers[0].{forbidden}: '
                               "Forbidden: cannot be set for an Ephemeral Container")
        existing[name] = c
        added.append(c)
    spec["ephemeralContainers"] = list(existing.values())
    status = obj.setdefault("status", {})
    statuses = status.setdefault("ephemeralContainerStatuses", [])
    runtime: PodRuntime = api.runtime
    for c in added:
        reason = runtime.failing_images.get(c["image"])
        state = {"waiting": {"reason": reason or "ContainerCreating"}}
        statuses.append({"name": c["name"], "image": c["image"], "imageID": "", "ready": False, "restartCount": 0,
                         "state": state})
    stored = api.store.put(obj)[1]
    for c in added:  # the kubelet starts them once the API server has stored the change
        if c["image"] not in runtime.failing_images:
            _later(api, ns, pod, c["name"], runtime.start_delay)
    return stored


def _later(api: Any, ns: str, pod: str, name: str, delay: float) -> None:
    def start() -> None:
        set_container_state(api, ns, pod, name, {"running": {"startedAt": _now()}})
    if delay <= 0:
        threading.Thread(target=start, daemon=True).start()
    else:
        threading.Timer(delay, start).start()


def set_container_state(api: Any, ns: str, pod: str, name: str, state: dict[str, Any]) -> None:
    """The fake kubelet reports a new state for an ephemeral container."""
    with api.store.cond:
        obj = api.store.get(PODS, ns, pod)
        if obj is None:
            return
        obj = copy.deepcopy(obj)
        for st in (obj.get("status") or {}).get("ephemeralContainerStatuses") or []:
            if st["name"] == name:
                st["state"] = state
        api.store.put(obj)


def terminate(api: Any, ns: str, pod: str, name: str, code: int = 0) -> None:
    """The container's main process ended: the kubelet reports it terminated."""
    set_container_state(api, ns, pod, name, {"terminated": {"exitCode": code,
                                                             "reason": "Completed" if code == 0 else "Error"}})


def ephemeral_state(pod: dict[str, Any], name: str) -> str | None:
    """'running', 'waiting' or 'terminated' for an ephemeral container of a stored pod."""
    for st in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []:
        if st["name"] == name:
            return next(iter(st.get("state") or {"waiting": {}}))
    return None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- exec over WebSocket -----------------------------------------------------------------------------

def _exec(handler: Handler, ns: str, pod: str, obj: dict[str, Any], rec: Any) -> None:
    query = parse_qs(urlsplit(handler.path).query, keep_blank_values=True)
    command = query.get("command") or []
    if not command:
        raise ApiError(400, "BadRequest", "you must specify at least 1 command")
    spec = obj.get("spec") or {}
    containers = [c.get("name") for c in spec.get("containers") or []]
    ephemeral = [c.get("name") for c in spec.get("ephemeralContainers") or []]
    container = (query.get("container") or [""])[-1] or (containers[0] if len(containers) == 1 else "")
    if not container:
        raise ApiError(400, "BadRequest", f"a container name must be specified for pod {pod}, choose one of: "
                       f"{containers}")
    if container not in containers + ephemeral:
        raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {pod}")
    if container in ephemeral and ephemeral_state(obj, container) != "running":
        raise ApiError(400, "BadRequest", f"container {container} is not running")
    if (obj.get("status") or {}).get("phase", "Running") != "Running":
        raise ApiError(400, "BadRequest", "cannot exec into a container in a completed pod; current phase is "
                       f"{obj['status']['phase']}")
    if (handler.headers.get("Upgrade") or "").lower() != "websocket":
        raise ApiError(400, "BadRequest", "Upgrade request required")
    offered = [p.strip() for p in (handler.headers.get("Sec-WebSocket-Protocol") or "").split(",") if p.strip()]
    proto = next((p for p in offered if p in PROTOCOLS), None)
    if proto is None:
        raise ApiError(400, "BadRequest", f"unable to upgrade: unsupported subprotocol(s) {offered}")
    key = handler.headers.get("Sec-WebSocket-Key") or ""
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    rec.status = 101
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept)
    handler.send_header("Sec-WebSocket-Protocol", proto)
    handler.end_headers()
    handler.wfile.flush()
    handler.close_connection = True
    api = handler.api
    call = ExecCall(ns, pod, container, list(command), container in ephemeral, proto)
    runtime: PodRuntime = api.runtime
    with runtime.lock:
        runtime.calls.append(call)
    result = runtime.exec_handler(call) if runtime.exec_handler is not None else ExecResult()
    if result.delay:
        time.sleep(result.delay)
    send = handler.wfile
    try:
        if result.stdout:
            send.write(_frame(b"\x01" + result.stdout.encode()))
        if result.stderr:
            send.write(_frame(b"\x02" + result.stderr.encode()))
        send.write(_frame(b"\x03" + json.dumps(exit_status(result.exit_code, command)).encode()))
        send.write(_frame(struct.pack("!H", 1000), opcode=0x8))
        send.flush()
        _drain_close(handler.connection)
    except OSError:
        pass  # the client went away (e.g. it gave up on a timeout)


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    """The metav1.Status on the error channel, as the kubelet's remotecommand writes it."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command {command}, "
                       f"exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def _frame(payload: bytes, opcode: int = 0x2) -> bytes:
    """One unmasked server frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def _drain_close(sock: socket.socket) -> None:
    """Wait briefly for the client's close frame, so the close handshake completes (RFC 6455 7.1.2)."""
    sock.settimeout(1.0)
    with contextlib.suppress(OSError):
        sock.recv(1024)

"""Provides ProbeRunner: runs probe commands in source pods, through an ephemeral debug container or ``exec``.

Ephemeral container mode (``image`` given): one container per source pod is added through the
``pods/ephemeralcontainers`` subresource (what ``kubectl debug`` does), named ``microseg-probe-XXXXX``,
running ``sh`` that records its PID and sleeps at most ``ttl`` seconds, so it ends by itself even if this
process is killed. Probes are ``exec``'d into it; afterwards the runner kills that ``sh`` (its own PID file,
never PID 1: with ``shareProcessNamespace`` PID 1 is the pod's pause container) and waits for the kubelet
to report it terminated. Kubernetes never removes an ephemeral container from a pod's spec (the API forbids
it); a terminated one stays listed until the pod is replaced, and uses no resources.

Exec mode (``image`` None): the probes run in the pod's own container (``container``, else its first one).

At most ``concurrency`` execs run at once; each is bounded by the probe timeout plus a margin. On Ctrl-C
the pending probes are cancelled and the cleanup still runs.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from kubectl_microseg.errors import UnreachableError, UsageError
from kubectl_microseg.dataplane.pods import PodRef

from .failures import status_message

PID_FILE = "/tmp/microseg-probe.pid"
FAILED_WAITING = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
                  "CreateContainerError", "ErrImageNeverPull", "RunContainerError")


@dataclass
class ExecOutput:
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    error: str = ""
    """Why the command could not be run at all (the API refused, the container is gone...)."""


@dataclass
class Created:
    """An ephemeral container this run added."""

    pod: PodRef
    name: str
    ended: bool = False


@dataclass
class ProbeRunner:
    api_client: client.ApiClient
    image: str | None = None
    container: str | None = None
    timeout: int = 3
    concurrency: int = 8
    ready_timeout: float = 60.0
    ttl: int = 600
    poll: float = 0.5
    created: list[Created] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    """Probe containers that could not be ended (filled by ``run``)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)

    # -- ephemeral containers ----------------------------------------------------------------------

    def add_container(self, pod: PodRef) -> str:
        """Add the probe container to ``pod`` and wait until it runs; returns its name.

        Raises:
            UsageError: the image cannot be pulled or run (exit 2: choose another image).
            UnreachableError: the API refused (e.g. 403 on pods/ephemeralcontainers) or it never started.
        """
        name = f"microseg-probe-{secrets.token_hex(3)[:5]}"
        script = f"echo $$ > {PID_FILE}; trap 'exit 0' TERM INT; sleep {int(self.ttl)} & wait"
        body = {"spec": {"ephemeralContainers": [{
            "name": name, "image": self.image, "command": ["sh", "-c", script],
            "stdin": False, "tty": False, "terminationMessagePolicy": "File"}]}}
        try:
            self.core.patch_namespaced_pod_ephemeralcontainers(
                pod.name, pod.namespace, body, _content_type="application/strategic-merge-patch+json")
        except ApiException as exc:
            raise UnreachableError(f"cannot add an ephemeral container to pod {pod.id}: "
                                   f"{status_message(exc.body) or exc.reason} (HTTP {exc.status})") from None
        entry = Created(pod, name)
        with self._lock:
            self.created.append(entry)
        deadline = time.monotonic() + self.ready_timeout
        while True:
            state, reason = self._state(pod, name)
            if state == "running":
                return name
            if state == "terminated":
                entry.ended = True
                raise UnreachableError(f"the probe container in pod {pod.id} ended at once ({reason}): does "
                                       f"image {self.image} have `sh` and `sleep`?")
            if reason in FAILED_WAITING:
                raise UsageError(f"the probe image {self.image} cannot run in pod {pod.id}: {reason} (name an "
                                 "image your nodes can pull: --image; see docs/probe.md)")
            if time.monotonic() > deadline:
                raise UnreachableError(f"the probe container in pod {pod.id} did not start within "
                                       f"{self.ready_timeout:g}s (state: {reason or state})")
            time.sleep(self.poll)

    def _state(self, pod: PodRef, name: str) -> tuple[str, str]:
        """(running | waiting | terminated, reason) of a probe container, from the pod's status (raw JSON:
        the state is all that is needed, and a partial status must not fail a typed model)."""
        try:
            # _preload_content=False gives the raw urllib3 response, not the V1Pod of the client's annotation
            resp: Any = self.core.read_namespaced_pod(pod.name, pod.namespace, _preload_content=False)
            obj = json.loads(resp.data)
        except ApiException as exc:
            if exc.status == 404:
                return "terminated", "the pod is gone"
            raise UnreachableError(f"cannot read pod {pod.id}: {status_message(exc.body) or exc.reason}") from None
        for st in (obj.get("status") or {}).get("ephemeralContainerStatuses") or []:
            if st.get("name") == name and st.get("state"):
                state = st["state"]
                if "running" in state:
                    return "running", ""
                if "terminated" in state:
                    t = state["terminated"] or {}
                    return "terminated", t.get("reason") or f"exit {t.get('exitCode')}"
                if "waiting" in state:
                    return "waiting", (state["waiting"] or {}).get("reason") or ""
        return "waiting", ""

    def cleanup(self) -> list[str]:
        """End every probe container this run started; returns what could not be ended (and why)."""
        left = []
        for entry in list(self.created):
            if entry.ended:
                continue
            out = self.exec(entry.pod, entry.name, ["sh", "-c", f'kill "$(cat {PID_FILE})"'], deadline=10)
            deadline = time.monotonic() + 10
            state = ""
            while time.monotonic() < deadline:
                state, _ = self._state(entry.pod, entry.name)
                if state == "terminated":
                    entry.ended = True
                    break
                time.sleep(self.poll)
            if not entry.ended:
                left.append(f"{entry.pod.id} container {entry.name}: {out.error or 'still ' + state} (it ends by "
                            f"itself within {self.ttl}s)")
        return left

    # -- exec ----------------------------------------------------------------------------------------

    def exec(self, pod: PodRef, container: str | None, command: list[str], deadline: float) -> ExecOutput:
        """Run ``command`` in the container over the exec WebSocket; ``deadline`` seconds at most.

        ``stream`` swaps the transport of the ApiClient it is given for the duration of the call, so each exec
        gets an ApiClient of its own: the other threads' REST calls must not go over a WebSocket.
        """
        own = client.ApiClient(configuration=self.api_client.configuration)
        try:
            ws = stream(client.CoreV1Api(own).connect_get_namespaced_pod_exec, pod.name, pod.namespace, command=command,
                        container=container or (pod.containers[0] if pod.containers else None),
                        stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False,
                        _request_timeout=deadline)
        except ApiException as exc:
            own.close()
            return ExecOutput(None, error=f"exec refused: {_ws_reason(exc)}")
        try:
            ws.run_forever(timeout=deadline)
            if ws.is_open():
                return ExecOutput(None, ws.read_stdout() or "", ws.read_stderr() or "",
                                  error=f"no answer from exec within {deadline:g}s")
            out, err = ws.read_stdout() or "", ws.read_stderr() or ""
            try:
                code = ws.returncode
            except (TypeError, ValueError, KeyError, AttributeError):
                code = None
            return ExecOutput(code, out, err, "" if code is not None else "exec ended without a status")
        finally:
            ws.close()
            own.close()

    # -- the run -------------------------------------------------------------------------------------

    def run(self, jobs: list[tuple[PodRef, list[str]]],
            on_result: Callable[[int, ExecOutput], None] | None = None) -> list[ExecOutput]:
        """Run every (source pod, command); results in order. Ephemeral containers are added first (one per
        source pod, ``concurrency`` at a time) and ended afterwards, also on errors and Ctrl-C."""
        results: list[ExecOutput | None] = [None] * len(jobs)
        pool = ThreadPoolExecutor(max_workers=max(1, self.concurrency), thread_name_prefix="probe")
        try:
            containers: dict[str, str | None] = {}
            if self.image:
                sources = list(dict.fromkeys(p for p, _ in jobs))
                futs = {pool.submit(self.add_container, p): p for p in sources}
                _wait_all(futs)
                for f, p in futs.items():
                    containers[p.id] = f.result()
            else:
                for p, _ in jobs:
                    containers[p.id] = self.container

            def one(i: int) -> None:
                pod, cmd = jobs[i]
                res = self.exec(pod, containers[pod.id], cmd, deadline=self.timeout + 5)
                results[i] = res
                if on_result:
                    on_result(i, res)

            _wait_all({pool.submit(one, i): i for i in range(len(jobs))})
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            self.leftovers = self.cleanup() if self.image else []
        return [r or ExecOutput(None, error="not run") for r in results]


def _wait_all(futs: dict[Any, Any]) -> None:
    """Wait for every future (Ctrl-C interrupts the wait); the first exception is raised."""
    pending = set(futs)
    while pending:
        done, pending = wait(pending, timeout=0.2)
        for f in done:
            exc = f.exception()
            if exc is not None:
                for p in pending:
                    p.cancel()
                raise exc


def _ws_reason(exc: ApiException) -> str:
    """The API server's message from a refused WebSocket upgrade (the client packs the HTTP answer into reason)."""
    text = str(exc.reason or "")
    body = text.rsplit("-+-+-", 1)[-1].strip() if "-+-+-" in text else text
    status = text.split("-+-+-", 1)[0].replace("Handshake status", "HTTP").strip() if "-+-+-" in text else ""
    msg = status_message(body) or body[:200]
    return f"{msg} ({status})" if status else msg

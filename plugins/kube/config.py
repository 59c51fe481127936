"""Provides kubectl-compatible connection settings: kubeconfig discovery, context resolution, timeouts.

kubectl's rules, which the Python client does not follow on its own:
- ``--kubeconfig FILE`` names one file, no merging; otherwise ``KUBECONFIG`` lists files separated by
  ``os.pathsep`` (empty entries and missing files are skipped); otherwise ``~/.kube/config``.
- With several files, "the first file to set a particular value or map key wins", *including*
  ``current-context``; the client's merger lets the last file win there, so the context is resolved
  here and passed explicitly.
- No kubeconfig at all, inside a pod: the in-cluster service-account config.
- ``--request-timeout``: "0" means none; a bare integer is seconds; otherwise a Go duration (1s, 2m, 3h).
Refreshed credentials are never written back (``persist_config=False``), and nothing here prints or
stores credentials: errors name files and contexts only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterator, Mapping

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from kubectl_microseg import __version__
from kubectl_microseg.errors import UnreachableError, UsageError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")

_TIMEOUT_HELP = ("invalid timeout value. Timeout must be a single integer in seconds, or an integer followed by "
                 "a corresponding time unit (e.g. 1s | 2m | 3h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_request_timeout(value: str | None) -> float | None:
    """kubectl's ``--request-timeout``: seconds as a float, 0.0 for "no timeout", None if not given.

    >>> parse_request_timeout("1m30s"), parse_request_timeout("5"), parse_request_timeout("0")
    (90.0, 5.0, 0.0)
    """
    if value is None or value == "":
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if not m:
            raise UsageError(_TIMEOUT_HELP)
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not text:
        raise UsageError(_TIMEOUT_HELP)
    return total


def kubeconfig_paths(explicit: str | None, env: Mapping[str, str] | None = None) -> list[Path]:
    """The kubeconfig files kubectl would read, in precedence order (existing files only).

    Raises:
        UsageError: ``--kubeconfig`` names a file that does not exist (kubectl fails there too).
    """
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_file():
            raise UsageError(f"kubeconfig {explicit} does not exist")
        return [p]
    environ = os.environ if env is None else env
    if environ.get("KUBECONFIG"):
        paths = [Path(x).expanduser() for x in environ["KUBECONFIG"].split(os.pathsep) if x]
    else:
        paths = [Path("~/.kube/config").expanduser()]
    seen: list[Path] = []
    for p in paths:
        if p.is_file() and p not in seen:
            seen.append(p)
    return seen


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read kubeconfig {path}: {exc.__class__.__name__}") from exc
    return data if isinstance(data, dict) else {}


def resolve_context(paths: list[Path], requested: str | None) -> tuple[str, dict[str, Any]]:
    """The context kubectl would use and its settings (cluster, user, namespace).

    The first file that sets ``current-context`` wins; the first file that defines a context name wins.

    Raises:
        UsageError: no context is set, or the requested one does not exist.
    """
    current = None
    contexts: dict[str, dict[str, Any]] = {}
    for p in paths:
        data = _read(p)
        if current is None and data.get("current-context"):
            current = str(data["current-context"])
        for entry in data.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") and entry["name"] not in contexts:
                contexts[str(entry["name"])] = entry.get("context") or {}
    name = requested or current
    if not name:
        raise UsageError("no context is set in the kubeconfig (current-context); use --context NAME")
    if name not in contexts:
        raise UsageError(f'context "{name}" does not exist in the kubeconfig')
    return name, contexts[name]


@dataclass
class Connection:
    """An API client for one cluster, with what is known about where it points."""

    api_client: client.ApiClient
    context: str
    """The kubeconfig context used ('in-cluster' inside a pod)."""
    namespace: str
    """The context's default namespace (or the pod's), else 'default'."""
    server: str
    """The API server URL (no credentials)."""


def in_cluster_available(env: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if env is None else env
    return bool(environ.get("KUBERNETES_SERVICE_HOST")) and (SERVICE_ACCOUNT_DIR / "token").is_file()


def connect(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """Build an ApiClient the way kubectl chooses its configuration.

    Raises:
        UsageError: bad kubeconfig or context.
        UnreachableError: no configuration at all (kubectl then tries localhost:8080 and fails).
    """
    paths = kubeconfig_paths(kubeconfig)
    cfg = client.Configuration()
    if not paths:
        if context is None and in_cluster_available():
            config.load_incluster_config(client_configuration=cfg)
            ns_file = SERVICE_ACCOUNT_DIR / "namespace"
            ns = ns_file.read_text().strip() if ns_file.is_file() else "default"
            return Connection(_finish(cfg), "in-cluster", ns or "default", cfg.host)
        raise UnreachableError("The connection to the server localhost:8080 was refused - did you specify the "
                               "right host or port? (no kubeconfig found: set KUBECONFIG or use --kubeconfig)")
    name, ctx = resolve_context(paths, context)
    try:
        with _client_log_as_warnings():
            config.load_kube_config(config_file=os.pathsep.join(str(p) for p in paths), context=name,
                                    client_configuration=cfg, persist_config=False)
    except (ConfigException, ValueError, TypeError) as exc:
        # ValueError: binascii.Error for bad base64 in *-data; the message of an exec plugin that failed
        # holds its stderr: one redacted line of it, never the whole (it may print tokens)
        from .failures import excerpt

        raise UsageError(f'invalid kubeconfig for context "{name}": {excerpt(str(exc))}') from None
    return Connection(_finish(cfg), name, str(ctx.get("namespace") or "default"), cfg.host)


class _NoTimeoutRetry(urllib3.util.Retry):
    """urllib3's one retry is for a keep-alive connection the server closed (a ProtocolError); a read
    timeout is not re-sent here (it would double every --request-timeout): the source decides."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if isinstance(error, urllib3.exceptions.ReadTimeoutError):
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


@contextlib.contextmanager
def _client_log_as_warnings() -> Iterator[None]:
    """The client logs a failed exec plugin with ``logging.error(str(exc))`` on the root logger, and that
    text holds the plugin's whole stderr (which may print tokens). While the kubeconfig loads, such records
    become one bounded, redacted ``warning:`` line each instead."""
    from .failures import excerpt

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                print(f"warning: kubeconfig: {excerpt(record.getMessage())}", file=sys.stderr)

    root = logging.getLogger()
    saved, root.handlers = root.handlers[:], [Collect()]
    try:
        yield
    finally:
        root.handlers = saved


def _finish(cfg: client.Configuration) -> client.ApiClient:
    """The ApiClient: our own retry loop replaces urllib3's, and a plugin-specific User-Agent.

    urllib3 keeps exactly one retry: a GET on a pooled keep-alive connection that the server (or a load
    balancer) closed meanwhile is re-sent once on a fresh connection. Refused connections and HTTP
    errors are not retried there: the source reports or backs off itself.
    """
    cfg.retries = _NoTimeoutRetry(total=1, connect=0, read=1, redirect=0, status=0, other=0,
                                  raise_on_status=False)
    # one connection per open watch (there may be many with per-namespace fallbacks): no pool warnings
    cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 0, 64)
    api = client.ApiClient(configuration=cfg)
    api.user_agent = f"kubectl-microseg/{__version__}"
    return api

"""Provides the classification of API and network failures, and kubectl-like wording for them.

Every exception the client can raise during a list or watch falls in one class: FORBIDDEN (403: fall
back or record what is missing), GONE (410: re-list), RETRY (429, 5xx, dropped connections, timeouts:
back off and retry), UNREACHABLE (the server cannot be reached at all), FATAL (anything else).
"""

from __future__ import annotations

import errno
import json
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from kubernetes.client.exceptions import ApiException

from kubectl_microseg.errors import UnreachableError

FORBIDDEN, GONE, RETRY, UNREACHABLE, FATAL = "forbidden", "gone", "retry", "unreachable", "fatal"

CLIENT_ERRORS: tuple[type[BaseException], ...] = (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError)
"""What a list or watch call can raise: API errors, urllib3/socket errors, undecodable JSON."""


@dataclass(frozen=True)
class Failure:
    """What went wrong, in the terms the source acts on."""

    kind: str
    status: int | None
    message: str
    """The API server's Status message, or a short description of the network error."""
    retry_after: float | None = None
    """Seconds from a Retry-After header (429/503), if any."""
    refused: bool = False
    """The TCP connection was refused (the kubectl 'was refused' wording applies)."""


EXCERPT_CHARS = 200
"""The longest server or plugin text echoed in an error message."""
_SECRET_HEADER = re.compile(r"(?i)\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-auth-token|"
                            r"impersonate-[\w-]+|token|access[_-]?token|id[_-]?token|refresh[_-]?token|password|"
                            r"passwd|secret|client-key-data|client-certificate-data|api[_-]?key)"
                            r"(\"?\s*[:=]\s*\"?)(?:(?:bearer|basic|negotiate)\s+)?[^\s\",;]+")
_SCHEME_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|negotiate)\s+[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
_URL_PASSWORD = re.compile(r"(?i)(\w+://[^/\s:@]+:)[^/\s@]+@")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Server or plugin text made safe to print: one line, at most ``limit`` characters, and anything that
    looks like a credential (an Authorization header a proxy reflected, a bearer token, a JWT, a password
    in a URL, a long base64 or hex string) replaced by ``[redacted]``."""
    text = _SECRET_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m.group(1)} [redacted]", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}[redacted]@", text)
    text = _JWT.sub("[redacted]", text)
    text = _LONG_TOKEN.sub("[redacted]", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def status_message(body: Any) -> str:
    """The ``message`` of a Status body (bytes, str or dict), or '' if there is none; a body that is not a
    Status (an HTML error page, a proxy echoing the request) as a bounded, redacted excerpt."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return excerpt(body)
    if isinstance(body, dict):
        return excerpt(str(body.get("message") or body.get("reason") or ""))
    return ""


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _refused(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionRefusedError) or getattr(cur, "errno", None) == errno.ECONNREFUSED:
            return True
        if "Connection refused" in str(cur):
            return True
        cur = cur.__cause__ or cur.__context__ or getattr(cur, "reason", None)
        if not isinstance(cur, BaseException):
            cur = None
    return False


def classify(exc: BaseException) -> Failure:
    """Map an exception from the client, urllib3 or the socket layer to a Failure."""
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        msg = status_message(exc.body) or str(exc.reason or "")
        if status == 403:
            return Failure(FORBIDDEN, status, msg)
        if status == 410:
            return Failure(GONE, status, msg)
        if status == 429 or status >= 500:
            return Failure(RETRY, status, msg, _retry_after(exc.headers))
        if status == 0:  # the client wraps SSL errors as status 0
            return Failure(UNREACHABLE, None, msg)
        return Failure(FATAL, status, msg)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return Failure(UNREACHABLE, None, str(exc), refused=_refused(exc))
    if isinstance(exc, urllib3.exceptions.MaxRetryError):
        return classify(exc.reason) if isinstance(exc.reason, BaseException) else Failure(UNREACHABLE, None, str(exc))
    if isinstance(exc, (urllib3.exceptions.ConnectTimeoutError, socket.gaierror)):
        return Failure(UNREACHABLE, None, str(exc))
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError, ValueError)):
        # ProtocolError (connection dropped mid-stream), ReadTimeoutError, reset sockets, truncated JSON
        return Failure(RETRY, None, excerpt(f"{exc.__class__.__name__}: {exc}", 300), refused=_refused(exc))
    return Failure(FATAL, None, excerpt(f"{exc.__class__.__name__}: {exc}", 300))


def host_port(server: str) -> str:
    """'host:port' of a server URL, as kubectl prints it."""
    parts = urlsplit(server)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def unreachable(server: str, failure: Failure) -> UnreachableError:
    """The exit-3 error with kubectl's wording."""
    if failure.refused:
        return UnreachableError(f"The connection to the server {host_port(server)} was refused - "
                                "did you specify the right host or port?")
    if failure.status == 401:
        return UnreachableError("You must be logged in to the server (Unauthorized)")
    detail = failure.message or "no response"
    return UnreachableError(f"Unable to connect to the server {host_port(server)}: {detail}")

"""Provides paginated, retrying lists: ``limit`` + ``continue`` pages from one consistent snapshot.

A continue token that expires mid-list (410) restarts the list from the first page, as the API concepts
document asks; after ``max_restarts`` the list is fetched in one piece. 429 and 5xx answers and dropped
connections are retried with capped exponential back-off (honouring Retry-After).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

import urllib3

from .failures import CLIENT_ERRORS, GONE, RETRY, classify
from .kinds import Kind, clean


@dataclass(frozen=True)
class Tuning:
    """Timings of the live source; tests shrink them."""

    page_size: int = 500
    list_timeout: tuple[float, float] = (10.0, 60.0)
    """(connect, read) seconds for one list request when --request-timeout is not given."""
    list_retries: int = 4
    """Retries of one list request on 429/5xx/dropped connections before giving up."""
    max_restarts: int = 3
    """Restarts of a paginated list on an expired continue token before listing without limit."""
    watch_timeout: int = 290
    """timeoutSeconds of one watch request (the server then ends the stream; we re-watch)."""
    watch_read_margin: float = 30.0
    """Client read timeout = watch_timeout + this: a dead connection cannot hang a watch."""
    connect_timeout: float = 10.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0
    """A server's Retry-After is honoured up to this many seconds."""
    stale_after: float = 15.0
    """Seconds of failed reconnecting after which the view is told its data is stale."""
    retry_timeouts: bool = True
    """Retry a request that timed out. False with an explicit --request-timeout: kubectl's "the length of
    time to wait before giving up on a single server request" is then the time a dead server costs."""

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay before retry number ``attempt`` (1-based): exponential, capped, at least Retry-After."""
        delay = min(self.backoff_cap, self.backoff_base * (2 ** max(0, attempt - 1)))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_cap))
        return delay


@dataclass
class ListResult:
    """The items of one collection (typed raw dicts) and the list's resourceVersion."""

    items: list[dict[str, Any]]
    resource_version: str
    pages: int = 1
    restarts: int = 0
    retries: int = 0
    notes: list[str] = field(default_factory=list)


def read_json(resp: Any) -> dict[str, Any]:
    """Decode a raw (``_preload_content=False``) response body and release the connection."""
    try:
        data = resp.data
    finally:
        resp.release_conn()
    out = json.loads(data)
    if not isinstance(out, dict):
        raise ValueError("the server's answer is not a JSON object")
    return out


def list_kind(call: Callable[..., Any], kind: Kind, tuning: Tuning, timeout: Any,
              stop: threading.Event | None = None) -> ListResult:
    """List every object of ``call``'s collection, page by page.

    Args:
        call: a bound raw list call (``Calls.lister``).
        kind: what is listed (to type the items).
        tuning: page size, retries, back-off.
        timeout: ``_request_timeout`` for each request (None: none).
        stop: set to abandon retries early.

    Raises:
        The client's exception for a failure that is not retryable (403, 401, unreachable, ...), or the
        last one once retries are exhausted.
    """
    restarts = retries = 0
    limit: int | None = tuning.page_size
    while True:
        items: list[dict[str, Any]] = []
        token: str | None = None
        pages = 0
        rv = ""
        try:
            while True:
                kw: dict[str, Any] = {"_request_timeout": timeout}
                if limit:
                    kw["limit"] = limit
                if token:
                    kw["_continue"] = token
                def page(kw: dict[str, Any] = kw) -> Any:
                    return read_json(call(**kw))
                body, n = _with_retries(page, tuning, stop)
                retries += n
                pages += 1
                meta = body.get("metadata") or {}
                rv = str(meta.get("resourceVersion") or rv)
                items.extend(clean(o, kind) for o in body.get("items") or [] if isinstance(o, dict))
                token = meta.get("continue") or None
                if not token:
                    return ListResult(items, rv, pages, restarts, retries)
        except CLIENT_ERRORS as exc:
            if classify(exc).kind != GONE or not token:
                raise
            restarts += 1
            if restarts > tuning.max_restarts:
                limit = None  # "start from the beginning or omit the limit parameter"


def _with_retries(fn: Callable[[], Any], tuning: Tuning, stop: threading.Event | None) -> tuple[Any, int]:
    """Run ``fn``, retrying RETRY-class failures; returns (result, retries used)."""
    attempt = 0
    while True:
        try:
            return fn(), attempt
        except CLIENT_ERRORS as exc:
            failure = classify(exc)
            attempt += 1
            if failure.kind != RETRY or attempt > tuning.list_retries:
                raise
            if not tuning.retry_timeouts and isinstance(exc, urllib3.exceptions.TimeoutError):
                raise
            delay = tuning.backoff(attempt, failure.retry_after)
            if stop is not None:
                if stop.wait(delay):
                    raise
            else:
                threading.Event().wait(delay)

"""Provides injectable faults for the fake API server: error statuses, delays, dropped watch streams.

Each fault matches requests by verb (get, list, watch, create, patch, delete) and resource plural
(None matches any) and fires ``times`` times (None: until cleared).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable


@dataclass
class Fault:
    """One injected misbehaviour."""

    action: str
    """'status' (answer with ``status``), 'delay' (sleep ``seconds`` first), 'drop' (watch only:
    close the connection abruptly after ``after_events`` events) or 'hook' (call ``hook`` first)."""
    verb: str | None = None
    resource: str | None = None
    times: int | None = 1
    status: int = 500
    retry_after: int | None = None
    """Seconds for the Retry-After header (429/503)."""
    seconds: float = 0.0
    after_events: int = 0
    hook: Callable[[Any], None] | None = None
    """For 'hook': called with the RecordedRequest before the server handles it."""
    when: Callable[[dict[str, str]], bool] | None = None
    """Only requests whose query parameters satisfy this (e.g. ``lambda q: "continue" in q``)."""

    def matches(self, verb: str, resource: str, query: dict[str, str]) -> bool:
        return (self.times is None or self.times > 0) and self.verb in (None, verb) \
            and self.resource in (None, resource) and (self.when is None or self.when(query))


class Faults:
    """The faults currently armed; the server asks for the ones matching each request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail(self, status: int = 500, *, verb: str | None = None, resource: str | None = None,
             times: int | None = 1, retry_after: int | None = None,
             when: Callable[[dict[str, str]], bool] | None = None) -> Fault:
        """Answer matching requests with an error Status (500 InternalError, 429 TooManyRequests, ...)."""
        return self.add(Fault("status", verb, resource, times, status=status, retry_after=retry_after, when=when))

    def on_request(self, hook: Callable[[Any], None], *, verb: str | None = None, resource: str | None = None,
                   times: int | None = 1, when: Callable[[dict[str, str]], bool] | None = None) -> Fault:
        """Run ``hook(request)`` before matching requests are handled (e.g. expire tokens mid-list)."""
        return self.add(Fault("hook", verb, resource, times, hook=hook, when=when))

    def delay(self, seconds: float, *, verb: str | None = None, resource: str | None = None,
              times: int | None = 1) -> Fault:
        """Sleep before answering matching requests (a slow server)."""
        return self.add(Fault("delay", verb, resource, times, seconds=seconds))

    def drop_watch(self, *, resource: str | None = None, after_events: int = 0, times: int | None = 1) -> Fault:
        """Cut a matching watch mid-stream (no terminating chunk) after ``after_events`` more events.

        The next matching watch to look takes it: a stream already open, or the next one opened.
        """
        return self.add(Fault("drop", "watch", resource, times, after_events=after_events))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, verb: str, resource: str, action: str, query: dict[str, str] | None = None) -> Fault | None:
        """The first armed fault of this action matching the request, consuming one use of it."""
        with self._lock:
            for f in self._faults:
                if f.action == action and f.matches(verb, resource, query or {}):
                    if f.times is not None:
                        f.times -= 1
                    return f
        return None

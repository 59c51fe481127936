"""Provides ``append_jsonl``: append one JSON document as one line, atomically with respect to other writers.

The line is written with a single ``write`` on a descriptor opened with O_APPEND (the kernel places
each such write at the end of the file as a unit), under an exclusive ``flock`` so that concurrent
appenders (two ``audit --log`` processes, a log shipper's truncation) never interleave, then fsync'ed.
"""

from __future__ import annotations

import json
import os
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


def append_jsonl(path: str, doc: Any) -> None:
    """Append ``doc`` as one JSON line to ``path`` (created with mode 0644 if missing)."""
    data = (json.dumps(doc, separators=(",", ":"), sort_keys=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

"""``kubectl microseg audit``: who changed which policy, and the connectivity diff each change caused.

``audit --watch`` follows the live cluster and prints every policy change as it happens (with
``--log FILE``, also appends it as one JSON line); ``-o json`` prints JSON lines on stdout instead of
text. Without ``--watch`` it lists the policies with their last writer (from managedFields).
``--count N`` and ``--timeout SECONDS`` end the watch (for scripts); Ctrl-C ends it too.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
from typing import Any
from collections.abc import Callable

from ..audit import POLICY_KINDS, AuditRecord, AuditTrail, changed_by, describe_who, render_record
from ..cli import command_parser, ignore_sigpipe
from ..errors import UsageError
from ..io.jsonl import append_jsonl
from ..live import pump_events
from ..sources import Event
from ..vocab import EventType


def register(sub) -> None:
    p = command_parser(sub, "audit", "who changed which policy, and the connectivity each change caused",
                       description="List the policies with their last writer, or with --watch follow the live "
                       "cluster and report every policy change: who changed it (managedFields, annotations) and "
                       "the connectivity diff it caused.")
    p.add_argument("--watch", "-w", action="store_true", help="follow the live cluster and report each change")
    p.add_argument("--log", metavar="FILE", help="also append every change as one JSON line to FILE")
    p.add_argument("-o", "--output", choices=["text", "json"], default="text",
                   help="text, or json (one JSON line per change)")
    p.add_argument("--count", type=int, default=None, metavar="N", help="stop after N policy changes")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="stop watching after SECONDS")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, source: Any = None) -> int:
    """Entry point; ``source`` replaces the one the options choose (tests pass a fake one)."""
    from ..load import analyzer_options, source_for

    if source is None:
        if args.watch and (getattr(args, "filename", None) or getattr(args, "demo", False)):
            raise UsageError("audit --watch follows the live cluster: -f and --demo have no changes to follow")
        source = source_for(args)
    snapshot = source.load()
    if not args.watch:
        return _list(snapshot, args.output)
    trail = AuditTrail(snapshot, analyzer_options(args, snapshot))
    _ = trail.model  # the baseline, analysed before the first event

    def emit(rec: AuditRecord) -> None:
        doc = rec.to_dict()
        if args.log:
            append_jsonl(args.log, doc)
        sys.stdout.write(json.dumps(doc) + "\n" if args.output == "json" else render_record(rec))
        sys.stdout.flush()

    def on_state(ev: Event) -> None:
        print(f"audit: {ev.state}: {ev.detail}", file=sys.stderr, flush=True)

    if args.output == "text":
        print(f"audit: watching policy changes ({snapshot.description}); Ctrl-C to stop", file=sys.stderr, flush=True)
    ignore_sigpipe()
    try:
        follow_changes(source, trail, emit, on_state=on_state, count=args.count, timeout=args.timeout)
    except KeyboardInterrupt:  # Ctrl-C while the watch shuts down: still the user's normal way out
        pass
    except BrokenPipeError:  # `audit --watch | head`: the reader left; end quietly like the listing does
        sys.stdout = None  # the interpreter's exit flush skips a None stdout
    return 0


def follow_changes(source: Any, trail: AuditTrail, emit: Callable[[AuditRecord], None], *,
                   on_state: Callable[[Event], None] | None = None, count: int | None = None,
                   timeout: float | None = None) -> int:
    """Feed ``source.watch()`` events to ``trail`` one by one (each change gets its own diff).

    Returns the number of records emitted. Ends after ``count`` records, after ``timeout`` seconds, on
    Ctrl-C, or when the source's event stream ends; ``source.stop()`` is always called.
    """
    stop = threading.Event()
    events, thread = pump_events(source, stop, "audit-watch")
    deadline = None if timeout is None else time.monotonic() + timeout
    emitted = 0
    try:
        while count is None or emitted < count:
            wait = 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                ev = events.get(timeout=wait)
            except queue.Empty:
                continue
            if ev is None:
                break
            if ev.type == EventType.STATE and on_state is not None:
                on_state(ev)
            rec = trail.handle(ev)
            if rec is not None:
                emit(rec)
                emitted += 1
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        source.stop()
        thread.join(timeout=2)
    return emitted


def _list(snapshot, fmt: str) -> int:
    """The policies and their last writer (no watching)."""
    rows = []
    for obj in sorted((o for o in snapshot.objects if o.kind in POLICY_KINDS), key=lambda o: o.key()):
        who = changed_by(obj.raw, EventType.MODIFIED)
        rows.append({"kind": obj.kind, "namespace": obj.namespace, "name": obj.name, "changedBy": who})
    if fmt == "json":
        sys.stdout.write(json.dumps({"kind": "PolicyWriters", "source": snapshot.description, "policies": rows},
                                    indent=2) + "\n")
        return 0
    for r in rows:
        ident = f"{r['namespace']}/{r['name']}" if r["namespace"] else r["name"]
        print(f"{r['kind']} {ident}: {describe_who(r['changedBy'])}")
    print(f"{len(rows)} polic{'y' if len(rows) == 1 else 'ies'} ({snapshot.description})")
    return 0

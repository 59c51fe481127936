"""Benchmark the TUI (issue 16): first paint, and event → redrawn cell on the live path.

Measured, wall seconds, in Textual's headless pilot at 160×45:
- first paint: from starting the app to the matrix drawn (the load worker analysed the source and the
  grid rendered its first frame), on the demo and on the generated cluster of size M (and L with --with-l);
- event → redrawn cell, size L: a watching source (the generated cluster) emits one event; the time until
  the cell it changes is drawn in its new state. Three events: a NetworkPolicy change that denies the pair, a
  pod-template label of a team workload, and a label on the CoreDNS Deployment (every pod may reach it:
  the worst case). The policy event deletes the namespace's ``frontend-to-api`` policy, which alone allows
the measured frontend → api cell (and adds it back between runs). The path is the app's own: the watch
  thread → LiveUpdates (object store, batch; no debounce) → worker: LiveModel.apply + matrix patch → the
  matrix screen patches the changed cells → the frame. Each event is sent to an idle app (the open side
  panel, refilled about a second after the last update on large clusters, has finished); an event
  arriving during that refill waits for it. A policy event's audit record follows the redraw.
- the same events split by stage (``stage_*``): watch → UI thread, UI → worker (store, batch, worker
  start), model (``LiveModel.apply`` and the matrix patch under the lock; ``model_cpu``: that thread's
  CPU time, which the other processes on the machine cannot inflate), worker → UI, screen patch, frame.

Run: ``python benchmarks/tui.py [--runs N] [--json FILE]``. Needs the generated clusters (made here).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

from kubectl_microseg.model.objects import SourceObject  # noqa: E402
from kubectl_microseg.plugins.demo import DemoSource  # noqa: E402
from kubectl_microseg.plugins.manifests import ManifestSource  # noqa: E402
from kubectl_microseg.sources import Event, Snapshot  # noqa: E402
from kubectl_microseg.tui.app import MicrosegApp  # noqa: E402
from kubectl_microseg.tui.screens.matrix import PANELS_AFTER_SECONDS  # noqa: E402

SIZE = (160, 45)


class Stages:
    """Timestamps of one event's way through the app (the app's own methods, wrapped; nothing else changes)."""

    def __init__(self) -> None:
        self.t: dict[str, float] = {}
        self.cpu = 0.0
        self.rows: list[dict[str, float]] = []

    def mark(self, name: str) -> None:
        self.t.setdefault(name, time.perf_counter())

    def wrap(self, owner: object, attr: str, before: str | None, after: str | None) -> None:
        real = getattr(owner, attr)
        stages = self

        def wrapped(*args, **kw):
            if before:
                stages.mark(before)
            try:
                return real(*args, **kw)
            finally:
                if after:
                    stages.mark(after)
        setattr(owner, attr, wrapped)

    def install(self) -> None:
        from kubectl_microseg.engine import incremental
        from kubectl_microseg.tui import live_updates, session
        from kubectl_microseg.tui.screens.matrix import MatrixScreen

        self.wrap(live_updates.LiveUpdates, "event", "ui", None)
        self.wrap(live_updates.LiveUpdates, "_update", "worker", None)
        self.wrap(live_updates, "live_session", "model", "model_done")
        self.wrap(MatrixScreen, "show_session", "screen", "screen_done")
        real_apply = incremental.LiveModel.apply

        def apply(model, *args, **kw):
            c0 = time.thread_time()
            try:
                return real_apply(model, *args, **kw)
            finally:
                self.cpu = time.thread_time() - c0
        incremental.LiveModel.apply = apply  # type: ignore[method-assign]
        del session

    def start(self) -> None:
        self.t = {}
        self.cpu = 0.0
        self.mark("put")

    def finish(self) -> None:
        """One event: the time of each stage (seconds)."""
        self.mark("drawn")
        t = self.t
        order = ["put", "ui", "worker", "model", "model_done", "screen", "screen_done", "drawn"]
        if not all(k in t for k in order):
            return
        names = ["watch_to_ui", "ui_to_worker", "model", "worker_to_ui", "screen_patch", "frame"]
        pairs = [("put", "ui"), ("ui", "worker"), ("model", "model_done"), ("model_done", "screen"),
                 ("screen", "screen_done"), ("screen_done", "drawn")]
        row = {n: t[b] - t[a] for n, (a, b) in zip(names, pairs)}
        row["model_cpu"] = self.cpu
        self.rows.append(row)


STAGES = Stages()


class Watching:
    """A watching source over a loaded snapshot; ``emit`` queues an event for ``watch``."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.events: queue.Queue = queue.Queue()
        self.stopped = False

    def load(self) -> Snapshot:
        return self.snapshot

    def watch(self):
        while not self.stopped:
            try:
                ev = self.events.get(timeout=0.01)
            except queue.Empty:
                continue
            if ev is None:
                return
            yield ev

    def stop(self) -> None:
        self.stopped = True
        self.events.put(None)


async def until(pilot, predicate, timeout: float = 120.0) -> float:
    t0 = time.perf_counter()
    while not predicate():
        await asyncio.sleep(0.002)
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError
    # the frame with the change is rendered (not pilot.pause(): that also waits for unrelated work queued
    # after it, such as a policy event's audit record, which starts once the cells are on screen)
    drawn = asyncio.get_running_loop().create_future()
    pilot.app.call_after_refresh(lambda: drawn.done() or drawn.set_result(None))
    await drawn
    return time.perf_counter() - t0


async def first_paint(source) -> float:
    t0 = time.perf_counter()
    app = MicrosegApp(source, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.matrix_screen.model is not None and app.matrix_screen.grid.model is not None)
        app.matrix_screen.grid.render_line(app.matrix_screen.grid.header_h)  # the first body line is drawn
        return time.perf_counter() - t0


def relabel(obj: SourceObject, value: str) -> SourceObject:
    raw = copy.deepcopy(obj.raw)
    raw["spec"]["template"]["metadata"]["labels"]["bench"] = value
    return SourceObject(raw, obj.origin)


def drawn(app, src: str, dst: str):
    """The cell view the grid draws for (src, dst): its state and ports."""
    rows = {r.key: r for r in app.matrix_screen.model.rows}
    cols = {c.key: c for c in app.matrix_screen.model.cols}
    v = app.matrix_screen.model.cell(rows[src], cols[dst])
    return (v.state, v.conns)


async def events_at(snapshot: Snapshot, runs: int) -> dict[str, list[float]]:
    source = Watching(snapshot)
    app = MicrosegApp(source)
    out: dict[str, list[float]] = {"policy": [], "pod": [], "coredns": []}
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.matrix_screen.model is not None and app.matrix_screen.status.state == "watching")
        m = app.session.matrix
        # a pair allowed now whose destination namespace a deny-all-ingress policy will cut
        eps = {e.id: e for e in m.endpoints}
        # frontend → api inside one namespace: allowed by that namespace's policy frontend-to-api only
        src, dst = next((s, d) for (s, d), c in m.cells.items()
                        if not eps[s].is_external and not eps[d].is_external and not c.uncertain
                        and eps[s].namespace == eps[d].namespace != "kube-system"
                        and dict(eps[s].labels).get("tier") == "frontend" and dict(eps[d].labels).get("tier") == "api")
        ns = dst.split("/")[0]
        app.matrix_screen.jump_to(ns, dst)
        app.matrix_screen.jump_to(src.split("/")[0], src)
        await pilot.pause()
        team = next(o for o in snapshot.objects if o.kind == "Deployment" and o.namespace == ns)
        policy = next(o for o in snapshot.objects if o.kind == "NetworkPolicy" and o.namespace == ns
                      and o.name == "frontend-to-api")
        dns = next(o for o in snapshot.objects if o.kind == "Deployment" and o.namespace == "kube-system")
        async def settle() -> None:  # an idle app: the side panels' deferred refill has run
            await asyncio.sleep(PANELS_AFTER_SECONDS + 1.0)
            await pilot.pause()

        stage_rows: dict[str, list[dict[str, float]]] = {"policy": [], "pod": [], "coredns": []}
        for i in range(runs):
            await settle()
            before, was = app._shown_generation, drawn(app, src, dst)
            STAGES.start()
            source.events.put(Event("DELETED", policy))
            out["policy"].append(await until(pilot, lambda before=before, was=was: app._shown_generation > before
                                             and drawn(app, src, dst) != was))
            STAGES.finish()
            stage_rows["policy"].extend(STAGES.rows[-1:])
            before = app._shown_generation
            source.events.put(Event("ADDED", policy))
            await until(pilot, lambda before=before, was=was: app._shown_generation > before
                        and drawn(app, src, dst) == was)
            for name, obj in (("pod", team), ("coredns", dns)):
                await settle()
                before = app._shown_generation
                STAGES.start()
                source.events.put(Event("MODIFIED", relabel(obj, f"r{i}")))
                out[name].append(await until(pilot, lambda before=before: app._shown_generation > before))
                STAGES.finish()
                stage_rows[name].extend(STAGES.rows[-1:])
                STAGES.rows.clear()
    for name, rows in stage_rows.items():
        for stage in rows[0] if rows else ():
            out[f"stage_{stage}_{name}"] = [r[stage] for r in rows]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--events-only", action="store_true", help="skip the first-paint measurements")
    args = ap.parse_args(argv)
    results: dict[str, object] = {}
    if not args.events_only:
        results["first_paint_demo"] = [asyncio.run(first_paint(DemoSource())) for _ in range(3)]
    with tempfile.TemporaryDirectory() as tmp:
        for size in ("M", "L"):
            generate(size, f"{tmp}/{size}")
        if not args.events_only:
            results["first_paint_M"] = [asyncio.run(first_paint(ManifestSource([f"{tmp}/M"]))) for _ in range(3)]
        snap_l = ManifestSource([f"{tmp}/L"]).load()
        STAGES.install()
        ev = asyncio.run(events_at(snap_l, args.runs))
        results.update({f"event_{k}_L": v for k, v in ev.items()})
    for name, values in results.items():
        vs = sorted(values)  # type: ignore[arg-type]
        print(f"{name:<28} median {statistics.median(vs) * 1000:8.1f} ms   range {vs[0] * 1000:.1f}–{vs[-1] * 1000:.1f} ms"
              f"   ({len(vs)} runs)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

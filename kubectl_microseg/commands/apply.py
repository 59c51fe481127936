"""``kubectl microseg apply``: show the connectivity diff, confirm, dry-run on the server, then apply.

The sequence, and the promise behind it:

1. Read the files (NetworkPolicies only) and the live cluster; show the connectivity diff (as simulate).
2. Refuse (exit 1, nothing sent) when flows become denied or lose ports, or a guard fires (DNS cut, an
   expected flow cut, a workload newly open to the cluster or the internet), unless ``--allow-breaking``:
   ``--yes`` answers the question, it does not accept a breaking change.
3. Ask for confirmation on the terminal, unless ``--yes``. Without a terminal and without ``--yes``, refuse
   (exit 2). A "no" sends nothing to the cluster (exit 1).
4. Server-side dry run (``dryRun=All``) of every object. If any fails, nothing is applied.
5. Server-side apply of each object in order, field manager ``kubectl-microseg`` (reapplying is
   idempotent); each is reported created, configured or unchanged. On a failure, stop and report exactly
   which objects were applied and which were not.

``apply`` needs a live cluster: with ``--demo`` or ``--base`` it refuses (exit 2); an unreachable cluster
exits 3, a refusal by the API server (validation, RBAC, conflict) exits 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any, TextIO

from ..cli import command_parser
from ..engine.simulate import object_key, simulate
from ..errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, UsageError
from ..load import analyzer_options
from ..model.cluster import build_cluster, expand_lists
from ..model.objects import SourceObject
from ..sources import load_source_class
from ._diffing import describe_changes_option, add_expect_option, load_expectations, show


def register(sub) -> None:
    p = command_parser(
        sub, "apply", "apply NetworkPolicies safely: diff, confirm, server-side dry run, server-side apply",
        description="Show the connectivity diff the files would make on the live cluster, ask for confirmation "
        "(or --yes), run a server-side dry run (dryRun=All) of every object, then server-side apply them with "
        "field manager kubectl-microseg. Reports each object created, configured or unchanged; on a failure, "
        "stops and says what was applied and what was not. Needs a live cluster.")
    add_expect_option(p)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--allow-breaking", action="store_true",
                   help="apply even when flows become denied or lose ports, or a guard fires (default: refuse, exit 1)")
    p.add_argument("--dry-run", action="store_true",
                   help="only the server-side dry run: show what would happen, change nothing")
    p.add_argument("--force-conflicts", action="store_true",
                   help="take over fields another field manager owns (server-side apply force)")
    p.add_argument("--base", action="append", metavar="PATH", help=argparse.SUPPRESS)
    describe_changes_option(p, "the NetworkPolicies to apply (file or directory, recursive); repeatable")
    p.set_defaults(func=run)


def read_policies(paths: list[str], default_namespace: str) -> list[SourceObject]:
    """The NetworkPolicies of the files (any other kind is refused; each policy is validated)."""
    objs = expand_lists(load_source_class("manifests")(list(paths)).load().objects)
    others = [o for o in objs if o.kind != "NetworkPolicy"]
    if others:
        o = others[0]
        more = f" (and {len(others) - 1} more)" if len(others) > 1 else ""
        raise UsageError(f"{o.origin.describe()}: apply only applies NetworkPolicies, not "
                         f"{o.kind or 'an object without kind'} {o.name}".rstrip() + more)
    if not objs:
        raise UsageError(f"no NetworkPolicy in {', '.join(paths)}")
    seen: dict[tuple[str, str, str], SourceObject] = {}
    for o in objs:
        key = object_key(o, default_namespace)
        if key in seen:
            raise UsageError(f"NetworkPolicy {key[1]}/{key[2]} is given twice: {seen[key].origin.describe()} and "
                             f"{o.origin.describe()}")
        seen[key] = o
    build_cluster(objs)  # located InputError for an invalid policy, before anything is sent
    return objs


def confirm(prompt: str, stdin: TextIO | None = None, stderr: TextIO | None = None) -> bool | None:
    """Ask yes/no on the terminal; None when there is no terminal to ask on."""
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    if stdin is None or not stdin.isatty():
        return None
    stderr.write(prompt)
    stderr.flush()
    answer = stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _label(ns: str, name: str) -> str:
    return f"NetworkPolicy {ns}/{name}"


def run(args: argparse.Namespace) -> int:
    if getattr(args, "demo", False) or args.base:
        raise UsageError("apply changes a live cluster and reads its current state from there; it cannot use "
                         f"{'--demo' if getattr(args, 'demo', False) else '--base'}. Preview against files or the "
                         "demo with: kubectl microseg simulate --base FILES|--demo -f CHANGED")
    paths = getattr(args, "filename", None)
    if not paths:
        raise UsageError("apply needs -f FILES (the NetworkPolicies to apply)")
    expectations = load_expectations(args.expect)
    policies = read_policies(list(paths), getattr(args, "namespace", None) or "default")  # bad input: exit 2 first
    source = load_source_class("kube").from_args(args)  # applying writes to a cluster: only the live one can
    try:
        return _run(args, source, policies, expectations)
    finally:
        close = getattr(source, "close", None)  # the live source's connection pool (not in the Source protocol)
        if close is not None:
            close()


def _run(args: argparse.Namespace, source: Any, policies: list[SourceObject], expectations: list[Any]) -> int:
    conn = source.connection  # UsageError (kubeconfig) or UnreachableError (exit 3)
    default_ns = getattr(args, "namespace", None) or conn.namespace
    snapshot = source.load()
    diff, sim = simulate(snapshot.objects, policies, options=analyzer_options(args, snapshot),
                         expectations=expectations, default_namespace=default_ns,
                         base_title=snapshot.description)
    diff.notes[:0] = snapshot.notes
    show(diff, args, changes=[c.describe() for c in sim.changes], warnings=snapshot.warnings)
    refusal = breaking_refusal(diff, partial=bool(snapshot.warnings or snapshot.uncertain_reasons))
    if refusal and not args.allow_breaking:
        print(f"{refusal}. Nothing was applied (exit 1); review the diff above, then re-run with --allow-breaking "
              "to apply anyway.", file=sys.stderr)
        return EXIT_FAILED

    bodies = [_body(o, default_ns) for o in policies]
    if not args.dry_run and not args.yes:
        answer = confirm(f"Apply {len(bodies)} NetworkPolicy object(s) to context {conn.context} ({conn.server})? "
                         "[y/N] ")
        if answer is None:
            raise UsageError("refusing to apply without confirmation: standard input is not a terminal; "
                             "re-run with --yes to apply, or --dry-run to only check. Nothing was applied.")
        if not answer:
            print("Not applied: no change was sent to the cluster.", file=sys.stderr)
            return EXIT_FAILED
    return apply_all(conn, bodies, args)


def breaking_refusal(diff: Any, partial: bool = False) -> str:
    """Why the diff must not be applied without --allow-breaking ('' when it may).

    A partial view of the cluster (forbidden lists) cannot show every flow the change cuts: refused too.
    """
    lost = diff.breaking()
    why = ["the view of the cluster is partial (see the warnings above), so flows the change cuts may not be "
           "shown"] if partial else []
    if lost:
        cut = sum(1 for p in lost if p.after.is_empty())
        why.append(f"{len(lost)} flow(s) lose connectivity ({cut} become denied, {len(lost) - cut} lose ports)")
    if diff.findings:
        kinds = ", ".join(dict.fromkeys(f.kind for f in diff.findings))
        why.append(f"{len(diff.findings)} guard finding(s) ({kinds})")
    return "Refusing to apply: " + " and ".join(why) if why else ""


def _body(obj: SourceObject, default_ns: str) -> dict[str, Any]:
    from kubectl_microseg.plugins.kube.apply import apply_body

    return apply_body(obj.raw, obj.namespace or default_ns)


def apply_all(conn: Any, bodies: list[dict[str, Any]], args: argparse.Namespace,
              out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Dry-run every object, then apply them in order; report; the exit code."""
    from kubectl_microseg.plugins.kube.apply import ApplyFailed, PolicyApplier
    from kubectl_microseg.plugins.kube.config import parse_request_timeout

    out = out or sys.stdout
    err = err or sys.stderr
    timeout = parse_request_timeout(getattr(args, "request_timeout", None))
    applier = PolicyApplier(conn, force=bool(args.force_conflicts), timeout=timeout or None)
    ids = [(b["metadata"]["namespace"], b["metadata"]["name"]) for b in bodies]

    out.write("\nserver-side dry run:\n")
    for body, (ns, name) in zip(bodies, ids):
        try:
            o = applier.apply(body, dry_run=True)
        except ApplyFailed as exc:
            err.write(f"error: {exc.message}\nNothing was applied: the server-side dry run must pass for every "
                      f"object first.{_hint(exc)}\n")
            return EXIT_UNREACHABLE if exc.unreachable else EXIT_BAD_INPUT
        out.write(f"  {_label(ns, name)} {o.action} (dry run)\n")
    if args.dry_run:
        out.write("Dry run only: nothing was changed.\n")
        return EXIT_OK

    out.write("apply:\n")
    done: list[str] = []
    # Ctrl-C stops between objects, never inside one: the object being sent is finished, then the loop
    # stops and reports exactly what was applied (each object is one server-side apply: all or nothing).
    interrupted: list[bool] = []
    old_handler = _catch_sigint(lambda *_: interrupted.append(True))
    try:
        for i, (body, (ns, name)) in enumerate(zip(bodies, ids)):
            if interrupted:
                rest = [_label(n, m) for n, m in ids[i:]]
                err.write("Interrupted: stopped between objects. Applied: " + (", ".join(done) or "none") + ".\n")
                err.write("Not applied: " + ", ".join(rest) + ".\n")
                return 130
            try:
                o = applier.apply(body, dry_run=False)
            except ApplyFailed as exc:
                rest = [_label(n, m) for n, m in ids[i + 1:]]
                err.write(f"error: {exc.message}\n")
                err.write("Stopped. Applied before the failure: " + (", ".join(done) or "none") + ".\n")
                err.write(f"Not applied: {_label(ns, name)} (failed)" + "".join(f", {r}" for r in rest) + ".\n")
                return EXIT_UNREACHABLE if exc.unreachable else EXIT_BAD_INPUT
            done.append(f"{_label(ns, name)} ({o.action})")
            out.write(f"  {_label(ns, name)} {o.action}\n")
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
    if interrupted:
        err.write("Interrupted after the last object: everything was applied.\n")
        return 130
    return EXIT_OK


def _catch_sigint(handler: Any) -> Any:
    """Install ``handler`` for SIGINT (main thread only); the previous handler, or None if not installed."""
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: Ctrl-C cannot reach us here anyway
        return None


def _hint(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if status == 409:
        return " Another field manager owns these fields: --force-conflicts takes them over."
    if status == 403:
        return " Your user may not patch NetworkPolicies there (kubectl auth can-i patch networkpolicies)."
    return ""

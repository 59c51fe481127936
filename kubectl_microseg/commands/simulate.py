"""``kubectl microseg simulate``: the connectivity effect of changed, added or deleted policies.

The base is the live cluster, ``--demo`` or ``--base FILES``; the changes are ``-f`` files (objects that
replace the base object with the same kind, namespace and name, or are added) and ``--delete NS/NAME``.
Exit 1 when a flow between existing workloads becomes denied (unless ``--allow-breaking``), so a CI job can
gate on it; with ``--fail-on-guard`` also when a guard fires.
"""

from __future__ import annotations

import argparse
import copy
import sys

from ..cli import command_parser
from ..engine.simulate import Deletion, simulate
from ..errors import EXIT_FAILED, UsageError
from ..load import analyzer_options, load_snapshot
from ..sources import Snapshot, load_source_class
from ..model.cluster import expand_lists
from ._diffing import describe_changes_option, add_diff_options, focus, gate, load_expectations, show


def register(sub) -> None:
    p = command_parser(
        sub, "simulate", "show what changed or deleted policies would do to connectivity",
        description="Compare the connectivity of the current state (the live cluster, --demo, or --base files) "
        "with the state after the changes: -f files with new or changed objects, --delete NS/NAME for "
        "NetworkPolicies to remove. Lists flows newly denied, newly allowed and with ports changed, grouped "
        "by namespace, with the policy and rule responsible. Exit 1 if any flow becomes denied (unless "
        "--allow-breaking), 2 on bad input, 3 if the cluster cannot be read.")
    p.add_argument("--base", action="append", metavar="PATH",
                   help="manifest files or directories for the current state instead of the live cluster; repeatable")
    p.add_argument("--delete", action="append", metavar="NS/NAME", default=[],
                   help="a NetworkPolicy to delete in the simulation; repeatable")
    add_diff_options(p)
    p.add_argument("--staged", action="store_true",
                   help="promote the base's Calico staged policies (StagedNetworkPolicy, StagedGlobalNetworkPolicy, "
                        "StagedKubernetesNetworkPolicy): show what enforcing them changes")
    p.add_argument("--allow-breaking", action="store_true",
                   help="exit 0 even when flows become denied (still listed)")
    p.add_argument("--fail-on-guard", action="store_true",
                   help="also exit 1 when a guard fires (DNS broken, expected flow cut, namespace opened)")
    p.add_argument("--observed", action="append", metavar="FILE", default=[],
                   help="observed flows (hubble observe -o json, Calico flow logs, conntrack -L): say which of them "
                   "the change would drop (they count as flows that become denied); repeatable")
    describe_changes_option(p, "new or changed objects (file or directory, recursive); repeatable")
    p.set_defaults(func=run)


def read_files(paths: list[str]) -> Snapshot:
    """Objects of manifest files and directories (through the ``manifests`` source)."""
    return load_source_class("manifests")(list(paths)).load()


def load_base(args: argparse.Namespace) -> Snapshot:
    """The current state: --base files, the demo, or the live cluster."""
    if args.base and getattr(args, "demo", False):
        raise UsageError("choose one base: --base FILES or --demo, not both")
    if args.base:
        snap = read_files(args.base)
        snap.description = "base: " + ", ".join(args.base)
        return snap
    base_args = copy.copy(args)
    base_args.filename = None
    return load_snapshot(base_args)


def _observed(args: argparse.Namespace, base: Snapshot, sim) -> list[dict]:
    """Observed connections judged before and after the change (see ``observed.observed_change``)."""
    from dataclasses import replace

    from ..engine.analyze import analyze
    from .observed import observed_change

    options = analyzer_options(args, base)
    return observed_change(args, analyze(base, options), analyze(replace(base, objects=sim.objects), options), base,
                           args.observed)


def run(args: argparse.Namespace) -> int:
    changed_paths = getattr(args, "filename", None) or []
    if not changed_paths and not args.delete and not args.staged:
        raise UsageError("nothing to simulate: give -f FILES with new or changed objects, --delete NS/NAME "
                         "and/or --staged")
    expectations = load_expectations(args.expect)
    changed = read_files(changed_paths).objects if changed_paths else []
    default_ns = getattr(args, "namespace", None) or "default"
    deletions = [Deletion.parse(d, default_ns) for d in args.delete]
    base = load_base(args)
    if args.staged:
        from ..engine.simulate import object_key
        from ..model.calico import promote_staged

        sets, deletes = promote_staged(expand_lists(base.objects))
        if not sets and not deletes:
            raise UsageError("--staged: the base has no Calico staged policies (StagedNetworkPolicy, "
                             "StagedGlobalNetworkPolicy, StagedKubernetesNetworkPolicy)")
        present = {object_key(o, "default") for o in expand_lists(base.objects)}
        changed = sets + changed
        deletions += [Deletion(ns, name, kind) for kind, ns, name in deletes if (kind, ns, name) in present]
    diff, sim = simulate(base.objects, changed, deletions, options=analyzer_options(args, base),
                         expectations=expectations, default_namespace=default_ns, base_title=base.description)
    diff.notes[:0] = base.notes
    diff = focus(diff, args)
    observed = _observed(args, base, sim) if args.observed else None
    if observed is not None and args.output == "json":
        import json

        from ..render.diff import render_diff

        doc = json.loads(render_diff(diff, "json", changes=[c.describe() for c in sim.changes]))
        doc["observed"] = observed
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        for note in diff.notes:
            print(f"note: {note}", file=sys.stderr)
    else:
        show(diff, args, changes=[c.describe() for c in sim.changes], warnings=base.warnings)
        if observed is not None:
            from .observed import print_observed_change

            print_observed_change(observed)
    code = gate(diff, allow_breaking=args.allow_breaking, fail_on_guard=args.fail_on_guard)
    if observed and any(r["lost"] for r in observed) and not args.allow_breaking:
        code = code or EXIT_FAILED
    if code and args.output == "text":
        if diff.breaking() and not args.allow_breaking:
            lost = diff.breaking()
            cut = sum(1 for p in lost if p.after.is_empty())
            print(f"{len(lost)} flow(s) lose connectivity ({cut} become denied, {len(lost) - cut} lose ports) "
                  "(exit 1; --allow-breaking to accept)", file=sys.stderr)
        elif args.fail_on_guard and diff.findings:
            print(f"{len(diff.findings)} guard finding(s) (exit 1: --fail-on-guard)", file=sys.stderr)
    return code

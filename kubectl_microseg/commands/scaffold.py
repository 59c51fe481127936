"""``kubectl microseg scaffold KIND``: write commented NetworkPolicies from intent and the model.

The policies go to stdout (multi-document YAML) or, with ``--out DIR``, one file per policy named
``NAMESPACE_NAME.yaml`` (an underscore cannot occur in either, so names never collide), written
atomically and never over an existing file without ``--force``. Before that, the impact on the
connectivity matrix is printed to stderr, computed by the simulation engine (``engine.simulate`` and
``engine.diff``, as ``kubectl microseg simulate`` does): counts of newly allowed and newly denied pairs
and the connections that would be lost (``--impact full`` for the whole diff with causes, ``--impact
none`` to skip; ``--no-cluster`` reads no model at all).
"""

from __future__ import annotations

import argparse
import os
import sys

from ..cli import add_source_options, command_parser
from ..engine.diff import MatrixDiff
from ..engine.simulate import ObjectChange
from ..errors import UsageError
from ..sources import Snapshot
from ..io.atomic import existing, write_files
from ..load import analyzer_options, load_analyzer
from ..render.diff import Row, render_diff, rows
from ..scaffold.draft import PolicyDraft, validate
from ..scaffold.impact import Counts, scaffold_diff
from ..scaffold.yaml_out import dump
from ..scaffold_kinds import KINDS, Model, add_arguments


def register(sub) -> None:
    p = command_parser(sub, "scaffold", "write commented NetworkPolicies from intent (default deny, DNS, tiers, ...)",
                       description="Write NetworkPolicies the way a careful engineer would: commented YAML, every "
                       "allow rule saying why it exists, checked by the engine, with the matrix impact shown first.")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    for name, kind in KINDS.items():
        kp = kinds.add_parser(name, help=kind.help, description=kind.help)
        add_arguments(kp, kind)
        g = kp.add_argument_group("output")
        g.add_argument("--out", metavar="DIR", help="write one file per policy into DIR instead of stdout")
        g.add_argument("--force", action="store_true", help="with --out, replace existing files")
        g.add_argument("--format", choices=("networkpolicy", "cilium", "calico"), default="networkpolicy",
                       help="networkpolicy (default); cilium: the same policies as CiliumNetworkPolicies "
                            "(an L7 http rule on an API tier's ports); calico: as projectcalico.org/v3 "
                            "NetworkPolicies in the default tier at order 1000")
        g.add_argument("--impact", choices=("summary", "full", "none"), default="summary",
                       help="matrix impact on stderr: counts and lost connections (default), the full diff, or none")
        g.add_argument("--impact-limit", type=non_negative, default=15, metavar="N", help="list at most N lost connections")
        g.add_argument("--no-cluster", action="store_true",
                       help="read no model (no discovery, no impact): standard labels are assumed")
        add_source_options(kp, suppress=True)
    p.set_defaults(func=run)


def non_negative(text: str) -> int:
    """argparse type: a whole number >= 0."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, not {text!r}")
    return n


def file_name(d: PolicyDraft) -> str:
    return f"{d.namespace}_{d.name}.yaml" if d.namespace else f"cluster_{d.name}.yaml"


def cilium_drafts(drafts: list[PolicyDraft]) -> list[PolicyDraft]:
    """The drafts in CiliumNetworkPolicy form (scaffold.cilium_form), validated by the Cilium model."""
    from ..model.cilium import parse_policy
    from ..model.policy import FieldError
    from ..scaffold.cilium_form import to_cilium

    out: list[PolicyDraft] = []
    for d in drafts:
        if d.manifest().get("kind") != "NetworkPolicy":
            raise UsageError(f"--format cilium: {d.id} is a {d.manifest().get('kind')}, which has no Cilium form here")
        c = to_cilium(d)
        try:
            parse_policy(c.manifest(), {})
        except FieldError as e:  # a translation bug, never the user's input
            raise UsageError(f"--format cilium: {d.id}: {e.message}") from None
        out.append(c)
    return out


def calico_drafts(drafts: list[PolicyDraft]) -> list[PolicyDraft]:
    """The drafts in Calico NetworkPolicy form (scaffold.calico_form), validated by the Calico model."""
    from ..model.calico import parse_calico_policy
    from ..model.policy import FieldError
    from ..scaffold.calico_form import to_calico

    out: list[PolicyDraft] = []
    for d in drafts:
        if d.manifest().get("apiVersion") == "projectcalico.org/v3":  # written in Calico form (--cluster-wide)
            out.append(d)
            continue
        if d.manifest().get("kind") != "NetworkPolicy":
            raise UsageError(f"--format calico: {d.id} is a {d.manifest().get('kind')}, which has no Calico form here")
        c = to_calico(d)
        try:
            parse_calico_policy(c.manifest())
        except FieldError as e:  # a translation bug, never the user's input
            raise UsageError(f"--format calico: {d.id}: {e.message}") from None
        out.append(c)
    return out


def load_model(args: argparse.Namespace) -> tuple[Model, Snapshot | None]:
    if args.no_cluster:
        if getattr(args, "filename", None) or getattr(args, "demo", False):
            raise UsageError("--no-cluster reads no model: leave out -f/--demo")
        return Model(None), None
    analyzer, snapshot = load_analyzer(args, namespace_must_exist=False)  # policies may precede their namespace
    return Model(analyzer.cluster, analyzer, analyzer.matrix(), list(snapshot.objects)), snapshot


def _line(r: Row) -> str:
    p = r.pair
    what = (f"was {p.before.describe()}, now denied" if not p.after
            else f"loses {p.newly_denied.describe()} (keeps {p.after.describe()})")
    cause = f"  [{p.causes[0].short()}]" if p.causes else ""
    return f"    {r.src} -> {r.dst}: {what}{cause}"


def _gain_line(r: Row) -> str:
    p = r.pair
    what = (f"now {p.after.describe('all ports')} (was denied)" if not p.before
            else f"gains {p.newly_allowed.describe('all ports')} (had {p.before.describe('all ports')})")
    return f"    {r.src} -> {r.dst}: {what}"


def summary_lines(diff: MatrixDiff, changes: list[ObjectChange], title: str, limit: int = 15) -> list[str]:
    """Human lines for stderr: counts, replaced policies, guard findings (DNS cut, ...), then the lost
    connections (first ``limit`` rows; a workload's outside ranges that change alike share a row)."""
    c = Counts.of(diff)
    lines = [f"impact on the connectivity matrix ({title}):",
             f"  newly allowed pairs: {c.newly_allowed}    newly denied pairs: {c.newly_denied}",
             f"  pairs losing ports: {c.fewer_ports}    pairs gaining ports: {c.more_ports}"]
    lines.extend(f"  {ch.describe()}" for ch in changes if ch.action == "replace")
    lines.extend(f"  ! {f.kind}: {f.message}" for f in diff.findings if not f.kind.startswith("mesh-"))
    lines.extend(mesh_lines(diff, limit))
    gaining = rows(p for p in diff.differences() if p.newly_allowed)
    if gaining:
        lines.append("  connections newly allowed (check they are intended):")
        lines.extend(_gain_line(r) for r in gaining[:limit])
        if len(gaining) > limit:
            lines.append(f"    ... and {len(gaining) - limit} more (--impact full lists every change)")
    losing = rows(diff.breaking())
    if losing:
        lines.append("  connections that would be lost (check before applying):")
        lines.extend(_line(r) for r in losing[:limit])
        if len(losing) > limit:
            lines.append(f"    ... and {len(losing) - limit} more (--impact full lists every change)")
    return lines


def mesh_lines(diff: MatrixDiff, limit: int) -> list[str]:
    """The service-mesh part of the impact: pairs L4 allows whose mesh verdict changes (newly denied first)."""
    from ..engine.mesh import change_line

    if not diff.mesh_changes:
        return []
    changes = sorted(diff.mesh_changes, key=lambda c: not c["newlyDenied"])
    cut = sum(c["newlyDenied"] for c in changes)
    lines = [f"  service mesh: {len(changes)} pair(s) change their mesh verdict, {cut} newly denied or refused"
             + (" (check before applying):" if cut else ":")]
    for c in changes[:limit]:
        because = "; ".join(x["text"] for x in c.get("causes", ()))
        lines.append(f"    {'!' if c['newlyDenied'] else '~'} {change_line(c)}" + (f"  [{because}]" if because else ""))
    if len(changes) > limit:
        lines.append(f"    ... and {len(changes) - limit} more (--impact full lists every change)")
    return lines


def impact_lines(args: argparse.Namespace, snapshot, drafts: list[PolicyDraft]) -> list[str]:
    """Apply the drafts to the model with the simulation engine and describe what changes."""
    title = f"{snapshot.description} + {len(drafts)} scaffolded {'policy' if len(drafts) == 1 else 'policies'}"
    diff, changes = scaffold_diff(snapshot.objects, drafts, analyzer_options(args, snapshot), snapshot.description)
    if args.impact == "full":
        return render_diff(diff, "text", changes=[c.describe() for c in changes]).rstrip("\n").split("\n")
    return summary_lines(diff, changes, title, args.impact_limit)


def run(args: argparse.Namespace) -> int:
    kind = KINDS[args.kind]
    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a file, not a directory")
    model, snapshot = load_model(args)
    drafts, notes = kind.build(args, model)
    validate(drafts)
    if getattr(args, "format", "networkpolicy") == "cilium":
        drafts = cilium_drafts(drafts)
    elif getattr(args, "format", "networkpolicy") == "calico":
        drafts = calico_drafts(drafts)
    for note in dict.fromkeys(n for n in notes + [x for d in drafts for x in d.notes] if n):
        print(f"note: {note}", file=sys.stderr)
    if snapshot is not None and args.impact != "none" and drafts:
        for line in impact_lines(args, snapshot, drafts):
            print(line, file=sys.stderr)
    extra = (f"Generated by kubectl-microseg scaffold {args.kind}; review before applying.",) + tuple(
        f"WARNING: {w}" for w in (snapshot.warnings if snapshot is not None else []))
    if not args.out:
        if args.force:
            raise UsageError("--force only applies with --out DIR")
        sys.stdout.write(dump(drafts, extra))
        return 0
    files = {os.path.join(args.out, file_name(d)): dump([d], extra) for d in drafts}
    if not args.force:
        clash = existing(list(files))
        if clash:
            raise UsageError(f"{len(clash)} file(s) exist, nothing written (use --force to replace): {', '.join(clash)}")
    try:
        os.makedirs(args.out, exist_ok=True)
        written = write_files(files, overwrite=args.force)
    except FileExistsError as exc:  # appeared between the check and the write
        raise UsageError(f"{exc.filename} appeared while writing; not replaced (use --force)") from None
    except OSError as exc:
        raise UsageError(f"cannot write to {args.out}: {exc.strerror or exc}") from None
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0

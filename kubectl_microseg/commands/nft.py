"""``kubectl microseg nft``: host firewalls (nftables) with the same views as Kubernetes.

Sub-commands: ``test`` (docs/contract.md ``nft test``), ``explain``, ``matrix``, ``simulate``, ``scaffold``
and ``apply`` (in ``_nft_apply``). The ruleset comes from ``--ruleset FILE`` (``nft -f`` syntax or
``nft -j`` JSON), ``--demo`` (the demo database server), or the live ruleset of this host.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .. import demo as demo_data
from ..cli import command_parser, installed_sources
from ..engine.matrix import Matrix
from ..errors import EXIT_FAILED, InputError, Origin, UsageError
from ..nft.evaluate import evaluate
from ..nft.explain import explain_dict, explain_lines
from ..nft.hosts import hosts_of
from ..nft.matrix import HostSpec, build_matrix
from ..nft.model import Ruleset
from ..nft.packet import Flow, flow_from_dict
from ..nft.scaffold import Intent, demo_intent, parse_service, scaffold
from ..nft.simulate import cell_changes, change_dict, change_lines, diff_flows, matrix_pair
from ..sources import Source
from ..vocab import FlowVerdict, SessionKind

MATRIX_FORMATS = ("table", "wide", "json", "csv", "markdown", "mermaid", "dot")


def register(sub: Any) -> None:
    p = command_parser(sub, "nft", "host firewalls (nftables): test, explain, matrix, simulate, scaffold, apply, verify",
                       source=False,
                       description="The views of kubectl microseg for nftables host firewalls. The ruleset is "
                       "--ruleset FILE (nft -f syntax, loaded in a scratch network namespace, or nft -j JSON), "
                       "--demo, or the live ruleset of this host (root).")
    nsub = p.add_subparsers(dest="nft_command", metavar="SUBCOMMAND")
    def usage(_: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return 2
    p.set_defaults(func=usage)

    def sp(name: str, help: str) -> argparse.ArgumentParser:
        q = nsub.add_parser(name, help=help, description=help)
        return q

    def ruleset_opts(q: argparse.ArgumentParser, flag: str = "--ruleset") -> None:
        q.add_argument(flag, dest="ruleset", metavar="FILE", help="ruleset file (nft -f syntax or nft -j JSON); "
                       "default: the live ruleset")
        q.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                       help="use the demo database-server ruleset")
        q.add_argument("--source", default=argparse.SUPPRESS, metavar="NAME",
                       help="read with this installed host-firewall source (default: nftables)"
                       ).completer = installed_sources  # type: ignore[attr-defined]

    t = sp("test", "check expected flows (allow/deny) against a ruleset; exit 1 if one fails")
    t.add_argument("flows", metavar="FLOWS", help="YAML file with a `flows:` list (docs/contract.md, nft test)")
    ruleset_opts(t)
    t.add_argument("-o", "--output", choices=["text", "json"], default="text")
    t.set_defaults(func=run_test)

    e = sp("explain", "trace one flow through every base chain: the rules that matched and what decided")
    ruleset_opts(e)
    e.add_argument("--from", dest="src", required=True, metavar="ADDR")
    e.add_argument("--to", dest="dst", required=True, metavar="ADDR")
    e.add_argument("--proto", "--protocol", dest="protocol", default="tcp")
    e.add_argument("--port", type=int)
    e.add_argument("--sport", type=int)
    e.add_argument("--hook", choices=["input", "output", "forward"],
                   help="the hook to evaluate; default: chosen from --address (output when this host is the source, "
                   "input when it is the destination, forward otherwise)")
    e.add_argument("--address", action="append", default=[], metavar="ADDR",
                   help="an address of this host (repeatable; with --demo: the demo host's); chooses the hook")
    e.add_argument("--iif")
    e.add_argument("--oif")
    e.add_argument("--ct-state", default=None, help="default: new (untracked for neighbour discovery and MLD)")
    e.add_argument("--assume", action="append", default=None, metavar="ASSUMPTION",
                   help="under-limits, over-limits or sets-as-listed (kernel state the verdict may depend on)")
    e.add_argument("--icmp-type")
    e.add_argument("-o", "--output", choices=["text", "json"], default="text")
    e.set_defaults(func=run_explain)

    m = sp("matrix", "address classes x local services (input) and destinations (output); or hosts x hosts")
    ruleset_opts(m)
    m.add_argument("--inventory", metavar="FILE", nargs="?", const="", default=None,
                   help="hosts file (name, addresses, ruleset or live); with --demo and no FILE: the demo hosts")
    m.add_argument("--address", action="append", default=[], metavar="ADDR",
                   help="an address of this host (repeatable); default: one no rule names")
    m.add_argument("--name", default=None, help="the host's name in the matrix (default: host)")
    m.add_argument("--hooks", default="input,output", help="input,output[,forward]")
    m.add_argument("-o", "--output", choices=MATRIX_FORMATS, default="table")
    m.set_defaults(func=run_matrix)

    s = sp("simulate", "show the flows that change between the current ruleset and a new one")
    s.add_argument("--ruleset", dest="new", required=True, metavar="NEW", help="the new ruleset")
    s.add_argument("--current", metavar="FILE", help="the current ruleset (default: live; --demo: the demo)")
    s.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                   help="the current ruleset is the demo's")
    s.add_argument("--flows", metavar="FLOWS", help="also compare the verdicts of these flows")
    s.add_argument("--address", action="append", default=[], metavar="ADDR")
    s.add_argument("--name", default="host")
    s.add_argument("-o", "--output", choices=["text", "json"], default="text")
    s.set_defaults(func=run_simulate)

    c = sp("scaffold", "write a default-deny host ruleset from intent (with comments)")
    c.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                   help="the intent of the demo database server")
    c.add_argument("--table", default="microseg")
    c.add_argument("--mgmt", action="append", default=[], metavar="CIDR", help="management network (SSH)")
    c.add_argument("--segment", action="append", default=[], metavar="NAME=CIDR[,CIDR]")
    c.add_argument("--service", action="append", default=[], metavar="[NAME=]PROTO/PORTS[@SEGMENT,...]",
                   help="a local service and who may use it, e.g. postgresql=tcp/5432@api")
    c.add_argument("--egress", action="append", default=[], metavar="[NAME=]PROTO/PORTS[@SEGMENT,...]")
    c.add_argument("--dns", action="append", default=[], metavar="ADDR")
    c.add_argument("--ntp", action="append", default=None, metavar="ADDR|any")
    c.add_argument("--ping-from", action="append", default=[], metavar="SEGMENT")
    c.add_argument("--ssh-port", type=int, default=22)
    c.add_argument("--no-log", action="store_true", help="do not log dropped packets")
    c.add_argument("--output-file", "-O", metavar="FILE", help="write here instead of stdout")
    c.add_argument("--force", action="store_true", help="replace --output-file if it exists")
    c.set_defaults(func=run_scaffold)

    from ._nft_apply import add_apply_parser
    add_apply_parser(nsub)
    from ._nft_verify import add_verify_parser
    add_verify_parser(nsub)


# -- loading ---------------------------------------------------------------------------------------------

def _demo(args: argparse.Namespace) -> bool:
    """--demo given before ``nft`` (the global option) or after the sub-command."""
    return bool(getattr(args, "demo", False))


def host_source(args: argparse.Namespace | None = None, **given: Any) -> Source:
    """The host-firewall source (``--source``, default ``nftables``, built through the registry) for the command
    line's --ruleset/--demo/--inventory/--address/--name, or for the options ``given`` (which replace them)."""
    from ..load import source_for

    return source_for(argparse.Namespace(**{**vars(args or argparse.Namespace()), **given}), SessionKind.NFT)


def load_hosts(args: argparse.Namespace | None = None, **given: Any) -> tuple[list[HostSpec], str]:
    """The hosts (and the description) of :func:`host_source`; errors: InputError exit 2, UnreachableError 3."""
    snapshot = host_source(args, **given).load()
    return hosts_of(snapshot.objects, snapshot.description), snapshot.description


def load_host(args: argparse.Namespace | None, **given: Any) -> HostSpec:
    """The one host of --ruleset FILE, --demo, or the live ruleset (with its --address/--name)."""
    return load_hosts(args, inventory=None, **given)[0][0]


def read_flows(path: str) -> list[Flow]:
    """The FLOWS file of ``nft test`` (errors name the file and the line)."""
    from kubectl_microseg.sources import read_objects

    docs = read_objects(path)
    if not docs:
        raise InputError("no flows: the file is empty", Origin(file=path))
    doc = docs[0]
    items = doc.raw.get("flows")
    if not isinstance(items, list):
        raise doc.error(("flows",), "expected a `flows:` list")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(flow_from_dict(item, doc.line_of(("flows", i))))
        except ValueError as exc:
            raise doc.error(("flows", i), str(exc)) from None
    return out


# -- test, explain ---------------------------------------------------------------------------------------

def run_test(args: argparse.Namespace) -> int:
    flows = read_flows(args.flows)
    rs = load_host(args).ruleset
    results: list[dict[str, Any]] = []
    passed = failed = 0
    for f in flows:
        ev = evaluate(rs, f.packet(), f.hook)
        ok = None if f.expect is None else ev.verdict == f.expect
        passed += ok is True
        failed += ok is False
        results.append({"hook": f.hook, "from": f.src, "to": f.dst, "port": f.port, "protocol": f.protocol,
                        "verdict": ev.verdict, "expect": f.expect, "pass": ok, "because": ev.because()})
    if args.output == "json":
        print(json.dumps({"results": results, "passed": passed, "failed": failed}, indent=2))
    else:
        for r, f in zip(results, flows):
            mark = {True: "PASS", False: "FAIL", None: "----"}[r["pass"]]
            exp = f" (expected {r['expect']})" if r["pass"] is False else ""
            print(f"{mark}  {r['verdict']:<5} {f.describe()}{exp}")
            for b in r["because"]:
                print(f"        because {b}")
        print(f"{passed} passed, {failed} failed, {len(results) - passed - failed} without expectation")
    return EXIT_FAILED if failed else 0


def choose_hook(src: str, dst: str, own: list[str]) -> tuple[str, str]:
    """(hook, why) of a flow between two addresses, from this host's addresses (netfilter's packet flow:
    a locally generated packet traverses output, one addressed to the host input, a routed one forward)."""
    import ipaddress

    def norm(a: str) -> str:
        try:
            return str(ipaddress.ip_address(a))
        except ValueError:
            raise UsageError(f"not an IP address: {a!r}") from None
    mine = {norm(a) for a in own}
    if not mine:
        raise UsageError("which hook? give --hook input|output|forward, or --address ADDR (this host's addresses) "
                         "to choose it from the flow: output when the host is the source, input when it is the "
                         "destination, forward otherwise")
    if norm(src) in mine:
        return "output", f"{src} is this host's address (the source): output"
    if norm(dst) in mine:
        return "input", f"{dst} is this host's address (the destination): input"
    return "forward", f"neither {src} nor {dst} is this host's address ({', '.join(sorted(mine))}): forward"


def rule_locations(ev: Any, rs: Ruleset, path: str | None) -> list[str]:
    """'FILE:LINE' of each deciding rule (or chain, for a policy) of an nft -f file, in ``because`` order."""
    from ..lint.nft_lines import rule_lines

    if not path:
        return []
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    if "".join(lines).lstrip().startswith("{"):
        return []  # nft -j JSON: no lines to name
    where = rule_lines(lines)
    if ev.alternatives:
        return []  # one because line per case, not per deciding rule
    outcomes = ev.outcomes if ev.verdict == FlowVerdict.ALLOW else ev.outcomes[-1:]
    out = []
    for o in outcomes:
        if o.rule is not None and o.rule.raw.get("iptables") and isinstance(o.rule.handle, int):
            out.append(f"{path}:{o.rule.handle}")  # an iptables-save line: the handle is its line
            continue
        c = rs.chains.get((o.rule.family, o.rule.table, o.rule.chain)) if o.rule is not None else o.base
        got = where.get(c.key) if c is not None else None
        if c is None or got is None:
            out.append("")
            continue
        line = got[0]
        if o.rule is not None and len(got[1]) == len(c.rules) and o.rule in c.rules:
            line = got[1][c.rules.index(o.rule)]
        out.append(f"{path}:{line}")
    return out


def run_explain(args: argparse.Namespace) -> int:
    host = load_host(args)  # a bad ruleset is the first thing to say
    rs = host.ruleset
    hook, why = args.hook, ""
    if hook is None:
        hook, why = choose_hook(args.src, args.dst, host.addresses)
    try:
        flow = flow_from_dict({k: v for k, v in {
            "hook": hook, "from": args.src, "to": args.dst, "protocol": args.protocol, "port": args.port,
            "sport": args.sport, "iif": args.iif, "oif": args.oif, "ct_state": args.ct_state,
            "icmp_type": args.icmp_type, "assume": args.assume}.items() if v is not None})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    ev = evaluate(rs, flow.packet(), flow.hook)
    path = args.ruleset or (str(demo_data.HOST_RULESET) if _demo(args) else None)
    shown = args.ruleset or (f"demo/host/{demo_data.HOST_RULESET.name}" if _demo(args) else None)
    locations = [x.replace(str(path), str(shown), 1) for x in rule_locations(ev, rs, path)]
    if args.output == "json":
        doc = explain_dict(flow, ev)
        if why:
            doc["hookChosen"] = why
        if any(locations):
            doc["locations"] = locations
        print(json.dumps(doc, indent=2))
    else:
        lines = explain_lines(flow, ev)
        if why:
            lines.insert(1, f"  hook: {why}")
        if any(locations):
            i = next(n for n, line in enumerate(lines) if line.startswith("verdict: "))
            becauses = [n for n in range(i + 1, len(lines)) if lines[n].startswith("  because ")]
            for n, loc in zip(becauses, locations):
                if loc:
                    lines[n] += f"  [{loc}]"
        print("\n".join(lines))
    return 0


# -- matrix ----------------------------------------------------------------------------------------------

def render(matrix: Matrix, fmt: str) -> str:
    """Through the shared renderers (``kubectl_microseg.render``)."""
    from ..render import render_matrix

    return render_matrix(matrix, fmt)


def run_matrix(args: argparse.Namespace) -> int:
    hooks = tuple(h.strip() for h in args.hooks.split(",") if h.strip())
    bad = [h for h in hooks if h not in ("input", "output", "forward")]
    if bad:
        raise UsageError(f"--hooks: unknown hook(s) {', '.join(bad)}")
    hosts, title = load_hosts(args)
    matrix = build_matrix(hosts, hooks=hooks, title=title)
    out = render(matrix, args.output)
    sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0


# -- simulate --------------------------------------------------------------------------------------------

def run_simulate(args: argparse.Namespace) -> int:
    host = load_host(args, ruleset=args.current)
    current = host.ruleset
    new = load_host(args, ruleset=args.new, demo=False, address=[]).ruleset
    before, after = matrix_pair(current, new, args.name, host.addresses)
    changes = cell_changes(before, after)
    flow_changes = diff_flows(current, new, read_flows(args.flows)) if args.flows else []
    denied = any(c.newly_denied for c in changes) or any(fc.after != FlowVerdict.ALLOW and fc.before == FlowVerdict.ALLOW for fc in flow_changes)
    if args.output == "json":
        print(json.dumps({"changes": [change_dict(c) for c in changes],
                          "flows": [{"hook": fc.flow.hook, "from": fc.flow.src, "to": fc.flow.dst,
                                     "protocol": fc.flow.protocol, "port": fc.flow.port, "before": fc.before,
                                     "after": fc.after} for fc in flow_changes]}, indent=2))
    else:
        lines = change_lines(changes)
        print("\n".join(lines) if lines else "no connectivity changes")
        for fc in flow_changes:
            print(f"flow {fc.flow.describe()}: {fc.before} -> {fc.after}")
    return EXIT_FAILED if denied else 0


# -- scaffold --------------------------------------------------------------------------------------------

def run_scaffold(args: argparse.Namespace) -> int:
    intent = demo_intent() if _demo(args) else Intent()
    intent.table = args.table
    intent.ssh_port = args.ssh_port
    intent.log_drops = not args.no_log
    try:
        if args.mgmt:
            intent.segments["mgmt"] = list(args.mgmt)
        for seg in args.segment:
            name, _, cidrs = seg.partition("=")
            if not cidrs:
                raise ValueError(f"--segment {seg!r}: expected NAME=CIDR[,CIDR]")
            intent.segments[name] = [c for c in cidrs.split(",") if c]
        intent.services += [parse_service(s) for s in args.service]
        intent.egress += [parse_service(s) for s in args.egress]
        intent.dns += args.dns
        if args.ntp is not None:
            intent.ntp = args.ntp
        intent.ping_from += args.ping_from
        for svc in intent.services + intent.egress:
            for ref in svc.sources:
                if ref not in intent.segments and "/" not in ref and ":" not in ref and not ref[0].isdigit():
                    raise ValueError(f"service {svc.name}: unknown segment {ref!r} (define it with --segment)")
        text = scaffold(intent)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.output_file:
        from ..io.atomic import atomic_write

        try:  # atomic: never half a file (Ctrl-C, full disk), never over a user's file without --force
            atomic_write(args.output_file, text, overwrite=args.force)
        except FileExistsError:
            raise UsageError(f"{args.output_file} exists; use --force to replace it") from None
        except OSError as exc:
            raise UsageError(f"cannot write {args.output_file}: {exc.strerror or exc}") from None
        print(f"wrote {args.output_file}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0

"""``kubectl microseg nft verify``: the offline verdicts of a ruleset checked against the kernel, in a sandbox.

For each host (``--ruleset FILE`` with ``--address``, ``--demo``, or every host of ``--inventory FILE``), two
fresh network namespaces are made, the ruleset is loaded into one, and one real packet is sent for every
(address class, host address, protocol, port piece) in each direction (TCP SYN, UDP datagram, ICMP echo); what
the kernel let through is compared with the engine's verdict for the same packet. The host's own ruleset is
never touched and the namespaces are deleted afterwards. Exit 1 on a disagreement, 3 when the sandbox cannot
be built (root or CAP_NET_ADMIN is needed). See docs/nftables.md ("nft verify").
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import time
from typing import Any

from ..errors import EXIT_FAILED, InputError, Origin, UsageError


def add_verify_parser(nsub: Any) -> None:
    v = nsub.add_parser("verify", help="check the offline verdicts against the kernel: real packets in a sandbox",
                        description=__doc__)
    v.add_argument("--ruleset", metavar="FILE", help="ruleset file (nft -f syntax, or nft -j JSON ending in .json)")
    v.add_argument("--demo", action="store_true", default=argparse.SUPPRESS, help="the demo database server")
    v.add_argument("--address", action="append", default=[], metavar="ADDR",
                   help="an address of the host (repeatable; IPv4 and IPv6 are probed separately)")
    v.add_argument("--name", default=None, help="the host's name (default: host)")
    v.add_argument("--inventory", metavar="FILE", help="hosts file (name, addresses, ruleset) as for nft matrix")
    v.add_argument("--hooks", default="input,output", help="input,output[,forward] (default input,output; "
                   "forward: class -> class through the host)")
    v.add_argument("-o", "--output", choices=["text", "json"], default="text")
    v.set_defaults(func=run_verify)


def _hosts(args: argparse.Namespace) -> list[tuple[str, list[str], str]]:
    """(name, addresses, ruleset file) of each host asked for."""
    from ..demo import HOST_ADDRESS, HOST_NAME, HOST_RULESET

    if args.inventory:
        if args.ruleset or args.address:
            raise UsageError("--inventory names the hosts: leave out --ruleset and --address")
        return _inventory(args.inventory)
    demo = bool(getattr(args, "demo", False))
    path = args.ruleset or (str(HOST_RULESET) if demo else None)
    if not path:
        raise UsageError("name the ruleset: --ruleset FILE (with --address ADDR), --demo, or --inventory FILE")
    if not os.path.isfile(path):
        raise InputError("no such file", Origin(file=path))
    addrs = args.address or ([HOST_ADDRESS] if demo and not args.ruleset else [])
    return [(args.name or (HOST_NAME if demo and not args.ruleset else "host"), _addresses(addrs), path)]


def _addresses(addrs: list[str]) -> list[str]:
    try:
        return [str(ipaddress.ip_address(a)) for a in addrs]
    except ValueError as exc:
        raise UsageError(f"--address: {exc}") from None


def _inventory(path: str) -> list[tuple[str, list[str], str]]:
    """hosts: [{name, addresses, ruleset}] (the inventory of ``nft matrix``; ruleset paths relative to it)."""
    from kubectl_microseg.sources import read_objects

    docs = read_objects(path)
    if not docs or not isinstance(docs[0].raw.get("hosts"), list):
        raise InputError("expected a `hosts:` list", Origin(file=path))
    doc, base, out = docs[0], os.path.dirname(os.path.abspath(path)), []
    for i, h in enumerate(doc.raw["hosts"]):
        if not isinstance(h, dict) or not h.get("name"):
            raise doc.error(("hosts", i), "each host needs a name")
        if h.get("live") or not h.get("ruleset"):
            raise doc.error(("hosts", i), "nft verify loads rulesets from files: give `ruleset: FILE` (save a live "
                            "one with `nft list ruleset > FILE`)")
        addrs = h.get("addresses") or []
        if not isinstance(addrs, list):
            raise doc.error(("hosts", i, "addresses"), "addresses must be a list")
        try:
            addrs = [str(ipaddress.ip_address(str(a))) for a in addrs]
        except ValueError as exc:
            raise doc.error(("hosts", i, "addresses"), str(exc)) from None
        out.append((str(h["name"]), addrs, os.path.join(base, str(h["ruleset"]))))
    return out


def verify_host(name: str, addresses: list[str], path: str, hooks: tuple[str, ...],
                peers: dict[str, list[str]] | None = None) -> tuple[list[Any], list[str]]:
    """Load one host's ruleset into a fresh sandbox, plan the probes from what the kernel holds, send them
    (``peers``: the other hosts of an inventory, probed from and to their addresses)."""
    from kubectl_microseg.plugins.nft_sandbox import Sandbox

    from ..nft.matrix import HostSpec
    from ..nft.parse import parse_ruleset, read_defines
    from ..nft.verify import plan

    with Sandbox() as box:
        doc = box.load_ruleset(path)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        defines = {} if path.endswith(".json") else read_defines(text)
        rs = parse_ruleset(doc, Origin(file=path), defines, f"file {path}")
        try:
            probes, notes = plan(HostSpec(name, addresses, rs), hooks, peers)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if not probes:
            return [], notes + [f"host {name}: nothing to probe"]
        box.prepare(probes)
        passed = box.send(probes)
        differ = [p for p in probes if p.engine != ("allow" if passed[p.id] else "deny")]
        if differ and _rate_limited(doc) and len(differ) <= MAX_RESEND:
            # a limit's token bucket is shared by every probe: a burst of them empties it, while the engine (and
            # a real connection) meets it refilled; each disagreeing probe is sent again on its own
            passed.update(box.resend_one_by_one(differ))
            notes.append(f"host {name}: the ruleset rate-limits (limit); {len(differ)} probe(s) that disagreed in the "
                         "burst were sent again one per second")
    for p in probes:
        p.kernel = "allow" if passed[p.id] else "deny"
    return probes, notes


MAX_RESEND = 30
"""At most this many probes are re-sent one by one (a second each) when a rate limit may explain them."""


def _rate_limited(doc: dict) -> bool:
    """Whether a listing has a ``limit`` statement (libnftables JSON: an expression object keyed "limit")."""
    return '"limit"' in json.dumps(doc)


def run_verify(args: argparse.Namespace) -> int:
    hooks = tuple(h.strip() for h in args.hooks.split(",") if h.strip())
    if not hooks or any(h not in ("input", "output", "forward") for h in hooks):
        raise UsageError("--hooks: input, output and/or forward")
    report: list[dict[str, Any]] = []
    notes: list[str] = []
    started = time.monotonic()
    all_probes = []
    hosts = _hosts(args)
    for name, addrs, path in hosts:
        peers = {n: a for n, a, _ in hosts if n != name}
        probes, more = verify_host(name, addrs, path, hooks, peers)
        all_probes += probes
        notes += more
    # "unknown" (an expression the engine does not model) never counts as agreement
    bad = [p for p in all_probes if p.engine != p.kernel]
    pairs: dict[tuple[str, str, str, str], list[Any]] = {}
    for p in all_probes:
        pairs.setdefault((p.host, p.hook, *p.pair), []).append(p)
    for (host, hook, src, dst), ps in pairs.items():
        report.append({"host": host, "hook": hook, "from": src, "to": dst, "probes": len(ps),
                       "allowed": sum(1 for p in ps if p.kernel == "allow"),
                       "disagree": [_probe_dict(p) for p in ps if p.engine != p.kernel]})
    seconds = round(time.monotonic() - started, 2)
    if args.output == "json":
        print(json.dumps({"kind": "NftVerify", "pairs": report, "probes": len(all_probes), "agree":
                          len(all_probes) - len(bad), "disagree": len(bad), "notes": notes, "seconds": seconds},
                         indent=2))
    else:
        for r in report:
            mark = "ok  " if not r["disagree"] else "DIFF"
            print(f"{mark} {r['hook']:6} {r['from']} -> {r['to']}: {r['probes']} probes, {r['allowed']} let through")
            for d in r["disagree"]:
                print(f"       {d['probe']}: engine {d['engine']}, kernel {d['kernel']}")
                for b in d["because"]:
                    print(f"         engine: {b}")
        for n in notes:
            print(f"note: {n}")
        print(f"{len(all_probes)} probes, {len(all_probes) - len(bad)} agree, {len(bad)} disagree ({seconds} s)")
    return EXIT_FAILED if bad else 0


def _probe_dict(p: Any) -> dict[str, Any]:
    return {"probe": p.describe(), "protocol": p.proto, "src": p.src, "dst": p.dst, "sport": p.sport,
            "dport": p.dport, "engine": p.engine, "kernel": p.kernel, "because": p.because}

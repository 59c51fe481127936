"""Benchmark ``nft matrix`` on a large host firewall (issue 22): rules x blocklist size.

The ruleset (libnftables JSON, as ``nft -j list ruleset`` prints it) is shaped like a busy server's:
an ``inet`` table whose input chain (policy drop) accepts established traffic and loopback, drops the
sources of a blocklist set (``flags interval``, the kind fail2ban or crowdsec keeps), then has RULES
service rules: per-source rules (``ip saddr 10.X.Y.0/24 tcp dport P accept``, IPv4 and IPv6), rules on
ports only (``tcp dport P accept``, ``udp dport P accept``), port ranges and anonymous sets; the output
chain (policy drop) has a tenth as many. Measured as a subprocess, wall and CPU seconds and peak RSS of
``kubectl-microseg nft matrix --ruleset FILE.json --address 10.0.0.9 -o json``, over several runs.

Run: ``python benchmarks/nft_scale.py [--rules 2000] [--set 50000] [--runs 3] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _m(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _pl(proto: str, field: str) -> dict[str, Any]:
    return {"payload": {"protocol": proto, "field": field}}


def _scattered(i: int) -> str:
    """The i-th blocklist address: distinct, spread over 100.0.0.0/8 (an odd multiplier is a bijection
    modulo 2**24), so no two members are neighbours that an interval set would merge."""
    n = (i * 2654435761) % (1 << 24)
    return f"100.{n >> 16}.{(n >> 8) & 255}.{n & 255}"


def ruleset(rules: int, set_size: int) -> dict[str, Any]:
    """The benchmark ruleset with ``rules`` service rules and a blocklist of ``set_size`` addresses."""
    T = {"family": "inet", "table": "filter"}
    items: list[dict[str, Any]] = [{"table": {"family": "inet", "name": "filter", "handle": 1}}]
    items.append({"set": {**T, "name": "blocklist", "type": "ipv4_addr", "flags": ["interval"], "handle": 2,
                          "elem": [_scattered(i) for i in range(set_size)]}})
    for name, hook in (("input", "input"), ("output", "output")):
        items.append({"chain": {**T, "name": name, "handle": 3, "type": "filter", "hook": hook, "prio": 0,
                                "policy": "drop"}})
    handle = iter(range(10, 10 ** 9))

    def rule(chain: str, *expr: dict[str, Any]) -> None:
        items.append({"rule": {**T, "chain": chain, "handle": next(handle), "expr": list(expr)}})

    est = _m({"ct": {"key": "state"}}, ["established", "related"], "in")
    rule("input", est, {"accept": None})
    rule("input", _m({"meta": {"key": "iifname"}}, "lo"), {"accept": None})
    rule("input", _m(_pl("ip", "saddr"), "@blocklist"), {"counter": None}, {"drop": None})
    rule("output", est, {"accept": None})
    for i in range(rules):
        port = 1000 + (i * 7) % 5000
        kind = i % 10
        chain = "output" if i % 11 == 10 else "input"
        side = "daddr" if chain == "output" else "saddr"
        if kind < 6:  # per-source service rules
            net = {"prefix": {"addr": f"10.{(i >> 8) & 255}.{i & 255}.0", "len": 24}}
            rule(chain, _m(_pl("ip", side), net), _m(_pl("tcp", "dport"), port), {"accept": None})
        elif kind == 6:
            net = {"prefix": {"addr": f"fd00:{i:x}::", "len": 64}}
            rule(chain, _m(_pl("ip6", side), net), _m(_pl("tcp", "dport"), port), {"accept": None})
        elif kind == 7:  # ports only
            rule(chain, _m(_pl("tcp" if i % 2 else "udp", "dport"), port), {"accept": None})
        elif kind == 8:  # a port range from a few hosts
            hosts = {"set": [f"192.168.{i & 255}.{k}" for k in range(1, 4)]}
            rule(chain, _m(_pl("ip", side), hosts), _m(_pl("tcp", "dport"), {"range": [port, port + 20]}),
                 {"accept": None})
        else:  # an anonymous set of ports for a /16
            net = {"prefix": {"addr": f"172.{16 + (i & 15)}.0.0", "len": 16}}
            rule(chain, _m(_pl("ip", side), net), _m(_pl("udp", "dport"), {"set": [port, port + 1, port + 2]}),
                 {"accept": None})
    return {"nftables": items}


def measure(path: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system: less disturbed by a busy machine) and peak RSS (MiB) of
    one ``nft matrix`` run."""
    exe = Path(sys.executable).with_name("kubectl-microseg")
    t = time.perf_counter()
    proc = subprocess.Popen([str(exe), "nft", "matrix", "--ruleset", path, "--address", "10.0.0.9", "-o", "json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"nft matrix failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=2000)
    ap.add_argument("--set", type=int, default=50000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ruleset.json")
        with open(path, "w") as fh:
            json.dump(ruleset(a.rules, a.set), fh)
        runs = [measure(path) for _ in range(a.runs)]
    walls, cpus, rss = [r[0] for r in runs], [r[1] for r in runs], [r[2] for r in runs]
    print(f"nft matrix, {a.rules} rules, {a.set}-element set: wall {min(walls):.2f}-{max(walls):.2f} s, "
          f"CPU {min(cpus):.2f}-{max(cpus):.2f} s, peak RSS {min(rss):.0f}-{max(rss):.0f} MiB over {a.runs} runs")
    if a.json:
        Path(a.json).write_text(json.dumps({"rules": a.rules, "set": a.set, "wall_s": walls, "cpu_s": cpus,
                                            "rss_mib": rss}, indent=1))


if __name__ == "__main__":
    main()

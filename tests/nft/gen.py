"""Random rulesets and flows for the differential test (deterministic for a given seed).

Rulesets mix tables of the ip, ip6 and inet families, several base chains per hook at different
priorities, regular chains reached by jump, goto and verdict maps, named and anonymous sets with
intervals and concatenations, negations, ranges, interface wildcards, ``th`` ports, ``meta l4proto``,
source-port ranges, counters and logs, and every verdict. Each base chain first accepts established
traffic (and IPv6 neighbour discovery), so the kernel's verdict on the first packet is what the
lab observes.
"""

from __future__ import annotations

import random

from .netlab import A4, A6, B4, B6, PORTS, R4, R6, LabFlow

CIDR4 = ["10.0.0.0/8", "10.0.100.0/24", "10.0.0.0/16", "192.168.0.0/16", "203.0.113.0/24", "10.0.0.8/30",
         "10.0.10.0/23", "198.51.100.0/24", "10.1.0.0/24", "10.2.0.0/24"]
CIDR6 = ["fd00::/16", "fd00:100::/64", "fd01::/64", "fd02::/64", "2001:db8::/32", "fd00:b::/64", "fd00::/32"]
RANGE4 = ["10.0.0.0-10.0.50.255", "192.168.1.1-203.0.113.100", "10.0.0.9-10.0.0.10"]
PORT_EXPR = ["22", "53", "80", "443", "5432", "80-90", "1000-2000", "1-1024", "{ 22, 80, 443 }", "{ 53, 123, 8000-9999 }",
             "{ 81-83, 5432 }"]
SPORT_EXPR = ["20000-39999", "40000-59999"]
DISJ4 = ["10.0.100.0/24", "192.168.0.0/16", "203.0.113.0/24", "10.0.0.8/30", "10.0.10.0/23", "198.51.100.0/24",
         "10.1.0.0/24", "10.2.0.0/24"]
"""Pairwise disjoint prefixes (nft refuses overlapping elements in one interval set)."""
PORTS_OUT_80_90 = [p for p in PORTS if not 80 <= p <= 90]
IIF_EXPR = ['"r0"', '"r*"', '"r1"', '!= "r0"', '{ "r1", "lo" }']
OIF_EXPR = ['"r0"', '"r*"', '"r1"', '!= "r1"']


class Gen:
    """One random ruleset; ``text()`` is its nft -f text."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.lines: list[str] = []

    def pick(self, seq):
        return self.r.choice(seq)

    def addr4(self, side: str) -> str:
        r = self.r.random()
        neg = "!= " if self.r.random() < 0.2 else ""
        if r < 0.15:
            return f"ip {side} @s4"
        if r < 0.35:
            return f"ip {side} {neg}{self.pick(A4 + R4 + B4)}"
        if r < 0.7:
            return f"ip {side} {neg}{self.pick(CIDR4)}"
        if r < 0.85:
            return f"ip {side} {neg}{self.pick(RANGE4)}"
        a, b = self.r.sample(DISJ4, 2)
        return f"ip {side} {neg}{{ {a}, {b} }}"

    def addr6(self, side: str) -> str:
        r = self.r.random()
        neg = "!= " if self.r.random() < 0.2 else ""
        if r < 0.2:
            return f"ip6 {side} @s6"
        if r < 0.4:
            return f"ip6 {side} {neg}{self.pick(A6 + R6 + B6)}"
        return f"ip6 {side} {neg}{self.pick(CIDR6)}"

    def match(self, fam: str, ctx: dict[str, str]) -> str | None:
        """One match; ``ctx`` keeps a rule to one layer 3 and one layer 4 protocol (nft refuses conflicts)."""
        kinds = ["port", "port", "port", "l4", "iif", "oif", "sport", "ct"]
        if fam in ("ip", "inet") and ctx.get("l3") in (None, "ip"):
            kinds += ["a4", "a4", "a4", "concat"]
        if fam in ("ip6", "inet") and ctx.get("l3") in (None, "ip6"):
            kinds += ["a6", "a6"]
        k = self.pick(kinds)
        if k in ("a4", "concat"):
            ctx["l3"] = "ip"
        if k == "a6":
            ctx["l3"] = "ip6"
        if k == "a4":
            return self.addr4(self.pick(["saddr", "saddr", "daddr"]))
        if k == "a6":
            return self.addr6(self.pick(["saddr", "saddr", "daddr"]))
        if k in ("port", "sport", "concat"):
            l4 = ctx.get("l4") or self.pick(["tcp", "udp", "th", "tcp"])
            if k == "concat" and l4 == "udp":
                return None
            ctx["l4"] = l4
            if k == "port":
                neg = "!= " if self.r.random() < 0.2 else ""
                return f"{l4} dport {neg}{self.pick(PORT_EXPR)}"
            if k == "sport":
                return f"{l4} sport {self.pick(SPORT_EXPR)}"
            if self.r.random() < 0.5:
                return "ip saddr . th dport @sc"
            return (f"ip saddr . {l4} dport {{ {self.pick(CIDR4)} . {self.pick(PORTS_OUT_80_90)}, "
                    f"{self.pick(A4)} . 80-90 }}")
        if k == "l4":
            if ctx.get("l4") in ("tcp", "udp"):
                return None
            choice = self.pick(["tcp", "udp", "{ tcp, udp }", "!= tcp"])
            # after a set or a negation only th ports fit (nft refuses tcp dport after l4proto { tcp, udp })
            ctx["l4"] = choice if choice in ("tcp", "udp") and ctx.get("l4") != "th" else "th"
            return f"meta l4proto {choice}"
        if k == "iif":
            return "iifname " + self.pick(IIF_EXPR)
        if k == "oif":
            return "oifname " + self.pick(OIF_EXPR)
        return self.pick(["ct state new", "ct state { new, untracked }", "ct state != established"])

    def verdict(self, regular: list[str], in_regular: bool, reject_ok: bool) -> str:
        # the kernel allows reject only on input, forward and output (and in chains reached from them)
        opts = ["accept", "accept", "drop", "drop", "continue", ""] + (["reject"] if reject_ok else [])
        if regular:
            opts += ["jump " + self.pick(regular), "goto " + self.pick(regular)]
        if in_regular:
            opts += ["return", "return"]
        return self.pick(opts)

    def rule(self, fam: str, regular: list[str], in_regular: bool, reject_ok: bool = False) -> str:
        if self.r.random() < 0.1:
            targets = [f"jump {c}" for c in regular] or ["accept"]
            p1, p2, p3 = self.r.sample(PORTS, 3)
            return (f"{self.pick(['tcp', 'udp'])} dport vmap {{ {p1} : accept, "
                    f"{p2} : drop, {p3} : {self.pick(targets)} }}")
        if fam in ("ip", "inet") and not in_regular and self.r.random() < 0.05:  # @vm may jump to c0
            return "ip saddr vmap @vm"
        ctx: dict[str, str] = {}
        parts = [m for m in (self.match(fam, ctx) for _ in range(self.r.choice([0, 1, 1, 2, 2, 3]))) if m]
        if self.r.random() < 0.2:
            parts.append(self.pick(["counter", 'log prefix "x "', "counter log"]))
        v = self.verdict(regular, in_regular, reject_ok)
        while not parts and v in ("accept", "drop", "reject", ""):
            parts = [m for m in [self.match(fam, ctx)] if m]
        return " ".join(parts + ([v] if v else ["counter"]))

    def text(self) -> str:
        out = []
        hooks = ["input", "input", "output", "forward", "prerouting", "postrouting"]
        for t in range(self.r.choice([1, 2, 2, 3])):
            fam = self.pick(["inet", "inet", "ip", "ip6"])
            out.append(f"table {fam} t{t} {{")
            if fam in ("ip", "inet"):
                a, b = self.r.sample(DISJ4, 2)
                out.append(f"    set s4 {{ type ipv4_addr; flags interval; elements = {{ {a}, {b}, "
                           "10.0.50.0-10.0.50.255 } }")
                out.append(f"    set sc {{ type ipv4_addr . inet_service; flags interval; elements = {{ "
                           f"{self.pick(CIDR4)} . {self.pick(PORTS_OUT_80_90)}, {self.pick(A4)} . 80-90 }} }}")
            if fam in ("ip6", "inet"):
                out.append(f"    set s6 {{ type ipv6_addr; flags interval; elements = {{ {self.pick(CIDR6)} }} }}")
            nreg = self.r.choice([0, 1, 2])
            regular = [f"c{i}" for i in range(nreg)]
            if fam in ("ip", "inet"):
                tgt = [f"jump {c}" for c in regular] or ["drop"]
                a, b = self.r.sample(DISJ4, 2)
                out.append(f"    map vm {{ type ipv4_addr : verdict; flags interval; elements = {{ "
                           f"{a} : accept, {b} : {self.pick(tgt)} }} }}")
            for i, c in enumerate(regular):
                out.append(f"    chain {c} {{")
                later = regular[i + 1:]
                for _ in range(self.r.randint(1, 4)):
                    out.append("        " + self.rule(fam, later, True))
                out.append("    }")
            for b in range(self.r.choice([1, 1, 2, 3])):
                hook = self.pick(hooks)
                prio = self.pick([-100, -10, 0, 0, 5, 10, 50])
                policy = self.pick(["accept", "drop", "drop"])
                out.append(f"    chain b{b} {{")
                out.append(f"        type filter hook {hook} priority {prio}; policy {policy};")
                out.append("        ct state established,related accept")
                if fam != "ip":
                    out.append("        icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept")
                for _ in range(self.r.randint(1, 6)):
                    out.append("        " + self.rule(fam, regular, False, hook in ("input", "output", "forward")))
                out.append("    }")
            out.append("}")
        return "\n".join(out) + "\n"

    def flows(self, n: int) -> list[LabFlow]:
        out = []
        for _ in range(n):
            hook = self.pick(["input", "input", "input", "output", "output", "forward"])
            v6 = self.r.random() < 0.3
            src_pool = {"input": A6 if v6 else A4, "output": R6 if v6 else R4, "forward": A6 if v6 else A4}[hook]
            dst_pool = {"input": R6 if v6 else R4, "output": A6 if v6 else A4, "forward": B6 if v6 else B4}[hook]
            out.append(LabFlow(hook, self.pick(["tcp", "tcp", "udp"]), self.pick(src_pool), self.pick(dst_pool),
                               self.pick(PORTS)))
        return out

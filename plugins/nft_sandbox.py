"""Provides Sandbox: two throw-away network namespaces in which a ruleset meets real packets (``nft verify``).

    P (msv0) ------ (msv1) H (msv2) ------ (msv3) Q

H ("host") holds the user's ruleset and the host's addresses; P ("peers") holds one address of every address
class. Input probes go P -> H, output probes H -> P, forward probes P -> H -> Q (H routes each forward
destination to Q and forwards; P sends everything it originates over the link, even to its own addresses). Neighbours are static (no ARP or neighbour discovery that a ruleset could
drop), reverse-path filtering is off, and P and H route everything else over their link.

What the kernel decided is read from an oracle of our own, in H only: a table ``microseg_verify_oracle``
with a base chain on each hook at a priority after every base chain of the ruleset, one counting rule per
probe. A packet the ruleset drops never reaches it (a drop anywhere drops); one it accepts does (an accept ends
only its own base chain). So the verdict is the ruleset's on the first packet, whatever the replies do.

Nothing outside the two namespaces is touched: the host's own ruleset and interfaces stay as they are.
``close()`` deletes both namespaces (and with them every interface, address, ruleset and socket in them) and
the temporary files; use the Sandbox as a context manager.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable

from kubectl_microseg.errors import UnreachableError
from kubectl_microseg.io.atomic import atomic_write
from kubectl_microseg.nft.verify import Probe

ORACLE = "microseg_verify_oracle"
P_MAC, H_MAC, H2_MAC, Q_MAC = "02:6d:73:00:00:01", "02:6d:73:00:00:02", "02:6d:73:00:00:03", "02:6d:73:00:00:04"
_ids = itertools.count(1)

SENDER = r"""
import json, socket, struct, sys, time
probes = json.loads(sys.stdin.read())
keep = []
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
for p in probes:
    fam = socket.AF_INET6 if ":" in p["src"] else socket.AF_INET
    try:
        if p["proto"] in ("tcp", "udp"):
            s = socket.socket(fam, socket.SOCK_STREAM if p["proto"] == "tcp" else socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((p["src"], p["sport"]))
            s.setblocking(False)
            if p["proto"] == "tcp":
                s.connect_ex((p["dst"], p["dport"]))
            else:
                s.sendto(b"microseg", (p["dst"], p["dport"]))
        else:
            s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if fam == socket.AF_INET6 else socket.IPPROTO_ICMP)
            s.bind((p["src"], 0))
            body = struct.pack("!BBHHH", 128 if fam == socket.AF_INET6 else 8, 0, 0, p["id"] & 0xffff, 1) + b"microseg"
            if fam == socket.AF_INET:
                body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
            s.sendto(body, (p["dst"], 0))
        keep.append(s)
    except OSError:
        pass  # EPERM: the output path dropped it (the oracle did not count it either)
time.sleep(float(sys.argv[1]))
"""


def _run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        p = subprocess.run(list(args), capture_output=True, text=True, check=False, input=input, timeout=120)
    except FileNotFoundError as exc:
        raise UnreachableError(f"nft verify needs `{args[0]}` (iproute2, nftables): {exc.strerror}") from None
    if check and p.returncode != 0:
        raise UnreachableError(f"sandbox: {' '.join(args[:6])} failed: {p.stderr.strip()[:300]}")
    return p


class Sandbox:
    """The two namespaces; ``load`` one host's ruleset and addresses, ``send`` probes, ``close`` everything."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}x{next(_ids)}"
        self.P, self.H, self.Q = f"msvP{tag}", f"msvH{tag}", f"msvQ{tag}"
        self.made: list[str] = []
        self.tmp = tempfile.mkdtemp(prefix="msverify")
        self.addresses: dict[str, set[str]] = {}

    def __enter__(self) -> Sandbox:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        for ns in (self.P, self.H, self.Q):
            p = _run("ip", "netns", "add", ns, check=False)
            if p.returncode != 0:
                raise UnreachableError("nft verify cannot create a network namespace (it needs root or "
                                       f"CAP_NET_ADMIN): {p.stderr.strip()}")
            self.made.append(ns)
        _run("ip", "link", "add", "msv0", "netns", self.P, "address", P_MAC, "type", "veth", "peer", "name", "msv1",
             "netns", self.H, "address", H_MAC)
        _run("ip", "link", "add", "msv2", "netns", self.H, "address", H2_MAC, "type", "veth", "peer", "name",
             "msv3", "netns", self.Q, "address", Q_MAC)
        for ns, devs in ((self.P, ("msv0",)), (self.H, ("msv1", "msv2")), (self.Q, ("msv3",))):
            keys = ["net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                    "net.ipv6.conf.all.accept_dad=0"]
            keys += [k for d in devs for k in (f"net.ipv4.conf.{d}.rp_filter=0", f"net.ipv6.conf.{d}.accept_dad=0")]
            if ns == self.H:
                keys += ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]
            for key in keys:
                _run("ip", "netns", "exec", ns, "sysctl", "-qw", key)
            self._batch(ns, ["link set lo up"] + [f"link set {d} up" for d in devs]
                        + [f"route add default dev {devs[0]}", f"route add ::/0 dev {devs[0]}"])
        # P sends everything it originates over the link, even to an address it holds itself (a class's address is
        # a source of some probes and the destination of forward probes): locally generated packets look up a
        # table with only the link's default route before the local table
        for fam in ("-4", "-6"):
            _run("ip", fam, "-n", self.P, "route", "add", "default", "dev", "msv0", "table", "200")
            _run("ip", fam, "-n", self.P, "rule", "add", "pref", "10", "iif", "lo", "lookup", "200")
            _run("ip", fam, "-n", self.P, "rule", "add", "pref", "100", "lookup", "local")
            _run("ip", fam, "-n", self.P, "rule", "del", "pref", "0")
        self.addresses = {self.P: set(), self.H: set(), self.Q: set()}

    def _batch(self, ns: str, lines: list[str]) -> None:
        if not lines:
            return
        path = os.path.join(self.tmp, f"{ns}.ip")
        atomic_write(path, "\n".join(lines) + "\n", overwrite=True)  # our own scratch directory
        _run("ip", "-n", ns, "-b", path)

    def close(self) -> None:
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        self.made.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- a host -----------------------------------------------------------------------------------------

    def load_ruleset(self, ruleset_path: str) -> dict:
        """Load the ruleset file into H and list it back (``nft -j list ruleset``, with the table flags the JSON
        of nft 1.0.6 leaves out): the offline model is read from exactly what the kernel runs. Interfaces the
        ruleset names with ``iif``/``oif`` (which must exist to load) are made as placeholders no probe crosses."""
        from kubectl_microseg.plugins.nftables import with_table_flags

        json_file = ruleset_path.endswith(".json")
        load = ("ip", "netns", "exec", self.H, "nft", *(["-j"] if json_file else []), "-f", ruleset_path)
        p = _run(*load, check=False)
        if p.returncode != 0 and "Interface does not exist" in p.stderr:
            with open(ruleset_path, encoding="utf-8") as fh:
                names = interface_names(fh.read())
            # veth pairs, not dummies: the dummy driver is not in every kernel (containers); the peer ends stay unused
            self._batch(self.H, [f"link add {n} type veth peer name msvd{i}"
                                 for i, n in enumerate(sorted(names - {"lo", "msv1"}))])
            p = _run(*load, check=False)
        if p.returncode != 0:
            from kubectl_microseg.plugins.nftables import nft_input_error

            raise nft_input_error(p.stderr, ruleset_path)
        listing = json.loads(_run("ip", "netns", "exec", self.H, "nft", "-j", "list", "ruleset").stdout)
        text = _run("ip", "netns", "exec", self.H, "nft", "list", "ruleset").stdout
        return with_table_flags(listing, text)

    def prepare(self, probes: Iterable[Probe]) -> None:
        """Give both sides the probes' addresses (static neighbours) and add the oracle (one host per Sandbox: a
        fresh one has no conntrack entry that could make a probe look established)."""
        probes = list(probes)
        local = [pr for pr in probes if pr.hook != "forward"]
        fwd = [pr for pr in probes if pr.hook == "forward"]
        host_addrs = {pr.dst if pr.hook == "input" else pr.src for pr in local}
        peer_addrs = {pr.src if pr.hook == "input" else pr.dst for pr in local} | {pr.src for pr in fwd}
        far_addrs = {pr.dst for pr in fwd}
        self._set_addresses(self.H, "msv1", host_addrs, P_MAC, peer_addrs)
        self._set_addresses(self.P, "msv0", peer_addrs, H_MAC, host_addrs | far_addrs)
        self._set_addresses(self.Q, "msv3", far_addrs, H2_MAC, set())
        # H sends each forward destination to Q (its neighbour there is static too)
        self._batch(self.H, [f"route replace {a}/{128 if ':' in a else 32} dev msv2" for a in sorted(far_addrs)]
                    + [f"neigh replace {a} lladdr {Q_MAC} dev msv2 nud permanent" for a in sorted(far_addrs)])
        self._oracle(probes)

    def _set_addresses(self, ns: str, dev: str, mine: set[str], peer_mac: str, peers: set[str]) -> None:
        lines = [f"addr del {a}/{128 if ':' in a else 32} dev {dev}" for a in self.addresses[ns] - mine]
        lines += [f"addr add {a}/{128 if ':' in a else 32} dev {dev}" + (" nodad" if ":" in a else "")
                  for a in sorted(mine - self.addresses[ns])]
        lines += [f"neigh replace {a} lladdr {peer_mac} dev {dev} nud permanent" for a in sorted(peers)]
        self._batch(ns, lines)
        self.addresses[ns] = set(mine)

    def _oracle(self, probes: list[Probe]) -> None:
        listing = json.loads(_run("ip", "netns", "exec", self.H, "nft", "-j", "list", "ruleset").stdout or "{}")
        # input probes: past prerouting and every input chain; output and forward probes: past every output or
        # forward chain and every postrouting chain (the engine's paths include postrouting)
        prios = {"input": [], "postrouting": []}  # type: dict[str, list[int]]
        for item in listing.get("nftables", []):
            ch = item.get("chain")
            if ch and ch.get("hook") in prios and isinstance(ch.get("prio"), int):
                prios[ch["hook"]].append(ch["prio"])
        lines = [f"table inet {ORACLE} {{"]
        for hook, probe_hooks in (("input", ("input",)), ("postrouting", ("output", "forward"))):
            prio = min(max(prios[hook], default=0) + 1, 2**31 - 1)
            lines.append(f"  chain {hook} {{ type filter hook {hook} priority {prio}; policy accept;")
            for pr in probes:
                if pr.hook in probe_hooks:
                    lines.append("    " + _match(pr) + f' counter comment "p{pr.id}"')
            lines.append("  }")
        lines.append("}")
        path = os.path.join(self.tmp, "oracle.nft")
        atomic_write(path, "\n".join(lines) + "\n", overwrite=True)  # our own scratch directory
        _run("ip", "netns", "exec", self.H, "nft", "-f", path)

    # -- traffic ----------------------------------------------------------------------------------------

    def send(self, probes: list[Probe], settle: float = 0.3) -> dict[int, bool]:
        """Send every probe for real; {probe id: it passed the ruleset}."""
        before = self._counters()
        for ns, hooks in ((self.P, ("input", "forward")), (self.H, ("output",))):
            items = [{"id": p.id, "proto": p.proto, "src": p.src, "dst": p.dst, "sport": p.sport, "dport": p.dport}
                     for p in probes if p.hook in hooks]
            if items:
                _run("ip", "netns", "exec", ns, sys.executable, "-I", "-S", "-c", SENDER, str(settle),
                     input=json.dumps(items))
        after = self._counters()
        return {p.id: after.get(p.id, 0) > before.get(p.id, 0) for p in probes}

    def resend_one_by_one(self, probes: list[Probe], gap: float = 1.0) -> dict[int, bool]:
        """Send each probe again on its own, ``gap`` seconds apart (and after a first gap): a rate limit's token
        bucket, which a burst of probes shares and empties, has refilled for each."""
        out: dict[int, bool] = {}
        for p in probes:
            time.sleep(gap)
            out.update(self.send([p], settle=0.05))
        return out

    def _counters(self) -> dict[int, int]:
        listing = json.loads(_run("ip", "netns", "exec", self.H, "nft", "-j", "list", "table", "inet",
                                  ORACLE).stdout)
        counts: dict[int, int] = {}
        for item in listing.get("nftables", []):
            rule = item.get("rule")
            if not rule or not str(rule.get("comment", "")).startswith("p"):
                continue
            counts[int(rule["comment"][1:])] = next((e["counter"]["packets"] for e in rule.get("expr", [])
                                                     if "counter" in e), 0)
        return counts


_IFACE = re.compile(r"\b(?:iif|oif)\s+(?:!=\s*|==\s*)?(\{[^}]*\}|\"[^\"]+\"|[\w.\-]+)")


def interface_names(text: str) -> set[str]:
    """Interface names a ruleset text matches with ``iif``/``oif`` (which need them to exist when loaded)."""
    out: set[str] = set()
    for m in _IFACE.finditer(text):
        for tok in re.split(r"[\s,{}]+", m.group(1)):
            tok = tok.strip('"')
            if tok and re.fullmatch(r"[\w.\-]{1,15}", tok) and not tok.startswith("$"):
                out.add(tok)
    return out


def _match(p: Probe) -> str:
    """The oracle's match for one probe: addresses, protocol, ports (or the echo's id)."""
    fam = "ip6" if ":" in p.src else "ip"
    head = f"{fam} saddr {p.src} {fam} daddr {p.dst}"
    if p.proto in ("icmp", "icmpv6"):
        return f"{head} {p.proto} type echo-request {p.proto} id {p.id & 0xFFFF}"
    return f"{head} {p.proto} sport {p.sport} {p.proto} dport {p.dport}"

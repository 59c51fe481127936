"""A three-namespace lab for comparing the engine with the kernel: client A, firewall R, server B.

    A (a0) ---- (r0) R (r1) ---- (b0) B

R holds the ruleset under test. Input flows go A -> R, output flows R -> A, forward flows A -> B
through R. Receivers listen on every port of ``PORTS`` (TCP and UDP, IPv4 and IPv6) in all three
namespaces and report each connection accepted or datagram received as (protocol, source, source
port); every flow gets a source port of its own, so a report names exactly one flow. ICMP echo
flows are judged by the sender (an echo reply came back). Conntrack is flushed between rulesets.
Only addresses inside these namespaces are used.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from dataclasses import dataclass

from kubectl_microseg.plugins.nftables import with_table_flags

PORTS = (22, 53, 80, 81, 82, 83, 84, 85, 86, 87, 88, 123, 443, 1000, 1500, 2000, 5432, 8080, 9187)
A4 = ("10.1.0.2", "10.0.100.7", "10.0.10.5", "10.0.50.3", "10.0.0.2", "192.168.1.5", "203.0.113.50", "10.9.9.9")
A6 = ("fd01::2", "fd00:100::7", "fd00:10::5", "2001:db8:5::9")
R4 = ("10.1.0.1", "10.0.0.9", "10.0.0.10")
R6 = ("fd01::1", "fd00::9")
B4 = ("10.2.0.2", "198.51.100.7")
B6 = ("fd02::2", "fd00:b::2")
_ids = itertools.count(1)

RECEIVER = r"""
import json, select, socket, sys
ports = json.loads(sys.argv[1])
socks = {}
for fam, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    for p in ports:
        for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(fam, typ)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((host, p))
            if typ == socket.SOCK_STREAM:
                s.listen(512)
            s.setblocking(False)
            socks[s.fileno()] = (s, "tcp" if typ == socket.SOCK_STREAM else "udp")
print("READY", flush=True)
while True:
    r, _, _ = select.select(list(socks) + [0], [], [], 1.0)
    for fd in r:
        if fd == 0:
            if not sys.stdin.readline():
                sys.exit(0)
            continue
        s, proto = socks[fd]
        try:
            if proto == "tcp":
                c, peer = s.accept()
                c.close()
            else:
                _, peer = s.recvfrom(2048)
        except OSError:
            continue
        print(json.dumps([proto, peer[0].split("%")[0], peer[1]]), flush=True)
"""

SENDER = r"""
import json, select, socket, struct, sys, time
flows = json.loads(sys.argv[1])
wait = float(sys.argv[2])
keep = []
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
icmp = {}
for f in flows:
    fam = socket.AF_INET6 if ":" in f["src"] else socket.AF_INET
    try:
        if f["proto"] in ("tcp", "udp"):
            s = socket.socket(fam, socket.SOCK_STREAM if f["proto"] == "tcp" else socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((f["src"], f["sport"]))
            s.setblocking(False)
            if f["proto"] == "tcp":
                s.connect_ex((f["dst"], f["dport"]))
            else:
                s.sendto(b"x", (f["dst"], f["dport"]))
            keep.append(s)
        else:
            proto = socket.IPPROTO_ICMPV6 if fam == socket.AF_INET6 else socket.IPPROTO_ICMP
            s = icmp[f["id"]] = socket.socket(fam, socket.SOCK_RAW, proto)
            s.bind((f["src"], 0))
            typ = 128 if fam == socket.AF_INET6 else 8
            body = struct.pack("!BBHHH", typ, 0, 0, f["id"] & 0xffff, 1) + b"microseg"
            if fam == socket.AF_INET:
                body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
            s.sendto(body, (f["dst"], 0))
    except OSError as exc:
        print(json.dumps(["error", f["id"], str(exc)]), flush=True)
replied = set()
end = time.monotonic() + wait
while time.monotonic() < end:
    r, _, _ = select.select([s.fileno() for s in icmp.values()] or [], [], [], max(0.0, end - time.monotonic()))
    if not icmp:
        time.sleep(max(0.0, end - time.monotonic()))
        break
    for s in icmp.values():
        if s.fileno() in r:
            data = s.recv(4096)
            if s.family == socket.AF_INET:
                data = data[(data[0] & 0x0f) * 4:]
                if data[0] == 0:
                    replied.add(struct.unpack("!H", data[4:6])[0])
            elif data[0] == 129:
                replied.add(struct.unpack("!H", data[4:6])[0])
print(json.dumps(["icmp", sorted(replied)]), flush=True)
"""

ICMPV6_PROBE = r"""
import select, socket, struct, sys, time
src, dst, typ, hbh, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", float(sys.argv[5])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.bind((src, 0))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255 if typ in (133, 134, 135, 136, 137) else 1)
if hbh:  # Router Alert (type 5, value 0: MLD) and a PadN: the header MLD messages carry (RFC 2710)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, bytes([0, 0, 5, 2, 0, 0, 1, 0]))
if typ == 135:  # neighbour solicitation for dst itself
    body = struct.pack("!BBHI", typ, 0, 0, 0) + socket.inet_pton(socket.AF_INET6, dst)
elif typ == 130:  # MLD general query, maximum response delay 1 ms
    body = struct.pack("!BBHHH", typ, 0, 0, 1, 0) + bytes(16)
else:
    body = struct.pack("!BBHI", typ, 0, 0, 0)
# resolve dst's link-layer address first (multicast solicitations), then forget what that brought in,
# so the message read below answers this probe
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.bind((src, 0))
u.sendto(b"x", (dst, 9))
time.sleep(0.3)
s.setblocking(False)
while True:
    try:
        s.recv(4096)
    except BlockingIOError:
        break
s.setblocking(True)
s.sendto(body, (dst, 0))
end = time.monotonic() + wait
while time.monotonic() < end:
    r, _, _ = select.select([s], [], [], max(0.0, end - time.monotonic()))
    if r:
        data, peer = s.recvfrom(4096)
        if peer[0].split("%")[0] == dst and data[0] not in (128, 135):
            print(data.hex())
            break
"""

CT_FLUSH = r"""
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
for i, fam in enumerate((socket.AF_INET, socket.AF_INET6)):
    body = struct.pack("BBH", fam, 0, 0)
    # IPCTNL_MSG_CT_DELETE (2) of NFNL_SUBSYS_CTNETLINK (1) without attributes: flush, like conntrack -F
    s.send(struct.pack("=IHHII", 16 + len(body), (1 << 8) | 2, 1 | 4, i + 1, 0) + body)
    s.recv(65536)
"""


@dataclass
class LabFlow:
    """A flow to send: hook (input, output, forward), protocol, addresses, destination port."""

    hook: str
    proto: str
    src: str
    dst: str
    dport: int | None = None
    sport: int | None = None
    id: int = 0
    assume: tuple[str, ...] = ()
    """What the engine's flow assumes of kernel state (an idle lab: under-limits holds)."""


def have_cap_net_admin() -> tuple[bool, str]:
    """Whether network namespaces can be made here (and why not)."""
    if sys.platform != "linux":
        return False, "network namespaces need Linux"
    name = f"mscap{os.getpid()}"
    p = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    if p.returncode != 0:
        return False, f"cannot create a network namespace (needs CAP_NET_ADMIN/root): {p.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    return True, ""


def sh(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(list(args), capture_output=True, text=True, check=False, input=input)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {p.stderr.strip()}")
    return p


class Lab:
    """The namespaces, links, receivers; ``close()`` removes everything (call it in a finally)."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}{next(_ids)}"
        self.A, self.R, self.B = f"msA{tag}", f"msR{tag}", f"msB{tag}"
        self.made: list[str] = []
        self.procs: list[subprocess.Popen[str]] = []
        self.seen: set[tuple[str, str, int]] = set()
        self.lock = threading.Lock()
        self.sport_bands = [itertools.count(20000), itertools.count(40000)]
        self.tmp = tempfile.mkdtemp(prefix="mslab")

    # -- setup
    def open(self) -> Lab:
        for ns in (self.A, self.R, self.B):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            # no duplicate address detection: IPv6 works at once (link-local addresses included)
            for key in ("net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                        "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"):
                sh("ip", "netns", "exec", ns, "sysctl", "-qw", key)
        sh("ip", "link", "add", "a0", "netns", self.A, "type", "veth", "peer", "name", "r0", "netns", self.R)
        sh("ip", "link", "add", "r1", "netns", self.R, "type", "veth", "peer", "name", "b0", "netns", self.B)
        cmds = {self.A: [], self.R: [], self.B: []}  # type: dict[str, list[str]]
        cmds[self.A] += ["addr add 10.1.0.2/24 dev a0", "addr add fd01::2/64 dev a0 nodad"]
        cmds[self.A] += [f"addr add {a}/32 dev a0" for a in A4[1:]] + [f"addr add {a}/128 dev a0 nodad" for a in A6[1:]]
        cmds[self.A] += ["link set lo up", "link set a0 up", "route add default via 10.1.0.1",
                         "route add default via fd01::1"]
        cmds[self.R] += ["addr add 10.1.0.1/24 dev r0", "addr add fd01::1/64 dev r0 nodad",
                         "addr add 10.2.0.1/24 dev r1", "addr add fd02::1/64 dev r1 nodad"]
        cmds[self.R] += [f"addr add {a}/32 dev r0" for a in R4[1:]] + [f"addr add {a}/128 dev r0 nodad" for a in R6[1:]]
        cmds[self.R] += ["link set lo up", "link set r0 up", "link set r1 up"]
        cmds[self.R] += [f"route add {a}/32 dev r0" for a in A4[1:]] + [f"route add {a}/128 dev r0" for a in A6[1:]]
        cmds[self.R] += [f"route add {a}/32 dev r1" for a in B4[1:]] + [f"route add {a}/128 dev r1" for a in B6[1:]]
        cmds[self.B] += ["addr add 10.2.0.2/24 dev b0", "addr add fd02::2/64 dev b0 nodad"]
        cmds[self.B] += [f"addr add {a}/32 dev b0" for a in B4[1:]] + [f"addr add {a}/128 dev b0 nodad" for a in B6[1:]]
        cmds[self.B] += ["link set lo up", "link set b0 up", "route add default via 10.2.0.1",
                         "route add default via fd02::1"]
        for ns, lines in cmds.items():
            batch = os.path.join(self.tmp, f"{ns}.ip")
            with open(batch, "w") as fh:
                fh.write("\n".join(lines) + "\n")
            sh("ip", "-n", ns, "-b", batch)
        sh("ip", "netns", "exec", self.R, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "netns", "exec", self.R, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        for ns in (self.A, self.R, self.B):
            self._start_receiver(ns)
        return self

    def _start_receiver(self, ns: str) -> None:
        p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-I", "-S", "-c", RECEIVER,
                              json.dumps(PORTS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, bufsize=1)
        self.procs.append(p)
        assert p.stdout is not None
        line = p.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"receiver in {ns} failed: {p.stderr.read() if p.stderr else ''}")

        def pump() -> None:
            assert p.stdout is not None
            for ln in p.stdout:
                proto, src, sport = json.loads(ln)
                with self.lock:
                    self.seen.add((proto, src, int(sport)))

        threading.Thread(target=pump, daemon=True).start()

    def close(self) -> None:
        for p in self.procs:
            try:
                if p.stdin:
                    p.stdin.close()
                p.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired):
                p.kill()
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        self.made.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- rulesets
    def load(self, text: str) -> dict:
        """Replace R's ruleset (and flush its conntrack table); return ``nft -j list ruleset``."""
        path = os.path.join(self.tmp, "ruleset.nft")
        with open(path, "w") as fh:
            fh.write("flush ruleset\n" + text)
        p = sh("ip", "netns", "exec", self.R, "nft", "-f", path, check=False)
        if p.returncode != 0:
            raise RuntimeError(f"the kernel refused the ruleset: {p.stderr}\n{text}")
        sh("ip", "netns", "exec", self.R, sys.executable, "-I", "-S", "-c", CT_FLUSH)
        out = sh("ip", "netns", "exec", self.R, "nft", "-j", "list", "ruleset").stdout
        text = sh("ip", "netns", "exec", self.R, "nft", "list", "ruleset").stdout
        return with_table_flags(json.loads(out), text)  # as the tool reads a listing (nft 1.0.6's flags)

    def icmpv6_probe(self, src: str, dst: str, icmp_type: int, hbh: bool = False, wait: float = 0.5) -> bytes:
        """Send one ICMPv6 message of ``icmp_type`` from A (with a hop-by-hop Router Alert header when
        ``hbh``, as MLD carries) and return the first ICMPv6 message A receives back from ``dst``."""
        return bytes.fromhex(sh("ip", "netns", "exec", self.A, sys.executable, "-I", "-S", "-c", ICMPV6_PROBE,
                                src, dst, str(icmp_type), "1" if hbh else "0", str(wait)).stdout.strip() or "")

    def counters(self) -> dict[str, int]:
        """Packets counted by each rule that has a comment naming it (``counter comment "x"``)."""
        doc = json.loads(sh("ip", "netns", "exec", self.R, "nft", "-j", "list", "ruleset").stdout)
        out: dict[str, int] = {}
        for item in doc["nftables"]:
            rule = item.get("rule")
            if rule and rule.get("comment"):
                for e in rule.get("expr", []):
                    if "counter" in e and isinstance(e["counter"], dict):
                        out[rule["comment"]] = int(e["counter"].get("packets", 0))
        return out

    def exec_in_r(self, *args: str, env: dict[str, str] | None = None, input: str | None = None,
                  timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command inside R (for ``nft apply`` tests)."""
        return subprocess.run(["ip", "netns", "exec", self.R, *args], capture_output=True, text=True,
                              check=False, env=env, input=input, timeout=timeout)

    # -- traffic
    def next_sport(self, band: int | None = None) -> int:
        b = band if band is not None else next(_ids) % 2
        return next(self.sport_bands[b])

    def run(self, flows: list[LabFlow], wait: float = 0.5) -> dict[int, bool]:
        """Send the flows; return {flow id: the kernel let it through}."""
        for f in flows:
            if not f.id:
                f.id = next(_ids)
            if f.proto in ("tcp", "udp") and f.sport is None:
                f.sport = self.next_sport()
        by_ns: dict[str, list[dict]] = {}
        for f in flows:
            ns = self.R if f.hook == "output" else self.A
            by_ns.setdefault(ns, []).append({"id": f.id, "proto": f.proto, "src": f.src, "dst": f.dst,
                                             "sport": f.sport, "dport": f.dport})
        procs = [subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-I", "-S", "-c", SENDER,
                                   json.dumps(items), str(wait)], stdout=subprocess.PIPE, text=True)
                 for ns, items in by_ns.items()]
        replied: set[int] = set()
        for p in procs:
            out, _ = p.communicate(timeout=30)
            for ln in out.splitlines():
                rec = json.loads(ln)
                if rec[0] == "icmp":
                    replied |= set(rec[1])
                elif rec[0] == "error" and "not permitted" not in rec[2]:
                    # EPERM: a local sender's packet was dropped in the output path, i.e. a deny
                    raise RuntimeError(f"sender error for flow {rec[1]}: {rec[2]}")
        time.sleep(0.05)
        with self.lock:
            seen = set(self.seen)
        out: dict[int, bool] = {}
        for f in flows:
            if f.proto in ("icmp", "icmpv6"):
                out[f.id] = (f.id & 0xFFFF) in replied
            else:
                out[f.id] = (f.proto, f.src, int(f.sport or 0)) in seen
        return out


def iface_defaults(hook: str) -> dict[str, str]:
    """The interfaces a lab flow crosses on R."""
    return {"input": {"iif": "r0"}, "output": {"oif": "r0"}, "forward": {"iif": "r0", "oif": "r1"}}[hook]

"""Provides the lock-out check of ``nft apply``: the flows a new ruleset must keep allowing.

The current SSH session (``SSH_CONNECTION`` = "client_ip client_port server_ip server_port", see
ssh(1) ENVIRONMENT) needs its established packets in both directions and, to reconnect, new
connections from the client; every ``--keep ADDR[:PORT]`` needs new connections to PORT (default:
the SSH port).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..vocab import FlowVerdict
from .evaluate import Evaluation, evaluate
from .model import Ruleset
from .packet import Flow


@dataclass(frozen=True)
class SshSession:
    client: str
    client_port: int
    server: str
    server_port: int


def parse_ssh_connection(value: str | None) -> SshSession | None:
    """The session of an ``SSH_CONNECTION`` value; None when absent or malformed."""
    if not value:
        return None
    parts = value.split()
    if len(parts) != 4:
        return None
    try:
        ipaddress.ip_address(parts[0])
        ipaddress.ip_address(parts[2])
        return SshSession(parts[0], int(parts[1]), parts[2], int(parts[3]))
    except ValueError:
        return None


def parse_keep(value: str, default_port: int = 22) -> tuple[str, int]:
    """``ADDR``, ``ADDR:PORT`` or ``[V6]:PORT`` as (address, port); ValueError when malformed."""
    v = value.strip()
    port = default_port
    if v.startswith("["):
        addr, _, rest = v[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif v.count(":") == 1:
        addr, p = v.split(":")
        port = int(p)
    else:
        addr = v
    ipaddress.ip_address(addr)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} out of range")
    return addr, port


def required_flows(session: SshSession | None, keeps: list[tuple[str, int]], local: dict[int, str],
                   iif: dict[str, str | None] | None = None) -> list[tuple[str, Flow]]:
    """(why, flow) pairs that must stay allowed.

    Args:
        local: a local address per IP version (for --keep addresses not of the session's version).
        iif: the interface towards each address, when known (``ip route get``).
    """
    iif = iif or {}
    out: list[tuple[str, Flow]] = []
    if session:
        s = session
        why = f"the current SSH session from {s.client}"
        out.append((why, Flow(s.client, s.server, "tcp", s.server_port, "input", sport=s.client_port,
                              ct_state="established", iif=iif.get(s.client))))
        out.append((why, Flow(s.server, s.client, "tcp", s.client_port, "output", sport=s.server_port,
                              ct_state="established", oif=iif.get(s.client))))
        out.append((f"new SSH connections from {s.client} (to reconnect)",
                    Flow(s.client, s.server, "tcp", s.server_port, "input", iif=iif.get(s.client))))
    for addr, port in keeps:
        ver = ipaddress.ip_address(addr).version
        dst = session.server if session and ipaddress.ip_address(session.server).version == ver else local.get(ver)
        if dst is None:
            dst = "192.0.2.1" if ver == 4 else "2001:db8::1"
        out.append((f"--keep {addr} (tcp {port})", Flow(addr, dst, "tcp", port, "input", iif=iif.get(addr))))
    return out


def lockouts(rs: Ruleset, flows: list[tuple[str, Flow]]) -> list[tuple[str, Flow, Evaluation]]:
    """The required flows the ruleset would not allow."""
    bad = []
    for why, f in flows:
        ev = evaluate(rs, f.packet(), f.hook)
        if ev.verdict != FlowVerdict.ALLOW:
            bad.append((why, f, ev))
    return bad

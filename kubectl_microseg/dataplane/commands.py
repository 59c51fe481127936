"""Provides the probe commands run in the source pod, and how their outcome reads.

The image (or the pod's own container, with ``--exec``) needs ``sh``, ``timeout``, ``nc`` taking
``-z -v -w SECONDS`` and ``-u`` (netcat-openbsd, or busybox built with its full nc), ``nslookup`` for DNS
probes and ``ncat`` for SCTP (nmap's ncat: ``--sctp``). How an outcome reads:

- TCP: exit 0 is a completed handshake (``connected``: allowed); "refused" means a RST came back from the
  destination's host: the SYN was let through and nothing listens (``refused``: allowed by the network);
  anything else (timeout) is ``blocked``.
- UDP has no handshake: only an answer counts. "refused" (ICMP port unreachable) means the datagram
  arrived (allowed); silence is ``no-answer`` (unknown: dropped, or delivered to a silent listener).
- DNS: any answer, NXDOMAIN included, means the resolver was reached; "no servers could be reached" or a
  timeout is ``blocked``.
- Exit 126/127 or "not found" on the command: the image lacks the tool (``error``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..vocab import FlowVerdict
from .cells import Cell, Kind


class Outcome:
    CONNECTED = "connected"
    REFUSED = "refused"
    ANSWERED = "answered"
    BLOCKED = "blocked"
    NO_ANSWER = "no-answer"
    ERROR = "error"


NETWORK_SAYS = {Outcome.CONNECTED: FlowVerdict.ALLOW, Outcome.REFUSED: FlowVerdict.ALLOW, Outcome.ANSWERED: FlowVerdict.ALLOW,
                Outcome.BLOCKED: FlowVerdict.DENY, Outcome.NO_ANSWER: FlowVerdict.UNKNOWN, Outcome.ERROR: FlowVerdict.UNKNOWN}


def argv(cell: Cell, timeout: int) -> list[str]:
    """The command that probes one cell, bounded by ``timeout`` seconds (plus one for ``timeout`` itself)."""
    guard = ["timeout", str(timeout + 1)]
    if cell.kind == Kind.DNS:
        return guard + ["nslookup", cell.name]
    if cell.protocol == "UDP":
        return guard + ["nc", "-u", "-z", "-v", "-w", str(timeout), cell.address, str(cell.port)]
    if cell.protocol == "SCTP":
        return guard + ["ncat", "--sctp", "--send-only", "-w", f"{timeout}s", cell.address, str(cell.port)]
    return guard + ["nc", "-z", "-v", "-w", str(timeout), cell.address, str(cell.port)]


@dataclass
class Result:
    outcome: str
    detail: str = ""

    @property
    def network(self) -> FlowVerdict:
        return NETWORK_SAYS[self.outcome]


def read_outcome(cell: Cell, exit_code: int | None, stdout: str, stderr: str) -> Result:
    """Classify what the probe command printed and returned (see the module docstring)."""
    text = f"{stdout}\n{stderr}".lower()
    last = next((ln.strip() for ln in reversed(f"{stdout}\n{stderr}".splitlines()) if ln.strip()), "")
    if exit_code is None:
        return Result(Outcome.ERROR, "the command did not finish")
    if exit_code in (126, 127) or "executable file not found" in text or ": not found" in text \
            or "applet not found" in text:
        return Result(Outcome.ERROR, f"the probe tool is missing in the image ({last or 'exit ' + str(exit_code)})")
    if cell.kind == Kind.DNS:
        if exit_code == 0 or "nxdomain" in text or "can't find" in text:
            return Result(Outcome.ANSWERED, last)
        return Result(Outcome.BLOCKED, last or f"exit {exit_code}")
    if "refused" in text:
        return Result(Outcome.REFUSED, last)
    if exit_code == 0:
        if cell.protocol == "UDP":
            return Result(Outcome.NO_ANSWER, "datagram sent, no answer (UDP tells nothing without one)")
        return Result(Outcome.CONNECTED, last)
    if "invalid option" in text or "unrecognized option" in text or "usage:" in text:
        return Result(Outcome.ERROR, f"the probe tool does not take these options ({last})")
    return Result(Outcome.BLOCKED, last or ("timed out" if exit_code == 124 else f"exit {exit_code}"))

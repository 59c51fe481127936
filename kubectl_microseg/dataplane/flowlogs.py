"""Provides parsers of observed-flow exports: Hubble (``hubble observe -o json``), Calico flow logs, conntrack.

Each yields ``Seen`` records (one connection attempt as the dataplane saw it) with the line it came from.
The formats, from their documentation:

- Hubble: one JSON object per line, ``{"flow": Flow, "node_name": ..., "time": ...}`` (GetFlowsResponse), or
  the bare Flow of older CLIs. Flow fields used (observer.proto/flow.proto, proto field names as protojson
  prints them): ``verdict`` (FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED, TRANSLATED), ``IP.source``,
  ``IP.destination``, ``l4.TCP|UDP|SCTP.destination_port``, ``l4.TCP.flags`` (a SYN without ACK opens a
  connection), ``source|destination.namespace|pod_name``, ``is_reply`` (replies are skipped),
  ``drop_reason_desc``. Flows without L4 ports (ICMP, L7-only records) are skipped.
- Calico flow logs (Calico Enterprise/Cloud, ``flows.log``: one JSON object per line, docs.tigera.io "Flow log
  data types"): ``action`` (allow, deny), ``source_ip``/``dest_ip`` (null when aggregated),
  ``source_namespace``/``dest_namespace`` (``-``: not namespaced), ``source_name``/``dest_name``,
  ``source_name_aggr``/``dest_name_aggr`` (a pod-name prefix ending in ``*``, or ``pvt``/``pub``),
  ``dest_port``, ``proto``, ``reporter`` (src, dst), ``num_flows``.
- conntrack (``conntrack -L`` of conntrack-tools, or ``/proc/net/nf_conntrack`` with its leading
  ``ipv4 2``): ``PROTO NUM TIMEOUT [STATE] src= dst= sport= dport= [UNREPLIED] src= dst= ... [ASSURED]``;
  the first tuple is the original direction. ``[UNREPLIED]`` means no packet came back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..errors import InputError, Origin

PROTO_NAMES = {"6": "TCP", "17": "UDP", "132": "SCTP", "tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}


class Verdict:
    FORWARDED = "forwarded"
    DROPPED = "dropped"
    UNANSWERED = "unanswered"
    """Seen leaving, nothing came back (conntrack UNREPLIED): dropped on the way, or nothing listens."""


@dataclass(frozen=True)
class Seen:
    """One observed connection attempt."""

    protocol: str
    port: int
    verdict: str
    src_ip: str | None = None
    dst_ip: str | None = None
    src_ns: str | None = None
    src_name: str | None = None
    """A pod name, or a prefix ending in '*' (Calico's aggregated names)."""
    dst_ns: str | None = None
    dst_name: str | None = None
    line: int = 0
    count: int = 1
    reason: str = ""
    dst_alt: str | None = None
    """Where the connection really went: conntrack's reply source (the pod behind a Service's ClusterIP)."""
    sport: int | None = None


class Format:
    HUBBLE = "hubble"
    CALICO = "calico"
    CONNTRACK = "conntrack"
    AUTO = "auto"


_CONNTRACK_LINE = re.compile(r"^(ipv[46]\s+\d+\s+)?(tcp|udp|sctp|icmp|icmpv6)\s+\d+\s+\d+\s")


def detect(text: str) -> str:
    """The format of a flow export, from its first non-empty line; '' when it is none of them."""
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if first.startswith("{"):
        try:
            obj = json.loads(first)
        except ValueError:
            return ""  # not one object per line (a JSON document spread over lines)
        if not isinstance(obj, dict):
            return ""
        if {"flow", "verdict", "IP", "lost_events", "agent_event", "debug_event"} & set(obj):
            return Format.HUBBLE
        if {"dest_port", "source_name_aggr", "dest_name_aggr", "reporter"} & set(obj):
            return Format.CALICO
        return ""
    return Format.CONNTRACK if _CONNTRACK_LINE.match(first) else ""


def parse(text: str, path: str, fmt: str = Format.AUTO) -> tuple[list[Seen], int]:
    """Every observed attempt of an export; returns (records, lines skipped as not connection attempts).

    Raises:
        InputError: a line that is not of the format (names the file and line), or an unknown format.
    """
    fmt = detect(text) if fmt == Format.AUTO else fmt
    if not fmt:
        raise InputError("not a flow export: expected `hubble observe -o json` lines, Calico flow log lines or "
                         "`conntrack -L` output (or name it with --format)", Origin(file=path, line=1))
    parser = {Format.HUBBLE: _hubble, Format.CALICO: _calico, Format.CONNTRACK: _conntrack}.get(fmt)
    if parser is None:
        raise InputError(f"unknown flow format {fmt!r} (hubble, calico, conntrack)", Origin(file=path))
    out: list[Seen] = []
    skipped = 0
    once: set[tuple] = set()
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            rec = parser(line, no)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"not a {fmt} flow record: {exc}", Origin(file=path, line=no)) from None
        if rec is None:
            skipped += 1
            continue
        if fmt == Format.HUBBLE and rec.sport:
            # Hubble reports a connection at each observation point (leaving the source, reaching the
            # destination): one connection is one (addresses, ports, verdict)
            key = (rec.src_ip, rec.sport, rec.dst_ip, rec.port, rec.protocol, rec.verdict)
            if key in once:
                skipped += 1
                continue
            once.add(key)
        out.append(rec)
    return out, skipped


def _json(line: str) -> dict:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:  # its own "line 1" would contradict the file's line
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    return obj


def _hubble(line: str, no: int) -> Seen | None:
    obj = _json(line)
    flow = obj.get("flow", obj)
    if not isinstance(flow, dict) or "verdict" not in flow:
        if "flow" in obj or "IP" in obj:
            raise ValueError("a Hubble flow needs a `verdict`")
        return None  # another event of `hubble observe` (agent or debug events, lost events)
    if flow.get("is_reply") is True:
        return None
    l4 = flow.get("l4") or {}
    proto = next((p for p in ("TCP", "UDP", "SCTP") if p in l4), None)
    if proto is None:
        return None
    port = l4[proto].get("destination_port")
    if not isinstance(port, int) or port <= 0:
        return None
    flags = l4[proto].get("flags") or {}
    if proto == "TCP" and flags and not (flags.get("SYN") and not flags.get("ACK")):
        return None  # not the opening packet: its connection is counted by its SYN
    verdict = str(flow["verdict"]).upper()
    if verdict in ("FORWARDED", "REDIRECTED", "TRACED", "TRANSLATED", "AUDIT"):
        v = Verdict.FORWARDED
    elif verdict in ("DROPPED", "ERROR"):
        v = Verdict.DROPPED
    else:
        return None
    ip = flow.get("IP") or {}
    src, dst = flow.get("source") or {}, flow.get("destination") or {}
    return Seen(proto, port, v, ip.get("source"), ip.get("destination"), src.get("namespace") or None,
                src.get("pod_name") or None, dst.get("namespace") or None, dst.get("pod_name") or None, no,
                reason=str(flow.get("drop_reason_desc") or ""), sport=l4[proto].get("source_port"))


def _calico(line: str, no: int) -> Seen | None:
    obj = _json(line)
    proto = PROTO_NAMES.get(str(obj.get("proto", "")).lower())
    port = obj.get("dest_port")
    if proto is None or not isinstance(port, int) or port <= 0:
        return None
    action = str(obj.get("action") or "").lower()
    if action not in ("allow", "deny"):
        raise ValueError(f"`action` must be allow or deny (got {obj.get('action')!r})")

    def name(side: str) -> str | None:
        n, aggr = obj.get(f"{side}_name"), obj.get(f"{side}_name_aggr")
        if n and n != "-" and n not in ("pvt", "pub"):
            return str(n)
        return str(aggr) if aggr and aggr not in ("-", "pvt", "pub") else None

    def ns(side: str) -> str | None:
        v = obj.get(f"{side}_namespace")
        return None if v in (None, "", "-") else str(v)

    return Seen(proto, port, Verdict.FORWARDED if action == "allow" else Verdict.DROPPED,
                obj.get("source_ip") or None, obj.get("dest_ip") or None, ns("source"), name("source"),
                ns("dest"), name("dest"), no, int(obj.get("num_flows") or 1))


_KV = re.compile(r"(\w+)=(\S+)")


def _conntrack(line: str, no: int) -> Seen | None:
    words = line.split()
    if words and words[0] in ("ipv4", "ipv6"):
        words = words[2:]
    if not words:
        raise ValueError("empty entry")
    if words[0].startswith("conntrack") or words[0].endswith("flow") or "entries" in line:
        return None  # the summary line: "conntrack v1.4.7 (conntrack-tools): 12 flow entries have been shown."
    proto = PROTO_NAMES.get(words[0].lower())
    if proto is None:
        if words[0].lower() in ("icmp", "icmpv6", "unknown", "gre"):
            return None
        raise ValueError(f"unknown protocol {words[0]!r}")
    tuples: list[dict[str, str]] = [{}]
    unreplied = False
    for w in words[1:]:
        if w == "[UNREPLIED]":
            unreplied = True
            continue
        m = _KV.fullmatch(w)
        if m:
            if m.group(1) in tuples[-1]:
                tuples.append({})  # the reply tuple starts (or mark=, use=, zone= after it)
            tuples[-1][m.group(1)] = m.group(2)
    first = tuples[0]
    reply = tuples[1] if len(tuples) > 1 else {}
    if not {"src", "dst", "dport"} <= set(first):
        raise ValueError("expected src=, dst= and dport=")
    alt = reply.get("src") if reply.get("src") not in (None, first["dst"]) else None
    return Seen(proto, int(first["dport"]), Verdict.UNANSWERED if unreplied else Verdict.FORWARDED,
                first["src"], first["dst"], line=no, dst_alt=alt)

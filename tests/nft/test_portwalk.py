"""The matrix's fast path agrees with the evaluator: the port-set walker with the rule relevance index
against one ``evaluate`` per port piece, on the differential test's generated rulesets (nft -f text,
listed back as JSON in a scratch namespace; no packets are sent)."""

from __future__ import annotations

import os
import tempfile

import pytest

from kubectl_microseg.model.addresses import address_int
from kubectl_microseg.model.ports import ConnSet, merge_intervals
from kubectl_microseg.nft import values as V
from kubectl_microseg.nft.evaluate import evaluate
from kubectl_microseg.nft.matrix import Relevance, allowed, port_atoms
from kubectl_microseg.nft.packet import Packet
from kubectl_microseg.nft.parse import parse_ruleset
from plugins.nftables import scratch_load

from .gen import Gen
from .netlab import A4, A6, B4, R4, R6

pytestmark = pytest.mark.netns


def _slow_allowed(rs, hook: str, src: int, dst: int) -> ConnSet:
    """One packet per port piece, the whole ruleset: the reference."""
    fam = 4 if src < 2 ** 32 else 6
    base = 0 if fam == 4 else 2 ** 32
    acc = {}
    for proto in ("tcp", "udp", "sctp"):
        for lo, hi in port_atoms([rs]):
            pkt = Packet(family=fam, saddr=src - base, daddr=dst - base, l4proto=V.L4PROTO[proto], sport=40000,
                         dport=lo, iif="\x00other" if hook != "output" else None,
                         oif="\x00other" if hook != "input" else None)
            if evaluate(rs, pkt, hook).verdict != "deny":
                acc.setdefault(proto.upper(), []).append((lo, hi))
    return ConnSet({p: merge_intervals(r) for p, r in acc.items()})


@pytest.mark.parametrize("seed", range(1, 13))
def test_walker_agrees_with_evaluate(netns_ok: None, seed: int) -> None:
    text = Gen(seed).text()
    with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as fh:
        fh.write(text)
    try:
        rs = parse_ruleset(scratch_load(fh.name))
    finally:
        os.unlink(fh.name)
    rel = Relevance(rs)
    pairs = [(a, r, "input") for a in A4[:5] for r in R4[:2]] + [(a, r, "input") for a in A6 for r in R6]
    pairs += [(r, a, "output") for a, r, _ in pairs[:6]] + [(a, b, "forward") for a in A4[:4] for b in B4]
    checked = 0
    for s, d, hook in pairs:
        src, dst = address_int(s), address_int(d)
        vary = {"input": "saddr", "output": "daddr"}.get(hook)  # as build_matrix: the class's side varies
        fast, _ = allowed(rs, hook, src, dst, relevance=rel, vary=vary)
        slow = _slow_allowed(rs, hook, src, dst)
        assert fast & PORTS_ONLY == slow, f"seed {seed} {hook} {s} -> {d}:\n{text}"
        checked += 1
    assert checked == len(pairs)


PORTS_ONLY = ConnSet(dict.fromkeys(("TCP", "UDP", "SCTP"), ((1, 65535),)))

"""Provides ``evaluate``: the kernel's verdict on a new connection's first packet, with its trace.

The rules followed (nft(8) "OVERALL EVALUATION OF THE RULESET" and ``net/netfilter/nf_tables_core.c``):

* The packet crosses the hooks of its path (input: prerouting then input; output: output then
  postrouting; forward: prerouting, forward, postrouting). On each hook every base chain of every
  table whose family sees the packet (ip: IPv4, ip6: IPv6, inet: both) runs, lowest priority first.
* ``accept`` (a rule's, or the base chain policy) ends only that base chain; the packet goes on to
  the next base chain. ``drop`` and ``reject`` end the packet.
* ``jump`` pushes a return point, ``goto`` does not; ``return`` or the end of a regular chain goes back
  to the last return point, and with none left the base chain's policy applies. ``continue`` goes on
  with the next rule.
* A match whose header is absent (``tcp dport`` on a UDP packet, ``ip saddr`` on IPv6 in an inet
  table) does not match, whatever its operator: nft adds an implicit protocol dependency.
* A vmap lookup that finds no element ends the rule without a verdict.
* Before conntrack (priority < -200 on prerouting and output) ``ct state`` is ``invalid``; after
  ``notrack`` it is ``untracked``.
* ``limit rate over`` / ``quota over`` match only when exceeded; one packet on an idle host does not.
* ``queue`` hands the packet to userspace: not decidable offline. NAT statements accept for their
  chain (the address rewrite itself is not modelled and is reported).

Expressions the engine does not model are unknown: evaluation then explores both outcomes and the
verdict is reported only when it does not depend on them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..vocab import FlowVerdict, StrEnum
from . import values as V
from .model import (CHAIN_VERDICTS, DESTINATION_NAT, FINAL_VERDICTS, NAT_KINDS, Chain, Concat, Effect, Element, Field,
                    Interval, Mangle, Mask, Match, Name, Rule, Ruleset, SetRef, Terminal, TerminalKind, Unsupported,
                    Verdict, VerdictKind, VerdictStmt, VMap)
from .intervals import contains, element_intervals
from .packet import Assumption, Packet

UNKNOWN = object()
"""The value of a field the engine does not know (a fork in evaluation)."""
MAX_BRANCHES = 64
MAX_STEPS = 100000


class StepKind(StrEnum):
    """What one line of a trace is (``nft explain -o json`` trace ``kind``)."""

    HOOK = "hook"
    CHAIN = "chain"
    """A base chain of the hook starts."""
    JUMP = "jump"
    GOTO = "goto"
    RETURN = "return"
    """A return verdict, or the end of a jumped-to chain."""
    RULE = "rule"
    """A rule matched without a verdict (counters, logs, marks)."""
    VERDICT = "verdict"
    POLICY = "policy"
    """The base chain's policy decided."""
    NAT = "nat"
    """A NAT statement rewrote the packet."""


_CHAIN_STEP = {VerdictKind.JUMP: StepKind.JUMP, VerdictKind.GOTO: StepKind.GOTO}


@dataclass(frozen=True)
class Step:
    """One line of a trace."""

    kind: StepKind
    chain: str
    text: str
    handle: int | None = None
    depth: int = 0


@dataclass(frozen=True)
class ChainOutcome:
    """How one base chain ended for the packet."""

    base: Chain
    verdict: VerdictKind
    """accept, drop or queue (:data:`FINAL_VERDICTS`)."""
    rule: Rule | None
    """The deciding rule (None: the base chain policy)."""
    terminal: TerminalKind | None = None
    """reject, queue, snat, dnat, masquerade, redirect when a statement ended the chain."""

    def because(self) -> str:
        """'inet microseg input: rule 6: ip saddr 10.0.100.0/24 tcp dport 22 accept' or '...: policy drop'."""
        if self.rule is None:
            return f"{self.base.label()}: policy {self.base.policy}"
        where = self.rule.chain if self.rule.chain == self.base.name else f"{self.rule.chain} (from {self.base.name})"
        return f"{self.rule.family} {self.rule.table} {where}: rule {self.rule.handle}: {self.rule.text}"


@dataclass
class Evaluation:
    """The verdict, the base chains that decided it, the trace and notes."""

    verdict: FlowVerdict
    outcomes: list[ChainOutcome]
    trace: list[Step]
    notes: list[str] = field(default_factory=list)
    alternatives: list[tuple[str, list[str]]] = field(default_factory=list)
    """When the verdict is the same whatever an unmodelled expression does, but different rules decide it:
    (condition, what decided) per case."""

    def because(self) -> list[str]:
        """What decided: the dropping rule or policy, or every base chain's accepting rule or policy."""
        if self.alternatives:
            return [f"if {cond}: {'; '.join(lines)}" for cond, lines in self.alternatives]
        if not self.outcomes and self.verdict == FlowVerdict.ALLOW:
            return ["no base chain on this path: accepted"]
        if self.verdict == FlowVerdict.ALLOW:
            out = [o.because() for o in self.outcomes]
        else:
            out = [self.outcomes[-1].because()] if self.outcomes else []
        if self.verdict == FlowVerdict.UNKNOWN:
            out += self.notes
        return out


class _Undecided(Exception):
    """The verdict cannot be decided offline (a lookup of an unmodelled value)."""


class _Fork(Exception):
    def __init__(self, key: tuple[object, ...], what: str):
        super().__init__(what)
        self.key = key
        self.what = what


@dataclass
class _State:
    pkt: Packet
    hook: str
    prio: int
    assume: dict[tuple[object, ...], bool]
    mark: object = 0
    """An int, or UNKNOWN once set from a value the engine does not model."""
    ctmark: int = 0
    untracked: bool = False
    trace: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: int = 0
    added: dict[tuple[str, str, str], list[list[object]]] = field(default_factory=dict)
    """Keys this packet added to sets on its way (``add @s { ip saddr }``)."""

    @property
    def no_conntrack(self) -> bool:
        return self.hook in ("prerouting", "output") and self.prio < V.CONNTRACK_PRIORITY


def family_sees(table_family: str, ip_version: int) -> bool:
    """Whether base chains of a table of this family see packets of this IP version."""
    return table_family == "inet" or (table_family == "ip" and ip_version == 4) or (table_family == "ip6" and ip_version == 6)


def evaluate(rs: Ruleset, pkt: Packet, hook: str = "input") -> Evaluation:
    """The verdict of ``rs`` on ``pkt`` travelling the path of ``hook`` (input, output, forward)."""
    pending: list[dict[tuple[object, ...], bool]] = [{}]
    leaves: list[tuple[dict[tuple[object, ...], bool], Evaluation]] = []
    unknowns: dict[tuple[object, ...], str] = {}
    while pending:
        assume = pending.pop()
        try:
            leaves.append((assume, _run(rs, pkt, hook, assume)))
        except _Undecided as exc:
            return Evaluation(FlowVerdict.UNKNOWN, [], [], [str(exc)])
        except _Fork as f:
            unknowns[f.key] = f.what
            if len(leaves) + len(pending) >= MAX_BRANCHES:
                break
            pending.append({**assume, f.key: True})
            pending.append({**assume, f.key: False})
    first = leaves[0][1] if leaves else Evaluation(FlowVerdict.UNKNOWN, [], [])
    verdicts = {ev.verdict for _, ev in leaves}
    if pending or not leaves:
        verdicts.add(FlowVerdict.UNKNOWN)
    if unknowns:
        whats = sorted(set(unknowns.values()))
        if len(verdicts) == 1:
            first.notes.append(f"the verdict does not depend on the unsupported expression(s): {', '.join(whats)}")
            if len({tuple(ev.because()) for _, ev in leaves}) > 1:
                # the same verdict, decided by different rules: name each with its condition, never one
                # branch as if the engine knew it was taken (the trace below follows the first one)
                first.alternatives = [(_condition(a, unknowns), ev.because()) for a, ev in leaves]
                first.notes.append(f"the trace follows the case {_condition(leaves[0][0], unknowns)}")
        else:
            first.verdict = FlowVerdict.UNKNOWN
            first.notes.append(f"the verdict depends on expression(s) the engine does not model: {', '.join(whats)}")
    return first


def _condition(assume: dict[tuple[object, ...], bool], unknowns: dict[tuple[object, ...], str]) -> str:
    """'fib daddr type local matches and ... does not match' for one explored case."""
    return " and ".join(f"{unknowns.get(k, 'an expression')} {'matches' if v else 'does not match'}"
                        for k, v in assume.items()) or "without assumptions"


def _run(rs: Ruleset, pkt: Packet, path_hook: str, assume: dict[tuple[object, ...], bool]) -> Evaluation:
    st = _State(pkt=pkt, hook=path_hook, prio=0, assume=assume, untracked=pkt.ct_state == "untracked")
    outcomes: list[ChainOutcome] = []
    path = list(V.HOOK_PATHS.get(path_hook, (path_hook,)))
    i = 0
    while i < len(path):
        hook = path[i]
        i += 1
        chains = [c for c in rs.base_chains(hook) if family_sees(c.family, st.pkt.family)]
        if not chains:
            continue
        st.trace.append(Step(StepKind.HOOK, "", f"hook {hook}"))
        prios = [c.prio for c in chains]
        if len(set(prios)) != len(prios):
            st.notes.append(f"hook {hook}: several base chains share a priority (their order is undefined; "
                            "the verdict is the same unless one changes the packet)")
        nat_done = False
        for base in chains:
            if base.type == "nat" and (st.pkt.ct_state != "new" or nat_done):
                # nat chains see only a connection's first packet, and only until one of them translated it
                # (nf_nat_inet_fn: a packet with a NAT binding skips the remaining nat chains)
                continue
            st.hook, st.prio = hook, base.prio or 0
            outcome = _run_base_chain(rs, base, st)
            outcomes.append(outcome)
            if outcome.verdict == VerdictKind.DROP:
                return Evaluation(FlowVerdict.DENY, outcomes, st.trace, st.notes)
            if outcome.verdict == VerdictKind.QUEUE:
                st.notes.append(f"{outcome.because()}: the packet is queued to userspace; "
                                "its fate is decided there, not decidable offline")
                return Evaluation(FlowVerdict.UNKNOWN, outcomes, st.trace, st.notes)
            if outcome.terminal in NAT_KINDS and outcome.rule is not None:
                nat_done = True
                rest = _translate(st, outcome, path_hook, hook)
                if rest is not None:
                    path = path[:i] + list(rest)
    return Evaluation(FlowVerdict.ALLOW, outcomes, st.trace, st.notes)


def _translate(st: _State, outcome: ChainOutcome, path_hook: str, hook: str) -> tuple[str, ...] | None:
    """Rewrite the packet as the NAT statement says (explained in the trace); after a destination
    rewrite in prerouting, routing picks the path again: the new path's remaining hooks, else None.

    Where the packet goes after DNAT is routing's decision; offline, an address other than the original
    one is taken as another host's (the forward path: Docker's published ports) unless it is a loopback
    address, and ``redirect`` always delivers locally (nft(8) NAT STATEMENTS)."""
    assert outcome.rule is not None
    t = next(s for s in outcome.rule.stmts if isinstance(s, Terminal) and s.kind in NAT_KINDS)
    p = st.pkt
    if not t.literal:
        raise _Undecided(f"{outcome.because()}: the {t.kind} target is not one literal address and port; "
                         "the translated packet is not known offline")
    before = _endpoint(p.family, p.saddr, p.sport) + " -> " + _endpoint(p.family, p.daddr, p.dport)
    if t.kind in DESTINATION_NAT:
        new = p.with_(daddr=t.addr if t.addr is not None else p.daddr,
                      dport=t.port if t.port is not None and p.dport is not None else p.dport)
    else:
        new = p.with_(saddr=t.addr if t.addr is not None else p.saddr,
                      sport=t.port if t.port is not None and p.sport is not None else p.sport)
    st.pkt = new
    after = _endpoint(new.family, new.saddr, new.sport) + " -> " + _endpoint(new.family, new.daddr, new.dport)
    text = f"{t.text}: {before} becomes {after}"
    if t.kind == TerminalKind.MASQUERADE:
        text += " (the source becomes the output interface's address, not known offline)"
    st.trace.append(Step(StepKind.NAT, outcome.base.label(), text, outcome.rule.handle))
    st.notes.append(f"address translation: {text}")
    if hook != "prerouting" or t.kind not in DESTINATION_NAT or new.daddr == p.daddr:
        return None
    local = t.kind == TerminalKind.REDIRECT or _is_loopback(new.family, new.daddr)
    if path_hook == "input" and not local:
        st.notes.append(f"{_endpoint(new.family, new.daddr, None)} is taken as another host's address: the "
                        "packet is forwarded (hooks forward, postrouting); the input chains do not see it")
        return ("forward", "postrouting")
    if path_hook == "forward" and local:
        return ("input",)
    return None


def _endpoint(family: int, addr: int, port: int | None) -> str:
    a = str(ipaddress.ip_address(addr)) if family == 4 else f"[{ipaddress.IPv6Address(addr)}]"
    return f"{a}:{port}" if port is not None else a


def _is_loopback(family: int, addr: int) -> bool:
    return (ipaddress.IPv4Address(addr) if family == 4 else ipaddress.IPv6Address(addr)).is_loopback


def _run_base_chain(rs: Ruleset, base: Chain, st: _State) -> ChainOutcome:
    st.trace.append(Step(StepKind.CHAIN, base.label(), f"base chain {base.label()} (hook {base.hook}, priority {base.prio}, "
                                                f"policy {base.policy})"))
    stack: list[tuple[Chain, int]] = []
    cur, idx = base, 0
    while True:
        st.steps += 1
        if st.steps > MAX_STEPS:
            raise _Fork(("loop", base.key), f"evaluation of {base.label()} does not end")
        if idx >= len(cur.rules):
            if stack:
                st.trace.append(Step(StepKind.RETURN, cur.label(), f"end of chain {cur.name}: back to {stack[-1][0].name}",
                                     depth=len(stack)))
                cur, idx = stack.pop()
                continue
            return _policy(base, st)
        rule = cur.rules[idx]
        idx += 1
        res = _run_rule(rs, cur, rule, st, len(stack))
        if res is None:
            continue
        kind, target = res
        if kind == VerdictKind.CONTINUE:
            continue
        if kind in FINAL_VERDICTS:
            st.trace.append(Step(StepKind.VERDICT, cur.label(), f"rule {rule.handle}: {rule.text} -> {kind}",
                                 rule.handle, len(stack)))
            term = next((s.kind for s in rule.stmts if isinstance(s, Terminal)), None)
            return ChainOutcome(base, kind, rule, term)
        if kind in CHAIN_VERDICTS:
            nxt = rs.chains[(cur.family, cur.table, str(target))]
            st.trace.append(Step(_CHAIN_STEP[kind], cur.label(), f"rule {rule.handle}: {rule.text}", rule.handle, len(stack)))
            if kind == VerdictKind.JUMP:
                stack.append((cur, idx))
            cur, idx = nxt, 0
            continue
        if kind == VerdictKind.RETURN:
            st.trace.append(Step(StepKind.RETURN, cur.label(), f"rule {rule.handle}: {rule.text}", rule.handle, len(stack)))
            if not stack:
                return _policy(base, st)
            cur, idx = stack.pop()


def _policy(base: Chain, st: _State) -> ChainOutcome:
    st.trace.append(Step(StepKind.POLICY, base.label(), f"policy {base.policy}"))
    return ChainOutcome(base, VerdictKind.DROP if base.policy == VerdictKind.DROP else VerdictKind.ACCEPT, None)


def _run_rule(rs: Ruleset, chain: Chain, rule: Rule, st: _State,
              depth: int) -> tuple[VerdictKind, str | None] | None:
    """Run one rule's statements in order: None when it ends without a verdict, else (verdict, target)."""
    shown: list[str] = []
    for i, s in enumerate(rule.stmts):
        key = (chain.key, rule.handle, id(rule), i)
        if isinstance(s, Match):
            r = _dynamic_member(rs, chain, s, st, key)
            if r is None:
                r = _match(rs, chain, s, st)
            if r is UNKNOWN:
                r = _assume(st, key, f"{rule.text!r} (a set or field not modelled)")
            if not r:
                return None
        elif isinstance(s, Unsupported):
            if s.left is not None and _values(s.left, st) is None:
                return None  # the header it reads is absent ('ip ttl' on IPv6): no match, whatever it tests
            if not _assume(st, key, s.kind):
                return None
        elif isinstance(s, VerdictStmt):
            return s.verdict.kind, s.verdict.target
        elif isinstance(s, VMap):
            found = _vmap(rs, chain, s, st, key, rule)
            if found is None:
                return None
            return found.kind, found.target
        elif isinstance(s, Terminal):
            if s.kind == TerminalKind.REJECT:
                if s.family is not None and s.family != st.pkt.family:
                    return None  # reject with icmp / icmpv6 carries an implicit meta nfproto match
                return VerdictKind.DROP, None
            if s.kind == TerminalKind.QUEUE:
                return VerdictKind.QUEUE, None
            if s.kind == TerminalKind.UNMODELLED:
                raise _Undecided(f"{rule.text}: the {s.text} is not modelled; its verdict is not known offline")
            return VerdictKind.ACCEPT, None  # a NAT statement
        elif isinstance(s, Mangle):
            if s.key.kind == "mark":
                st.mark = s.value if s.value is not None else UNKNOWN  # 'meta mark set meta mark | 0x10'
            elif s.value is not None and s.key.kind == "ctmark" and not (st.no_conntrack or st.untracked):
                st.ctmark = s.value
            shown.append(f"{s.key.name} set {s.value}")
        elif isinstance(s, Effect):
            if s.stateful and not _stateful(st, key, s):
                return None
            if s.target is not None and not _set_update(rs, chain, s, st, key):
                return None
            if s.kind == "notrack" and st.no_conntrack:
                st.untracked = True  # after conntrack (priority >= -200) the entry exists: notrack does nothing
            shown.append(s.kind)
    _effects(st, chain, rule, shown, depth)
    return None


def _stateful(st: _State, key: tuple[object, ...], s: Effect) -> bool:
    """Whether a limit, quota or ct count statement matches: what the flow assumes, else a fork."""
    if Assumption.UNDER_LIMITS in st.pkt.assume:
        return not s.inv  # 'limit rate 10/second' matches, 'limit rate over ...' does not
    if Assumption.OVER_LIMITS in st.pkt.assume:
        return s.inv
    return _assume(st, key + (s.text,), f"{s.text} (depends on earlier packets; a flow may assume "
                                        "under-limits or over-limits)")


def _set_update(rs: Ruleset, chain: Chain, s: Effect, st: _State, key: tuple[object, ...]) -> bool:
    """``add @s { key [stmt] }`` / ``meter``: remember the key; the rule goes on if every inner statement
    matches (``limit rate over 1/minute`` inside: only once that key exceeded the rate)."""
    if s.key is not None:
        vals = _values(s.key, st)
        if isinstance(vals, list):
            st.added.setdefault((chain.family, chain.table, str(s.target)), []).append(vals)
    return all(_stateful(st, key + (i,), inner) for i, inner in enumerate(s.inner) if inner.stateful)


def _dynamic_member(rs: Ruleset, chain: Chain, m: Match, st: _State, key: tuple[object, ...]) -> object:
    """A lookup in a set the packet path writes to: true if this packet added its key, else what the flow
    assumes (sets-as-listed: the listed members), else unknown. None when the set is not such a set."""
    if not isinstance(m.right, SetRef) or (chain.family, chain.table, m.right.name) not in rs.updated_sets:
        return None
    vals = _values(m.left, st)
    if vals is None:
        return False
    if isinstance(vals, list) and vals in st.added.get((chain.family, chain.table, m.right.name), []):
        return m.op != "!="
    if Assumption.SETS_AS_LISTED in st.pkt.assume:
        return None  # the listed members decide
    return _assume(st, key + ("member",), f"membership in @{m.right.name} (a set the packet path updates; "
                                          "a flow may assume sets-as-listed)")


def _effects(st: _State, chain: Chain, rule: Rule, shown: list[str], depth: int) -> None:
    """A rule that matched without a verdict (counters, logs, marks): shown, evaluation goes on."""
    st.trace.append(Step(StepKind.RULE, chain.label(), f"rule {rule.handle}: {rule.text} (no verdict)", rule.handle, depth))


def _assume(st: _State, key: tuple[object, ...], what: str) -> bool:
    if key not in st.assume:
        raise _Fork(key, what)
    return st.assume[key]


def field_value(f: Field, st: _State) -> object:
    """The value of ``f`` for the packet: an int, an interface name, None when the header is absent
    (the match fails whatever its operator), or UNKNOWN."""
    v = _raw_value(f, st)
    if f.mask is not None and isinstance(v, int):
        v &= f.mask
    return v


def _raw_value(f: Field, st: _State) -> object:
    p = st.pkt
    if f.source == "payload":
        proto = f.protocol
        if proto == "ip":
            if p.family != 4:
                return None
            return {"saddr": p.saddr, "daddr": p.daddr, "protocol": p.l4proto}.get(f.name, UNKNOWN)
        if proto == "ip6":
            if p.family != 6:
                return None
            # nexthdr is the header right after the fixed one: an extension header when there is one
            # (MLD's hop-by-hop), not the transport protocol (which 'meta l4proto' gives)
            nexthdr = p.nexthdr if p.nexthdr is not None else p.l4proto
            return {"saddr": p.saddr, "daddr": p.daddr, "nexthdr": nexthdr}.get(f.name, UNKNOWN)
        if proto in ("tcp", "udp", "sctp"):
            if p.l4proto != V.L4PROTO[proto]:
                return None
            if f.name == "flags" and proto == "tcp":
                return p.tcp_flags
            return {"sport": p.sport, "dport": p.dport}.get(f.name, UNKNOWN)
        if proto == "th":
            if p.l4proto in (6, 17, 132):
                return {"sport": p.sport, "dport": p.dport}.get(f.name, UNKNOWN)
            if p.l4proto in (1, 58) and f.name == "sport":
                return ((p.icmp_type or 0) << 8) | p.icmp_code  # th sport reads ICMP type and code
            return UNKNOWN
        if proto in ("icmp", "icmpv6"):
            if (proto == "icmp" and (p.family != 4 or p.l4proto != 1)) or (
                    proto == "icmpv6" and (p.family != 6 or p.l4proto != 58)):
                return None
            return {"type": p.icmp_type, "code": p.icmp_code}.get(f.name, UNKNOWN)
        return UNKNOWN
    if f.source == "meta":
        k = f.name
        if k == "l4proto":
            return p.l4proto
        if k == "nfproto":
            return V.NFPROTO["ipv4" if p.family == 4 else "ipv6"]
        if k == "protocol":
            return V.ETHERTYPE["ip" if p.family == 4 else "ip6"]
        if k in ("iifname", "iif"):
            return p.iif or ""  # no device: empty name, index 0 (nft_meta_get_eval)
        if k in ("oifname", "oif"):
            # routing picks the output device after prerouting; packets for this host have none
            return "" if st.hook in ("prerouting", "input") else (p.oif or "")
        if k == "mark":
            return st.mark
        return UNKNOWN
    if f.source == "ct":
        no_ct = st.no_conntrack or st.untracked
        if f.name == "state":
            if st.untracked:
                return V.CT_STATE["untracked"]
            return V.CT_STATE["invalid"] if st.no_conntrack else V.CT_STATE[p.ct_state]
        if no_ct:
            return None  # other ct keys without a conntrack entry: NFT_BREAK
        if f.name == "mark":
            return st.ctmark
        if f.name == "direction":
            return 0 if p.ct_state == "new" else UNKNOWN
    return UNKNOWN


def _component_matches(c: Interval | Name, v: object) -> bool:
    if isinstance(c, Interval):
        return isinstance(v, int) and c.contains(v)
    return isinstance(v, str) and c.matches(v)


def element_matches(el: Element, vals: list[object]) -> bool:
    """Whether the packet's values fall in one set element (every concatenated component)."""
    return len(el) == len(vals) and all(_component_matches(c, v) for c, v in zip(el, vals))


def member(elems: tuple[Element, ...], vals: list[object]) -> bool:
    """Whether the values fall in one of the elements; a big set of single intervals (a blocklist) is
    merged once and bisected."""
    if len(elems) > 16 and len(vals) == 1 and isinstance(vals[0], int) and \
            all(len(e) == 1 and isinstance(e[0], Interval) for e in (elems[0], elems[-1])):
        return contains(element_intervals(elems), vals[0])
    return any(element_matches(e, vals) for e in elems)


def _values(left: Field | Concat, st: _State) -> list[object] | object | None:
    items = left.items if isinstance(left, Concat) else (left,)
    vals = [field_value(f, st) for f in items]
    if any(v is None for v in vals):
        return None
    if any(v is UNKNOWN for v in vals):
        return UNKNOWN
    return vals


def _elements(rs: Ruleset, chain: Chain, right: object) -> tuple[Element, ...] | object:
    if isinstance(right, SetRef):
        ns = rs.lookup_set(chain.family, chain.table, right.name)
        if ns is None or not ns.supported:
            return UNKNOWN
        return ns.elements
    return right


def _match(rs: Ruleset, chain: Chain, m: Match, st: _State) -> object:
    vals = _values(m.left, st)
    if vals is None:
        return False
    if vals is UNKNOWN:
        return UNKNOWN
    assert isinstance(vals, list)
    if isinstance(m.right, Mask):
        v, bits = vals[0], m.right.bits
        if not isinstance(v, int):
            return False
        if m.op == "==":
            return v == bits  # 'ct state == new,established': the OR'ed value exactly (cmp eq)
        if m.op == "!=":
            return v != bits
        if m.op == "!":
            return (v & bits) == 0  # 'tcp flags ! syn': none of the bits
        return (v & bits) != 0  # 'in' (the implicit operator): any of the bits
    elems = _elements(rs, chain, m.right)
    if elems is UNKNOWN:
        return UNKNOWN
    assert isinstance(elems, tuple)
    if m.is_set:
        found = member(elems, vals)
        return (not found) if m.op == "!=" else found
    el = elems[0]
    v = vals[0]
    if m.op in ("<", ">", "<=", ">="):
        c = el[0]
        if not (isinstance(v, int) and isinstance(c, Interval)):
            return UNKNOWN
        n = c.lo
        return {"<": v < n, ">": v > n, "<=": v <= n, ">=": v >= n}[m.op]
    if m.op == "in" and len(el) == 1 and isinstance(el[0], Interval) and _is_bitmask(m.left):
        return isinstance(v, int) and (v & el[0].lo) != 0  # ct state new: a flag test
    hit = element_matches(el, vals)
    return (not hit) if m.op == "!=" else hit


def _is_bitmask(left: Field | Concat) -> bool:
    return isinstance(left, Field) and left.kind in ("ctstate", "tcpflags")


def _vmap(rs: Ruleset, chain: Chain, s: VMap, st: _State, key: tuple[object, ...], rule: Rule) -> Verdict | None:
    vals = _values(s.key, st)
    if vals is None:
        return None
    if isinstance(s.data, SetRef):
        ns = rs.lookup_set(chain.family, chain.table, s.data.name)
        pairs = ns.verdicts if ns is not None and ns.supported else None
    else:
        pairs = s.data
    if vals is UNKNOWN or pairs is None:
        raise _Undecided(f"the verdict map of rule {rule.handle} ({rule.text}) looks up a value not modelled")
    assert isinstance(vals, list)
    for el, verdict in pairs:
        if element_matches(el, vals):
            return verdict
    return None

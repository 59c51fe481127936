"""Provides the nftables rules: shadowed rules (NF001), SSH open to everything (NF002), missing
established/related (NF003), drops that are not logged (NF004) and ports translated to another address,
which the input chain does not govern (NF005).

NF002 and NF003 ask the evaluator (``nft.evaluate``) about probe packets, so jumps, sets, vmaps and
several base chains count exactly as the kernel would run them. NF001 is a syntactic subset test:
it reports a rule only when an earlier unconditional-verdict rule of the same chain matches at least
every packet it matches (it never guesses about statements it does not model).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..nft.evaluate import Evaluation, evaluate
from ..nft.model import (Chain, Effect, Element, Interval, Mangle, Mask, Match, Name, Rule, Ruleset, SetRef, Terminal,
                         TerminalKind, VerdictKind, VerdictStmt)
from ..nft.nat import forwarded_ports
from ..nft.packet import Assumption, Flow
from ..vocab import FlowVerdict
from .finding import Finding, Location, RuleInfo
from .nft_lines import rule_lines

NF001 = RuleInfo(
    "NF001", "nft-shadowed-rule", "warning",
    "rule that can never match: an earlier rule of the chain decides all of its packets",
    "An earlier rule of the same chain matches every packet this rule matches and ends with a verdict "
    "(accept, drop, reject), so this rule is never reached. If its verdict differs it is a bug (the "
    "intended exception never applies); if it is the same it is dead weight. Move it above the earlier "
    "rule or delete it.", "nftables")
NF002 = RuleInfo(
    "NF002", "nft-ssh-open", "error",
    "SSH (TCP 22) accepted from any address",
    "A new TCP connection to port 22 from an arbitrary public address (a probe from 203.0.113.77 or "
    "2001:db8::77) is accepted on the input hook. Restrict SSH to a management network or a bastion "
    "(ip saddr @mgmt_net tcp dport 22 accept).", "nftables")
NF003 = RuleInfo(
    "NF003", "nft-missing-established", "warning",
    "replies of established connections are dropped",
    "A packet of an established connection (ct state established) is dropped on the input or output hook, "
    "so replies to the connections the ruleset allows are lost. Put `ct state established,related accept` "
    "first in each filter chain.", "nftables")
NF004 = RuleInfo(
    "NF004", "nft-drop-not-logged", "info",
    "a filter chain drops without logging",
    "The chain ends in a drop (its policy, or a final drop rule) and no rule at its end logs, so denied "
    "traffic leaves no trace to troubleshoot or detect scans with. Add `log prefix \"nft-input-drop: \" "
    "counter drop` (with a limit on busy hosts) as the last rule.", "nftables")

NF005 = RuleInfo(
    "NF005", "nft-forwarded-port-not-filtered-on-input", "warning",
    "a port translated to another address is not governed by the input chain",
    "Destination NAT in prerouting (a Docker-published port, a port forward) sends the packet to another "
    "address, so routing forwards it: the forward chain decides it and the host's input rules never see it "
    "(Docker's published ports bypass ufw and firewalld, moby/moby#4737). Filter these ports in the forward "
    "chain (or Docker's DOCKER-USER chain), e.g. `ip daddr 172.17.0.2 tcp dport 80 ip saddr @allowed accept`.",
    "nftables")

PROBE_V4, HOST_V4 = "203.0.113.77", "198.51.100.10"
PROBE_V6, HOST_V6 = "2001:db8::77", "2001:db8:1::10"
_PLAIN_EFFECTS = ("counter", "log")
"""Effects that never change whether a rule reaches its verdict (a limit or a quota does)."""


class _Where:
    """Locations of chains and rules in the ruleset's source file (when it is ``nft -f`` text)."""

    def __init__(self, file: str | None, lines: list[str] | None):
        self.file = file
        self.map = rule_lines(lines) if lines else {}

    def chain(self, c: Chain) -> Location:
        got = self.map.get(c.key)
        return Location(self.file, got[0] if got else None, None if self.file else "live nftables ruleset")

    def rule(self, c: Chain, rule: Rule) -> Location:
        if self.file and rule.raw.get("iptables") and isinstance(rule.handle, int):
            return Location(self.file, rule.handle)  # an iptables-save line: its handle is its line number
        got = self.map.get(c.key)
        if got and len(got[1]) == len(c.rules) and rule in c.rules:
            return Location(self.file, got[1][c.rules.index(rule)])
        return self.chain(c)


def _finding(info: RuleInfo, message: str, c: Chain, loc: Location, fix: str) -> Finding:
    return Finding(info.id, info.severity, message, f"nft {c.family} {c.table} {c.name}", loc, fix)


# ------------------------------------------------------------------------------------------ NF001
def _verdict(rule: Rule) -> VerdictKind | TerminalKind | None:
    """The verdict a rule always reaches once its matches hold: accept, drop, reject; else None."""
    last = rule.stmts[-1] if rule.stmts else None
    verdict: VerdictKind | TerminalKind
    if isinstance(last, VerdictStmt) and last.verdict.kind in (VerdictKind.ACCEPT, VerdictKind.DROP):
        verdict = last.verdict.kind
    elif isinstance(last, Terminal) and last.kind == TerminalKind.REJECT:
        verdict = TerminalKind.REJECT
    else:
        return None
    for s in rule.stmts[:-1]:
        if isinstance(s, (Match, Mangle)):
            continue
        if isinstance(s, Effect) and s.kind in _PLAIN_EFFECTS:
            continue
        return None  # limit, quota, vmap, an unsupported expression: not always reached
    return verdict


def _component_in(small: Interval | Name, big: Interval | Name) -> bool:
    if isinstance(small, Interval) and isinstance(big, Interval):
        return big.lo <= small.lo and small.hi <= big.hi
    if isinstance(small, Name) and isinstance(big, Name):
        if big.prefix:
            return small.text.startswith(big.text)
        return not small.prefix and small.text == big.text
    return False


def _elements_in(small: Sequence[Element], big: Sequence[Element]) -> bool:
    """Every element of ``small`` lies inside one element of ``big`` (single components: the union)."""
    for el in small:
        if len(el) == 1 and isinstance(el[0], Interval):
            lo, hi = el[0].lo, el[0].hi
            spans = sorted((b[0].lo, b[0].hi) for b in big if len(b) == 1 and isinstance(b[0], Interval))
            for blo, bhi in spans:
                if blo <= lo <= bhi:
                    lo = bhi + 1
                if lo > hi:
                    break
            if lo <= hi:
                return False
        elif not any(len(b) == len(el) and all(_component_in(s, t) for s, t in zip(el, b)) for b in big):
            return False
    return True


def _implies(s: Match, r: Match) -> bool:
    """True when every packet matching ``s`` also matches ``r`` (same left side)."""
    if s == r:
        return True
    if s.left != r.left or s.op not in ("==", "in") or r.op not in ("==", "in"):
        return False
    if isinstance(s.right, SetRef) or isinstance(r.right, SetRef):
        return isinstance(s.right, SetRef) and isinstance(r.right, SetRef) and s.right.name == r.right.name
    if isinstance(s.right, Mask) and isinstance(r.right, Mask):
        return s.right.bits != 0 and not s.right.bits & ~r.right.bits
    if isinstance(s.right, tuple) and isinstance(r.right, tuple):
        return _elements_in(s.right, r.right)
    return False


def shadowing_rule(chain: Chain, index: int) -> Rule | None:
    """The earlier rule of ``chain`` that decides every packet rule ``index`` matches, if any."""
    rule = chain.rules[index]
    s_matches = [m for m in rule.stmts if isinstance(m, Match)]
    for earlier in chain.rules[:index]:
        if _verdict(earlier) is None:
            continue
        r_matches = [m for m in earlier.stmts if isinstance(m, Match)]
        if all(any(_implies(s, r) for s in s_matches) for r in r_matches):
            return earlier
    return None


def check_shadowed(rs: Ruleset, where: _Where) -> Iterator[Finding]:
    for chain in rs.chains.values():
        for i, rule in enumerate(chain.rules):
            earlier = shadowing_rule(chain, i)
            if earlier is None:
                continue
            same = _verdict(earlier) == _verdict(rule)
            why = "it is dead weight" if same else "its different verdict never applies"
            yield _finding(NF001, f"{chain.label()}: rule {rule.handle} `{rule.text}` can never match: rule "
                                  f"{earlier.handle} `{earlier.text}` above it decides all of its packets ({why})",
                           chain, where.rule(chain, rule),
                           "move the more specific rule above the general one, or delete it")


# ------------------------------------------------------------------------------------------ NF002/3
def _has_filter_chain(rs: Ruleset, hook: str) -> bool:
    return any(c.type in (None, "filter") for c in rs.base_chains(hook))


def _decider(ev: Evaluation) -> tuple[Chain, Rule | None] | None:
    if not ev.outcomes:
        return None
    o = ev.outcomes[-1] if ev.verdict != FlowVerdict.ALLOW else next((x for x in ev.outcomes if x.rule is not None),
                                                             ev.outcomes[-1])
    return o.base, o.rule


def check_ssh(rs: Ruleset, where: _Where) -> Iterator[Finding]:
    if not _has_filter_chain(rs, "input"):
        return
    for src, dst in ((PROBE_V4, HOST_V4), (PROBE_V6, HOST_V6)):
        # one probe on an idle host: a rate-limited SSH accept is still open to everything
        ev = evaluate(rs, Flow(src, dst, "tcp", 22, "input", assume=(Assumption.UNDER_LIMITS,)).packet(), "input")
        got = _decider(ev) if ev.verdict == FlowVerdict.ALLOW else None
        if got is None:
            continue
        chain, rule = got
        what = f"rule {rule.handle} `{rule.text}`" if rule is not None else f"the policy {chain.policy}"
        yield _finding(NF002, f"SSH is open to everything: a new connection from {src} to port 22 is accepted "
                              f"({chain.label()}: {what})", chain,
                       where.rule(chain, rule) if rule is not None else where.chain(chain),
                       "accept tcp dport 22 only from the management network (ip saddr @mgmt_net)")
        return


def check_established(rs: Ruleset, where: _Where) -> Iterator[Finding]:
    probes = (("input", Flow(PROBE_V4, HOST_V4, "tcp", 40000, "input", sport=443, ct_state="established",
                             assume=(Assumption.UNDER_LIMITS,))),
              ("output", Flow(HOST_V4, PROBE_V4, "tcp", 40000, "output", sport=22, ct_state="established",
                              assume=(Assumption.UNDER_LIMITS,))))
    for hook, flow in probes:
        if not _has_filter_chain(rs, hook):
            continue
        ev = evaluate(rs, flow.packet(), hook)
        got = _decider(ev)
        if ev.verdict != FlowVerdict.DENY or got is None:
            continue
        chain, _rule = got
        yield _finding(NF003, f"{chain.label()}: packets of established connections are dropped on {hook} "
                              f"(a reply {flow.src}:{flow.sport} -> {flow.dst}:{flow.port} is denied), so replies to "
                              "allowed connections are lost", chain, where.chain(chain),
                       f"add `ct state established,related accept` as the first rule of {chain.name}")


# ------------------------------------------------------------------------------------------ NF004
def _unconditional(rule: Rule) -> bool:
    return not any(isinstance(s, Match) for s in rule.stmts) and all(
        isinstance(s, (VerdictStmt, Effect, Terminal)) for s in rule.stmts)


_DROPS = (VerdictKind.DROP, TerminalKind.REJECT)


def check_drop_logging(rs: Ruleset, where: _Where) -> Iterator[Finding]:
    for chain in rs.chains.values():
        if chain.hook not in ("input", "output", "forward") or chain.type not in (None, "filter"):
            continue
        tail: list[Rule] = []
        for rule in reversed(chain.rules):
            if not _unconditional(rule):
                break
            tail.append(rule)
        final = next((_verdict(r) for r in reversed(tail) if _verdict(r) is not None), None)
        drops = final in _DROPS or (final is None and chain.policy == VerdictKind.DROP)
        logged = any(isinstance(s, Effect) and s.kind == "log" for r in tail for s in r.stmts)
        if drops and not logged:
            how = f"its last rule `{tail[-1].text}`" if final in _DROPS else f"policy {chain.policy}"
            yield _finding(NF004, f"{chain.label()} drops what it does not allow ({how}) without logging it",
                           chain, where.chain(chain),
                           'end the chain with `log prefix "nft-' + chain.name + '-drop: " counter drop`')


def check_ruleset(rs: Ruleset, file: str | None, lines: list[str] | None) -> Iterator[Finding]:
    """Every nftables rule over one ruleset."""
    where = _Where(file, lines)
    yield from check_shadowed(rs, where)
    yield from check_ssh(rs, where)
    yield from check_established(rs, where)
    yield from check_drop_logging(rs, where)
    yield from check_forwarded(rs, where)


def check_forwarded(rs: Ruleset, where: _Where) -> Iterator[Finding]:
    """NF005: every prerouting DNAT rule whose target is another address."""
    for f in forwarded_ports(rs):
        yield _finding(NF005, f.describe(), f.chain, where.rule(f.chain, f.rule),
                       f"filter the translated packet in a forward chain (daddr {f.target})")


RULES = ((NF001, check_ruleset), (NF002, None), (NF003, None), (NF004, None), (NF005, None))
"""(rule, check); check_ruleset reports all four."""

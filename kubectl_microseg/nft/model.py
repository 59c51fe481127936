"""Provides the typed model of an nftables ruleset: tables, chains, rules, statements, named sets.

``nft.parse`` builds it from libnftables JSON (libnftables-json(5)); the evaluator, the matrix and the
explanations only read it. Right-hand values are compiled once into integer intervals (addresses, ports,
protocol numbers, ct state bits) or interface-name patterns, so matching a packet is a comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ..vocab import StrEnum


class VerdictKind(StrEnum):
    """What a rule, a verdict map's element or a base chain's end does with the packet (nft(8) VERDICT
    STATEMENT: accept, drop, queue, continue, return, jump CHAIN, goto CHAIN; a chain's ``policy`` is accept
    or drop). libnftables-json(5) writes the verdicts as ``{"accept": null}`` ... ``{"jump": {"target": ...}}``;
    ``queue`` comes from the queue statement (a :class:`Terminal`)."""

    ACCEPT = "accept"
    DROP = "drop"
    QUEUE = "queue"
    """The packet goes to a user-space program: its fate is decided there, not offline."""
    CONTINUE = "continue"
    RETURN = "return"
    JUMP = "jump"
    GOTO = "goto"


RULE_VERDICTS = frozenset((VerdictKind.ACCEPT, VerdictKind.DROP, VerdictKind.CONTINUE, VerdictKind.RETURN))
"""The verdicts written without a target (libnftables-json(5), VERDICT; queue is a statement of its own)."""
CHAIN_VERDICTS = frozenset((VerdictKind.JUMP, VerdictKind.GOTO))
"""The verdicts that name a chain (``target``)."""
FINAL_VERDICTS = frozenset((VerdictKind.ACCEPT, VerdictKind.DROP, VerdictKind.QUEUE))
"""The verdicts that end the base chain's evaluation (nft(8): accept/drop/queue terminate the ruleset's
evaluation for this hook)."""
CHAIN_POLICIES = (VerdictKind.ACCEPT, VerdictKind.DROP)
"""A base chain's ``policy`` (nft(8) CHAINS: accept, the default, or drop)."""


class TerminalKind(StrEnum):
    """A statement that ends the rule with a verdict of its own (:class:`Terminal`)."""

    REJECT = "reject"
    """A drop that answers the sender (nft(8) REJECT STATEMENT)."""
    QUEUE = "queue"
    SNAT = "snat"
    DNAT = "dnat"
    MASQUERADE = "masquerade"
    REDIRECT = "redirect"
    UNMODELLED = "unmodelled"
    """An iptables target (xt) the JSON listing names without its options."""


NAT_KINDS = frozenset((TerminalKind.DNAT, TerminalKind.REDIRECT, TerminalKind.SNAT, TerminalKind.MASQUERADE))
"""The NAT statements (nft(8) NAT STATEMENTS): accept for this chain, the address rewritten."""
DESTINATION_NAT = frozenset((TerminalKind.DNAT, TerminalKind.REDIRECT))


@dataclass(frozen=True)
class Interval:
    """An inclusive integer interval: one value, a range or a prefix."""

    lo: int
    hi: int

    def contains(self, v: int) -> bool:
        return self.lo <= v <= self.hi


@dataclass(frozen=True)
class Name:
    """An interface name; ``prefix`` for a wildcard such as ``"eth*"`` (nft(8) "META EXPRESSIONS")."""

    text: str
    prefix: bool = False

    def matches(self, name: str) -> bool:
        # The kernel compares IFNAMSIZ bytes for a literal, only len(prefix) bytes for a wildcard.
        return name.startswith(self.text) if self.prefix else name == self.text


Component: TypeAlias = Interval | Name
Element = tuple[Component, ...]
"""One set element: one component per concatenated key part."""


@dataclass(frozen=True)
class Field:
    """A value taken from the packet or its metadata (the left side of a match)."""

    source: str
    """'payload', 'meta' or 'ct' (anything else is unsupported)."""
    protocol: str | None
    """For payload: ip, ip6, tcp, udp, sctp, th, icmp, icmpv6. None otherwise."""
    name: str
    """The payload field or the meta/ct key."""
    kind: str
    """Value kind: addr4, addr6, port, l4proto, nfproto, ethertype, ifname, iface, mark, ctmark, ctstate,
    ctdir, tcpflags, icmptype, icmpcode, icmpv6type, icmpv6code; 'unknown' when not modelled."""
    mask: int | None = None
    """For ``FIELD & MASK`` (a bitwise and on the left, e.g. ``tcp flags & (syn|ack)``)."""


@dataclass(frozen=True)
class Concat:
    """A concatenation ``a . b`` of fields (its set elements have one component per field)."""

    items: tuple[Field, ...]


Left: TypeAlias = Field | Concat


@dataclass(frozen=True)
class SetRef:
    """A reference ``@name`` to a named set or map of the same table."""

    name: str


@dataclass(frozen=True)
class Mask:
    """A bitmask given as a flag list (``ct state established,related``): tested with ``&``."""

    bits: int


@dataclass(frozen=True)
class Verdict:
    """accept, drop, continue, return, jump or goto (with ``target``)."""

    kind: VerdictKind
    target: str | None = None

    def text(self) -> str:
        return f"{self.kind} {self.target}" if self.target else self.kind


@dataclass(frozen=True)
class Match:
    """``left OP right``; ``right`` is literal elements, a set reference or a bitmask."""

    left: Left
    op: str
    right: tuple[Element, ...] | SetRef | Mask
    is_set: bool = False
    """True when the right side is a set (anonymous or named): the test is membership."""


@dataclass(frozen=True)
class VerdictStmt:
    verdict: Verdict


@dataclass(frozen=True)
class VMap:
    """``KEY vmap { k : verdict, ... }`` or ``KEY vmap @map``: no element found ends the rule."""

    key: Left
    data: tuple[tuple[Element, Verdict], ...] | SetRef


@dataclass(frozen=True)
class Terminal:
    """A statement that ends the packet's fate here: reject (a deny), queue (not decidable offline),
    or a NAT statement (snat, dnat, masquerade, redirect: accept for this chain, address rewritten)."""

    kind: TerminalKind
    family: int | None = None
    """reject with icmp (4) or icmpv6 (6): nft gives the rule an implicit ``meta nfproto`` match that the
    JSON listing leaves out, so in an inet table the rule applies to that IP version only. For snat and
    dnat: the IP version of ``addr``."""
    addr: int | None = None
    """dnat/snat: the new address (one literal); None: unchanged (redirect, masquerade) or not literal."""
    port: int | None = None
    """dnat/snat/redirect/masquerade: the new port (one literal); None: unchanged or not literal."""
    literal: bool = True
    """False when the target is an expression (a map, a range): the rewrite is not known offline."""
    text: str = ""


@dataclass(frozen=True)
class Mangle:
    """``meta mark set V`` / ``ct mark set V``; other keys are recorded as not modelled."""

    key: Field
    value: int | None


@dataclass(frozen=True)
class Effect:
    """A statement without a verdict: counter, log, limit, quota, notrack, ... (shown in traces).

    ``inv`` marks ``limit rate over`` / ``quota over``: these match only once the rate or quota is
    exceeded, which a connection's first packet on an idle host does not do.
    """

    kind: str
    inv: bool = False
    target: str | None = None
    """``add @m {...}`` / ``update @m {...}`` / ``meter m {...}``: the set the packet path writes to."""
    key: Field | Concat | None = None
    """The key such a statement adds (the packet's ``ip saddr``)."""
    inner: tuple[Effect, ...] = ()
    """The stateful statements inside (``limit rate over 1/minute``): each must match for the rule to go on."""
    text: str = ""

    @property
    def stateful(self) -> bool:
        """Whether whether it matches depends on what earlier packets did (rates, quotas, counts)."""
        return self.kind in STATEFUL_MATCHES


STATEFUL_MATCHES = ("limit", "quota", "ct count")
"""Statements that match or not by the state the kernel keeps between packets (libnftables-json(5):
LIMIT, QUOTA, CT COUNT); ``inv`` (``over``) matches once the threshold is exceeded."""


@dataclass(frozen=True)
class Unsupported:
    """An expression the engine does not model; its match result is unknown (unless the header it
    reads is absent from the packet: then it fails, whatever it compares)."""

    kind: str
    left: Field | Concat | None = None


Statement: TypeAlias = Match | VerdictStmt | VMap | Terminal | Mangle | Effect | Unsupported


@dataclass
class Rule:
    """One rule of a chain, with its original JSON and nft text for explanations."""

    family: str
    table: str
    chain: str
    handle: int | None
    stmts: list[Statement]
    text: str
    comment: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Chain:
    """A base chain (with hook, priority and policy) or a regular chain."""

    family: str
    table: str
    name: str
    handle: int | None = None
    type: str | None = None
    hook: str | None = None
    prio: int | None = None
    policy: VerdictKind = VerdictKind.ACCEPT
    """accept or drop (:data:`CHAIN_POLICIES`)."""
    device: str | None = None
    rules: list[Rule] = field(default_factory=list)

    @property
    def is_base(self) -> bool:
        return self.hook is not None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.family, self.table, self.name)

    def label(self) -> str:
        return f"{self.family} {self.table} {self.name}"


@dataclass
class NamedSet:
    """A named set or map: key kinds per component, elements, and for a map the data of each element."""

    family: str
    table: str
    name: str
    kinds: tuple[str, ...]
    elements: tuple[Element, ...]
    is_map: bool = False
    map_type: str | None = None
    """For maps: the data type ('verdict', 'ipv4_addr', ...)."""
    verdicts: tuple[tuple[Element, Verdict], ...] = ()
    flags: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)
    supported: bool = True
    """False when a key type is not modelled: lookups in it are unknown."""


@dataclass
class Ruleset:
    """Everything the evaluator needs, plus notes on what was skipped."""

    tables: list[tuple[str, str]] = field(default_factory=list)
    chains: dict[tuple[str, str, str], Chain] = field(default_factory=dict)
    sets: dict[tuple[str, str, str], NamedSet] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    defines: dict[str, str] = field(default_factory=dict)
    """``define NAME = VALUE`` lines of the source file (labels for the matrix), when known."""
    description: str = "ruleset"
    dormant: set[tuple[str, str]] = field(default_factory=set)
    """Tables with ``flags dormant``: their base chains are not registered, so they never run."""
    updated_sets: set[tuple[str, str, str]] = field(default_factory=set)
    """Named sets the packet path writes to (``add @s``, ``update @s``, meters) or flagged dynamic: their
    members depend on earlier packets, so a lookup is unknown unless a flow assumes sets-as-listed."""

    def base_chains(self, hook: str) -> list[Chain]:
        """Base chains of the analysed families on ``hook`` in the kernel's order: lowest priority first;
        among equal priorities the one registered last first (nf_hook_entries_grow inserts a new hook
        before the existing ones of the same priority), registration following the listing's order."""
        found = [(i, c) for i, c in enumerate(self.chains.values())
                 if c.hook == hook and (c.family, c.table) not in self.dormant]
        return [c for _, c in sorted(found, key=lambda ic: (ic[1].prio if ic[1].prio is not None else 0, -ic[0]))]

    def lookup_set(self, family: str, table: str, name: str) -> NamedSet | None:
        return self.sets.get((family, table, name))

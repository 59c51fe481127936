"""Property tests (Hypothesis) of the set algebra under the engine: ConnSet, AddressSet and atoms().

Each operation is compared with a brute-force model: a Python set of (protocol, port) or of addresses,
evaluated at every point where membership can change, which is exact for interval sets.
"""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_microseg.model.addresses import V4_MAX, V6_BASE, V6_MAX, AddressSet, atoms
from kubectl_microseg.model.ports import MAX_PORT, MIN_PORT, ConnSet
import itertools

SETTINGS = settings(max_examples=50, deadline=None)

# -- ConnSet ------------------------------------------------------------------------------------
# Ports from both ends of the range, so the 1 and 65535 boundaries (and "all") are exercised.
PORT_POOL = list(range(1, 13)) + list(range(MAX_PORT - 5, MAX_PORT + 1))
PROTOS = ["TCP", "UDP", "SCTP"]


@st.composite
def connsets(draw):
    by_proto = {}
    for proto in draw(st.lists(st.sampled_from(PROTOS), max_size=3, unique=True)):
        ranges = []
        for _ in range(draw(st.integers(0, 3))):
            a, b = sorted(draw(st.lists(st.sampled_from(PORT_POOL), min_size=2, max_size=2)))
            ranges.append((a, b))
        if draw(st.booleans()) and draw(st.booleans()):
            ranges.append((MIN_PORT, MAX_PORT))
        by_proto[proto] = ranges
    return ConnSet(by_proto)


def port_points() -> list[int]:
    pts = set()
    for p in PORT_POOL:
        pts.update({p - 1, p, p + 1})
    return sorted(x for x in pts if MIN_PORT <= x <= MAX_PORT)


POINTS = [(proto, p) for proto in PROTOS for p in port_points()]


def model(c: ConnSet) -> frozenset:
    return frozenset((proto, p) for proto, p in POINTS if c.allows(proto, p))


@SETTINGS
@given(connsets(), connsets())
def test_connset_ops_match_brute_force(a, b):
    ma, mb = model(a), model(b)
    assert model(a | b) == ma | mb
    assert model(a & b) == ma & mb
    assert model(a - b) == ma - mb
    assert (a <= b) == (ma <= mb)
    assert (a == b) == (ma == mb)  # the representation is canonical
    assert (hash(a) == hash(b)) or a != b


@SETTINGS
@given(connsets(), connsets(), connsets())
def test_connset_laws(a, b, c):
    assert a | b == b | a and a & b == b & a
    assert (a | b) | c == a | (b | c) and (a & b) & c == a & (b & c)
    assert a & (b | c) == (a & b) | (a & c)
    assert a | (b & c) == (a | b) & (a | c)
    assert (a - b) | (a & b) == a
    assert (a - b) & b == ConnSet.none()
    assert a | ConnSet.none() == a and a & ConnSet.all() == a
    assert ConnSet.all() - (ConnSet.all() - a) == a
    assert ConnSet.all() - (a | b) == (ConnSet.all() - a) & (ConnSet.all() - b)  # De Morgan


@SETTINGS
@given(connsets())
def test_connset_contract_round_trip(a):
    assert ConnSet.from_contract(a.to_contract()) == a
    assert (a.to_contract() == "all") == (a == ConnSet.all())
    assert bool(a) == (not a.is_empty()) == (a.describe() != "none")


# -- AddressSet ---------------------------------------------------------------------------------
ADDR_POOL = sorted({0, 1, 2, 5, 9, 16, 31, 255, 256, V4_MAX - 1, V4_MAX, V6_BASE, V6_BASE + 1, V6_BASE + 7,
                    V6_BASE + 2**64, V6_MAX - 1, V6_MAX})


@st.composite
def addrsets(draw):
    ivs = []
    for _ in range(draw(st.integers(0, 4))):
        a, b = sorted(draw(st.lists(st.sampled_from(ADDR_POOL), min_size=2, max_size=2)))
        ivs.append((a, b))
    return AddressSet(ivs)


ADDR_POINTS = sorted({x for p in ADDR_POOL for x in (p - 1, p, p + 1) if 0 <= x <= V6_MAX})


def amodel(s: AddressSet) -> frozenset:
    return frozenset(x for x in ADDR_POINTS if s.contains_interval(x, x))


@SETTINGS
@given(addrsets(), addrsets())
def test_addressset_ops_match_brute_force(a, b):
    ma, mb = amodel(a), amodel(b)
    assert amodel(a | b) == ma | mb
    assert amodel(a & b) == ma & mb
    assert amodel(a - b) == ma - mb
    assert (a == b) == (ma == mb)
    assert amodel(AddressSet.everything() - a) == frozenset(ADDR_POINTS) - ma


@SETTINGS
@given(addrsets(), addrsets(), addrsets())
def test_addressset_laws(a, b, c):
    assert a & (b | c) == (a & b) | (a & c)
    assert (a - b) | (a & b) == a
    assert a - (b | c) == (a - b) - c


@SETTINGS
@given(addrsets())
def test_addressset_cidrs_are_exact(a):
    """cidrs() is an exact cover: re-reading the CIDRs gives the same set, families kept apart."""
    back = AddressSet()
    for c in a.cidrs():
        net = ipaddress.ip_network(c)  # strict: no host bits
        back = back | AddressSet.from_cidr(str(net))
    assert back == a


@st.composite
def cidr_blocks(draw):
    """A random IPv4 or IPv6 CIDR and up to two strict sub-networks of it (valid ``except`` entries)."""
    v6 = draw(st.booleans())
    bits = 128 if v6 else 32
    plen = draw(st.integers(0, bits))
    addr = draw(st.integers(0, 2**bits - 1)) >> (bits - plen) << (bits - plen) if plen else 0
    net = (ipaddress.IPv6Network if v6 else ipaddress.IPv4Network)((addr, plen))
    subs = []
    for _ in range(draw(st.integers(0, 2))):
        if plen < bits:
            sub_len = draw(st.integers(plen + 1, min(bits, plen + 12)))
            offset = draw(st.integers(0, 2 ** (sub_len - plen) - 1))
            subs.append((ipaddress.IPv6Network if v6 else ipaddress.IPv4Network)(
                (int(net.network_address) + (offset << (bits - sub_len)), sub_len)))
    return net, subs


@SETTINGS
@given(cidr_blocks(), st.integers(0, 2**128 - 1))
def test_from_cidr_with_except_matches_ipaddress(block, probe):
    net, subs = block
    s = AddressSet.from_cidr(str(net), [str(x) for x in subs])
    candidates = [net.network_address, net.broadcast_address] + [x.network_address for x in subs] + \
                 [x.broadcast_address for x in subs]
    cls = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
    candidates.append(cls(probe % (2**(32 if net.version == 4 else 128))))
    for ip in candidates:
        expected = ip in net and not any(ip in x for x in subs)
        assert s.contains(str(ip)) is expected, (net, subs, ip)


# -- atoms --------------------------------------------------------------------------------------
@SETTINGS
@given(st.lists(addrsets(), max_size=5))
def test_atoms_partition_and_respect_every_set(sets):
    parts = atoms(sets)
    # a partition of [0, V6_MAX], in order, never crossing the IPv4/IPv6 boundary
    assert parts[0][0] == 0 and parts[-1][1] == V6_MAX
    for (lo1, hi1), (lo2, _) in itertools.pairwise(parts):
        assert lo1 <= hi1 and hi1 + 1 == lo2
    for lo, hi in parts:
        assert hi <= V4_MAX or lo >= V6_BASE
    # each atom is wholly inside or wholly outside every set
    for lo, hi in parts:
        piece = AddressSet([(lo, hi)])
        for s in sets:
            inter = piece & s
            assert inter == AddressSet() or inter == piece
    # and minimal: neighbours in one family differ in membership of some set
    for (lo1, hi1), (lo2, hi2) in itertools.pairwise(parts):
        if lo2 == V6_BASE:
            continue
        sig1 = [s.contains_interval(lo1, hi1) for s in sets]
        sig2 = [s.contains_interval(lo2, hi2) for s in sets]
        assert sig1 != sig2

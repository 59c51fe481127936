"""The matrix's indexes (issue 22, second pass): the rule index's sweep with big sets bisected beside it,
a few intervals put into a long list, a plain IPv4 set read in one pass: each against the plain way."""

from __future__ import annotations

import random

import pytest

from kubectl_microseg.nft import matrix as M
from kubectl_microseg.nft.intervals import merge, union
from kubectl_microseg.nft.parse import _element, _plain_ipv4_elements


def _ivs(rng: random.Random, n: int, span: int = 4000) -> list[tuple[int, int]]:
    return merge([(a, a + rng.randint(0, 6)) for a in rng.sample(range(span), n)])


def test_union_of_a_few_pieces_into_a_long_list_is_the_merge() -> None:
    rng = random.Random(22)
    for _ in range(3000):
        a, b = _ivs(rng, rng.randint(0, 40), 200), _ivs(rng, rng.randint(0, 5), 200)
        assert union(a, b) == merge(a + b) == union(b, a)


@pytest.mark.parametrize("big", [0, 8, 10_000])  # every set bisected on its own / some / none
def test_stab_answers_as_brute_force_with_big_sets_beside_the_sweep(monkeypatch, big: int) -> None:
    monkeypatch.setattr(M._Stab, "BIG", big)
    rng = random.Random(big)
    sets = [(i, _ivs(rng, rng.choice([1, 3, 30, 200]))) for i in range(12)]
    stab = M._Stab(sets)
    assert bool(stab.big) == (big < 200)
    for p in [rng.randint(-5, 4100) for _ in range(400)]:
        assert stab.at(p) == {i for i, ivs in sets if any(lo <= p <= hi for lo, hi in ivs)}
    for _ in range(400):
        lo = rng.randint(-5, 4100)
        hi = lo + rng.choice([0, 1, 10, 500])
        got = frozenset().union(*stab.over(lo, hi))
        assert got == {i for i, ivs in sets if any(a <= hi and lo <= b for a, b in ivs)}


def test_plain_ipv4_set_read_in_one_pass_as_the_general_reader() -> None:
    addrs = ["10.0.0.1", "100.2.3.4", "255.255.255.255", "0.0.0.0"]
    assert _plain_ipv4_elements(addrs) == [_element(a, ("addr4",)) for a in addrs]
    # anything else goes to the general reader (which accepts or names the bad element)
    for other in ([" 10.0.0.1"], ["10.0.0.0/8"], [{"prefix": {"addr": "10.0.0.0", "len": 8}}], ["1.2.3"], [7]):
        assert _plain_ipv4_elements(addrs + other) is None


@pytest.mark.parametrize("seed", range(6))
def test_classes_with_one_big_set_split_by_bisection_are_the_sweeps(monkeypatch, seed: int) -> None:
    rng = random.Random(seed)
    big = M.Constant("@blocklist", M.AddressSet(_ivs(rng, 400, 100_000)), named=True)
    small = [M.Constant(f"c{k}", M.AddressSet(_ivs(rng, rng.choice([1, 2, 5]), 100_000)), named=True)
             for k in range(rng.randint(0, 12))]
    hosts = {"h": M.AddressSet([(a, a) for a in rng.sample(range(100_000), 3)])}
    consts = [big] + small + ([big] if seed % 2 else [])

    def classes() -> list[tuple[object, ...]]:
        return [(c.id, c.family, c.addresses.intervals, c.representative, tuple(c.members))
                for c in M.address_classes(consts, hosts)]

    split = classes()
    monkeypatch.setattr(M._Stab, "BIG", 10_000)
    assert split == classes()

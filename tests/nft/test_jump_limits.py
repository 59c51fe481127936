"""Jump loops and jump depth: the parser refuses exactly the rulesets the kernel refuses ("Too many links").

Each case is loaded by the real kernel (``nft -f`` in a scratch network namespace) and parsed from the
equivalent libnftables JSON; both must agree. Kernel facts (nf_tables_api.c, nft_chain_validate with
NFT_JUMP_STACK_SIZE 16): 15 nested jumps from a base chain load, 16 do not; a loop a base chain reaches is
refused; a loop among chains no base chain reaches loads.
"""

from __future__ import annotations

import subprocess

import pytest

from kubectl_microseg.errors import InputError
from kubectl_microseg.nft.parse import parse_ruleset


def chain_of(n: int) -> list[tuple[str, str]]:
    return [("input", "c0")] + [(f"c{i}", f"c{i + 1}") for i in range(n - 1)]


CASES = {
    "15 nested jumps": (chain_of(15), True),
    "16 nested jumps": (chain_of(16), False),
    "a loop reached from the base chain": ([("input", "a"), ("a", "b"), ("b", "a")], False),
    "a base chain jumping to itself through one chain": ([("input", "a"), ("a", "a")], False),
    "a loop no base chain reaches": ([("a", "b"), ("b", "a")], True),
}


def _names(jumps: list[tuple[str, str]]) -> list[str]:
    return sorted({n for j in jumps for n in j} - {"input"})


def nft_text(jumps: list[tuple[str, str]]) -> str:
    lines = ["table inet f {", "  chain input {", "    type filter hook input priority 0;"]
    lines += [f"    jump {b};" for a, b in jumps if a == "input"] + ["  }"]
    for n in _names(jumps):
        lines += [f"  chain {n} {{"] + [f"    jump {b};" for a, b in jumps if a == n] + ["  }"]
    return "\n".join(lines + ["}", ""])


def nft_json(jumps: list[tuple[str, str]]) -> dict:
    items: list[dict] = [{"table": {"family": "inet", "name": "f"}},
                         {"chain": {"family": "inet", "table": "f", "name": "input", "type": "filter",
                                    "hook": "input", "prio": 0, "policy": "accept"}}]
    items += [{"chain": {"family": "inet", "table": "f", "name": n}} for n in _names(jumps)]
    items += [{"rule": {"family": "inet", "table": "f", "chain": a, "expr": [{"jump": {"target": b}}]}}
              for a, b in jumps]
    return {"nftables": items}


@pytest.mark.parametrize("case", list(CASES))
def test_the_parser_refuses_what_the_kernel_refuses(case: str, netns_ok: None, tmp_path) -> None:
    jumps, loads = CASES[case]
    f = tmp_path / "r.nft"
    f.write_text(nft_text(jumps))
    p = subprocess.run(["unshare", "-n", "nft", "-f", str(f)], capture_output=True, text=True, timeout=30, check=False)
    assert (p.returncode == 0) == loads, p.stderr
    if not loads:
        assert "Too many links" in p.stderr
        with pytest.raises(InputError, match="Too many links"):
            parse_ruleset(nft_json(jumps))
    else:
        parse_ruleset(nft_json(jumps))

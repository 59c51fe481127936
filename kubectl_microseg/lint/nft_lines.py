"""Provides ``rule_lines``: the source line of each chain and rule of an ``nft -f`` file.

A ruleset loaded from ``nft -f`` text comes back from the kernel as JSON without line numbers. The
chains are found again in the text (``table FAMILY NAME {`` ... ``chain NAME {``) and the rules of a
chain are its statement lines in order (comments, blank lines and the ``type ... hook ...`` line
skipped; a rule whose braces span lines counts once). When the counts disagree (``add rule`` commands,
includes) only the chain's line is known.
"""

from __future__ import annotations

import re

_TABLE = re.compile(r"^\s*(?:add\s+|create\s+)?table\s+(?:(\w+)\s+)?([\w.-]+)\s*\{")
_CHAIN = re.compile(r"^\s*(?:add\s+|create\s+)?chain\s+([\w.-]+)\s*\{")
_QUOTED = re.compile(r'"[^"]*"')


def _code(line: str) -> str:
    """The line without its comment (a '#' outside double quotes)."""
    masked = _QUOTED.sub(lambda m: "x" * len(m.group(0)), line)
    cut = masked.find("#")
    return line if cut < 0 else line[:cut]


def rule_lines(lines: list[str]) -> dict[tuple[str, str, str], tuple[int, list[int]]]:
    """(family, table, chain) -> (the chain's line, the first line of each rule), 1-based."""
    out: dict[tuple[str, str, str], tuple[int, list[int]]] = {}
    table: tuple[str, str] | None = None
    chain: str | None = None
    chain_line = 0
    depth = 0
    rules: list[int] = []
    rule_depth = 0
    for n, raw in enumerate(lines, 1):
        code = _code(raw).strip()
        if not code:
            continue
        opens, closes = code.count("{"), code.count("}")
        if chain is None:
            m = _TABLE.match(code)
            if m and depth == 0:
                table = (m.group(1) or "ip", m.group(2))
            m = _CHAIN.match(code)
            if m and table is not None:
                chain, chain_line, rules, rule_depth = m.group(1), n, [], 0
                depth += opens - closes
                continue
            depth += opens - closes
            if depth <= 0:
                table, depth = None, 0
            continue
        # inside a chain block
        if (rule_depth == 0 and code != "}" and not code.startswith(("type ", "policy ", "comment ", "devices "))
                and not (code.startswith("}") and opens == 0)):
            rules.append(n)
        rule_depth += opens - closes
        depth += opens - closes
        if rule_depth < 0:  # the chain's closing brace
            assert table is not None
            out[(table[0], table[1], chain)] = (chain_line, rules)
            chain, rule_depth = None, 0
    return out

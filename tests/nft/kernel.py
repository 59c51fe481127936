"""Compare the engine with the kernel on one ruleset: load it into the lab, send flows, evaluate."""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_microseg.nft.evaluate import evaluate
from kubectl_microseg.nft.packet import Flow
from kubectl_microseg.nft.parse import parse_ruleset

from .netlab import Lab, LabFlow, iface_defaults


@dataclass
class Outcome:
    flow: LabFlow
    kernel: str
    engine: str
    because: list[str]

    def line(self) -> str:
        port = f":{self.flow.dport}" if self.flow.dport else ""
        return (f"{self.flow.hook} {self.flow.proto} {self.flow.src}:{self.flow.sport} -> {self.flow.dst}{port}: "
                f"kernel {self.kernel}, engine {self.engine} ({'; '.join(self.because)})")


def engine_flow(f: LabFlow) -> Flow:
    return Flow(src=f.src, dst=f.dst, protocol=f.proto, port=f.dport, hook=f.hook, sport=f.sport,
                assume=f.assume, **iface_defaults(f.hook))


def compare(lab: Lab, ruleset_text: str, flows: list[LabFlow]) -> list[Outcome]:
    """Load ``ruleset_text`` into R, send ``flows`` for real, and evaluate them with the engine."""
    doc = lab.load(ruleset_text)
    rs = parse_ruleset(doc)
    seen = lab.run(flows)
    out = []
    for f in flows:
        ev = evaluate(rs, engine_flow(f).packet(), f.hook)
        out.append(Outcome(f, "allow" if seen[f.id] else "deny", ev.verdict, ev.because()))
    return out

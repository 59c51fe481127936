"""``kubectl microseg test FLOWS``: check expected flows against the policies (docs/contract.md ``test``)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

from ..cli import command_parser
from ..engine.explain import explain_pair, find_workload, resolve_peer, resolve_port
from ..engine.k8s import Analyzer
from ..errors import EXIT_FAILED, InputError, MicrosegError, Origin
from ..load import load_analyzer, mesh_analyzer
from ..model.addresses import is_ip
from ..model.ports import ConnSet
from ..model.objects import SourceObject
from ..vocab import FlowVerdict

PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass
class Flow:
    src: str
    dst: str
    port: int | str | None
    protocol: str
    expect: str | None
    obj: SourceObject
    index: int
    method: str | None = None
    path: str | None = None
    host: str | None = None
    """An HTTP request the flow names: the service-mesh layer matches it (docs/mesh.md)."""


def register(sub) -> None:
    p = command_parser(sub, "test", "check expected flows (allow/deny) against the policies",
                       description="Check a file of expected flows against the effective policy; exit 1 if any "
                       "expectation fails.")
    p.add_argument("flows", metavar="FLOWS", help="YAML file with a `flows:` list (see docs/contract.md)")
    p.add_argument("-o", "--output", choices=["text", "json"], default="text")
    p.set_defaults(func=run)


def read_flows(path: str) -> list[Flow]:
    """Parse and validate a flows file (errors name the file, document and line)."""
    from kubectl_microseg.sources import read_objects

    docs = read_objects(path)
    if not docs:
        raise InputError("no flows: the file is empty", Origin(file=path))
    doc = docs[0]
    flows = doc.raw.get("flows")
    if not isinstance(flows, list):
        raise doc.error(("flows",), "expected a `flows:` list")
    out = []
    for i, f in enumerate(flows):
        p = ("flows", i)
        if not isinstance(f, dict):
            raise doc.error(p, "each flow must be a mapping with from, to, port")
        for key in ("from", "to"):
            if not f.get(key) or not isinstance(f[key], str):
                raise doc.error(p + (key,), f"`{key}` is required: an endpoint id (namespace/name) or an IP address")
        port = f.get("port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, (int, str))):
            raise doc.error(p + ("port",), "`port` must be a number or a port name")
        if isinstance(port, int) and not 1 <= port <= 65535:
            raise doc.error(p + ("port",), f"`port` must be between 1 and 65535 (got {port})")
        proto = str(f.get("protocol") or "TCP").upper()
        if proto not in PROTOCOLS:
            raise doc.error(p + ("protocol",), f"`protocol` must be one of TCP, UDP, SCTP (got {f.get('protocol')!r})")
        expect = f.get("expect")
        if expect is not None and expect not in (FlowVerdict.ALLOW, FlowVerdict.DENY):
            raise doc.error(p + ("expect",), f"`expect` must be allow or deny (got {expect!r})")
        http = {}
        for key in ("method", "path", "host"):
            v = f.get(key)
            if v is not None and (not isinstance(v, str) or not v):
                raise doc.error(p + (key,), f"`{key}` must be a non-empty string")
            http[key] = v
        if http["path"] is not None and not http["path"].startswith("/"):
            raise doc.error(p + ("path",), f"`path` must start with / (got {http['path']!r})")
        out.append(Flow(f["from"], f["to"], port, proto, expect, doc, i, **http))
    return out




def check_flow(analyzer: Analyzer, flow: Flow, mesh=None) -> dict[str, Any]:
    """The contract's result object for one flow (with ``mesh``, the service-mesh layer on top of L4)."""
    try:
        src = resolve_peer(analyzer, flow.src, None) if is_ip(flow.src) else find_workload(analyzer, flow.src, None)
        dst = (resolve_peer(analyzer, flow.dst, None) if is_ip(flow.dst) or flow.dst.startswith("fqdn:")
               else find_workload(analyzer, flow.dst, None))
        if is_ip(flow.src) and is_ip(flow.dst):
            raise MicrosegError("traffic between two outside addresses is not governed by NetworkPolicies")
        port = resolve_port(analyzer, dst, flow.port, flow.protocol) if flow.port is not None else None
    except MicrosegError as exc:
        raise flow.obj.error(("flows", flow.index), str(exc)) from None
    e = explain_pair(analyzer, src, dst)
    ok = e.allowed.allows(flow.protocol, port)
    because = [r.short() for r in e.deciding(flow.protocol, port)]
    extra: dict[str, Any] = {"uncertain": True} if e.uncertain else {}
    if ok and mesh is not None:
        ok = _mesh_check(mesh, flow, src, dst, e.allowed if port is None else ConnSet.ports(flow.protocol, port),
                         because, extra)
    verdict = FlowVerdict.ALLOW if ok else FlowVerdict.DENY
    return {"from": flow.src, "to": flow.dst, "port": flow.port, "protocol": flow.protocol,
            "verdict": verdict, "expect": flow.expect,
            "pass": None if flow.expect is None else flow.expect == verdict,
            "because": because, **extra}


def _mesh_check(mesh, flow: Flow, src, dst, conns: ConnSet, because: list[str], extra: dict[str, Any]) -> bool:
    """The mesh verdict of a flow L4 allows: denied or refused is a deny; 'some requests' (a request the
    flow does not name fully, a JWT, a header) is an allow marked uncertain with the reason."""
    from ..engine.mesh import MeshVerdict, Request, pair_verdict

    named = flow.method is not None or flow.path is not None or flow.host is not None
    r = pair_verdict(mesh, src, dst, conns, Request(flow.method, flow.path, flow.host) if named else None)
    if r is None:
        return True
    extra["mesh"] = r.to_contract()
    because.extend(f"mesh: {s.text}" for s in r.steps if s.object or "refused" in s.text)
    if r.verdict is MeshVerdict.SOME or r.uncertain:
        extra["uncertain"] = True
        extra["reason"] = ("the mesh allows only some requests: " + "; ".join(r.allowed_requests)
                           + ("" if named else " (name method and path in the flow)")) if r.allowed_requests else \
            "the mesh verdict depends on request data the flow does not give"
    return r.verdict is not MeshVerdict.DENIED


def run(args: argparse.Namespace) -> int:
    flows = read_flows(args.flows)
    analyzer, snapshot = load_analyzer(args)
    mesh = mesh_analyzer(args, analyzer.cluster)
    results = [check_flow(analyzer, f, mesh) for f in flows]
    for r in results:  # an unknown verdict says why (forbidden lists): a pass on it is not a proof
        if r.get("uncertain") and "reason" not in r:
            r["reason"] = snapshot.uncertain_reason(r["from"].split("/", 1)[0], r["to"].split("/", 1)[0]) or \
                "some policies could not be read"
    passed = sum(1 for r in results if r["pass"] is True)
    failed = sum(1 for r in results if r["pass"] is False)
    if args.output == "json":
        doc: dict[str, Any] = {"results": results, "passed": passed, "failed": failed}
        if snapshot.warnings:
            doc["partial"], doc["warnings"] = True, list(snapshot.warnings)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        for w in snapshot.warnings:
            print(f"WARNING: {w}")
        for flow, r in zip(flows, results):
            mark = {True: "PASS", False: "FAIL", None: "    "}[r["pass"]]
            port = f"{r['protocol']}/{r['port']}" if r["port"] is not None else r["protocol"]
            if flow.method or flow.path:
                port += f" {flow.method or '*'} {flow.path or '*'}"
            exp = f" (expected {r['expect']})" if r["pass"] is False else ""
            unknown = f"  (UNKNOWN: {r['reason']})" if r.get("uncertain") else ""
            print(f"{mark} {r['verdict']:5} {r['from']} -> {r['to']} {port}{exp}{unknown}")
            if r["pass"] is False or r["pass"] is None:
                for b in r["because"]:
                    print(f"       because: {b}")
        print(f"{passed} passed, {failed} failed")
    return EXIT_FAILED if failed else 0

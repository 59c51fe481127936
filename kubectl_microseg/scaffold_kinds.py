"""The kinds of ``kubectl microseg scaffold``: their options and the drafts each builds, shared by the CLI command
and the TUI's scaffold wizard (whose options box takes the same options).

Each ``KIND`` entry adds its options to a parser and maps parsed arguments plus the model (a Cluster
and its Analyzer, or None with --no-cluster) to PolicyDrafts and notes. The builders themselves are
pure (``kubectl_microseg.scaffold``); only the intent and flows files are read here.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from collections.abc import Callable, Iterator


from .errors import InputError, Origin, UsageError
from .model.cluster import Cluster
from .model.selectors import parse_selector_text
from .scaffold import calico_form, guardrails, least, mesh, templates, tiers
from .scaffold.dns import DnsTarget, find_dns
from .scaffold.draft import validate
from .scaffold.draft import PolicyDraft, parse_ports, parse_selector
from .scaffold.flows import Flow, flows_from_matrix, parse_flows_file
from .scaffold.intent import parse_intent

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
Built = tuple[list[PolicyDraft], list[str]]


@dataclass
class Model:
    """What the command read: the cluster model and its analyzer (both None with --no-cluster)."""

    cluster: Cluster | None
    analyzer: Any = None
    matrix: Any = None
    objects: list[Any] = field(default_factory=list)
    """The raw objects the model was built from (for simulating the drafts)."""

    def need(self, what: str) -> Cluster:
        if self.cluster is None:
            raise UsageError(f"{what} needs a cluster model: give -f FILES, --demo, or a reachable cluster "
                             "(not --no-cluster)")
        return self.cluster


def read_yaml(path: str) -> tuple[Any, Origin, Any]:
    """Load one YAML document (an intent or flows file) with a located error (safe mode, size, alias and
    depth limits of every YAML input: kubectl_microseg.sources.read_documents); also its Locator."""
    from kubectl_microseg.sources import read_documents

    loaded, locator = read_documents(path)
    docs = [d for d in loaded if d is not None]
    if len(docs) > 1:
        raise InputError("one document expected (an intent or flows file), found several", Origin(file=path, document=2))
    return (docs[0] if docs else None), Origin(file=path, document=1), locator


@contextmanager
def with_lines(locator: Any) -> Iterator[None]:
    """Give an InputError about a field of the loaded document (its ``path``) the field's line."""
    try:
        yield
    except InputError as exc:
        line = locator.line(0, locator.path_of(exc.path)) if exc.line is None and exc.path else None
        if line is None:
            raise
        raise InputError(exc.reason, exc.origin, line=line, path=exc.path) from None


def _namespaces(args: argparse.Namespace, model: Model) -> list[str]:
    """Positional namespaces, else -n, else every namespace of the model with -A (system ones only with
    --include-system), else 'default'."""
    if args.namespaces:
        return sorted(set(args.namespaces))
    if getattr(args, "all_namespaces", False):
        cluster = model.need("-A")
        return [n for n in cluster.namespaces if args.include_system or n not in SYSTEM_NAMESPACES]
    return [getattr(args, "namespace", None) or "default"]


def _dns(args: argparse.Namespace, model: Model) -> DnsTarget | None:
    return None if getattr(args, "no_dns", False) else find_dns(model.cluster)


def _label(text: str) -> tuple[str, str]:
    key, eq, value = text.partition("=")
    if not eq or not key.strip() or not value.strip():
        raise UsageError(f"bad label {text!r}: expected KEY=VALUE, e.g. compliance-zone=pci")
    return key.strip(), value.strip()


# ----------------------------------------------------------------------------- kinds
def _opt_namespaces(p: argparse.ArgumentParser) -> None:
    p.add_argument("namespaces", nargs="*", metavar="NAMESPACE", help="target namespaces (default: -n, or -A for all)")
    p.add_argument("--include-system", action="store_true", help="with -A, include kube-system, kube-public, kube-node-lease")


def _cluster_wide_opts(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster scope (with --format calico)")
    g.add_argument("--cluster-wide", action="store_true",
                   help="one Calico GlobalNetworkPolicy for every namespace (system ones only with --include-system), "
                        "in its own Tier after Calico's default tier; needs --format calico")
    g.add_argument("--tier", default=calico_form.CLUSTER_TIER, help="with --cluster-wide: the tier's name "
                   f"(default {calico_form.CLUSTER_TIER})")
    g.add_argument("--tier-order", type=float, default=calico_form.CLUSTER_TIER_ORDER,
                   help=f"with --cluster-wide: the tier's order (default {calico_form.CLUSTER_TIER_ORDER:,}: after the "
                        "default tier, where the Kubernetes NetworkPolicies are)")


def _default_deny_opts(p: argparse.ArgumentParser) -> None:
    _opt_namespaces(p)
    p.add_argument("--direction", choices=("both", "ingress", "egress"), default="both", help="what to deny (default both)")
    p.add_argument("--no-dns", action="store_true", help="with --cluster-wide: leave out the DNS egress rules")
    _cluster_wide_opts(p)


def _allow_dns_opts(p: argparse.ArgumentParser) -> None:
    _opt_namespaces(p)
    _cluster_wide_opts(p)


def _cluster_wide(args: argparse.Namespace) -> bool:
    """``--cluster-wide``: only in Calico form, and instead of namespaces."""
    if not getattr(args, "cluster_wide", False):
        return False
    if getattr(args, "format", "networkpolicy") != "calico":
        raise UsageError("--cluster-wide writes a Calico GlobalNetworkPolicy: add --format calico")
    if args.namespaces or getattr(args, "all_namespaces", False):
        raise UsageError("--cluster-wide covers every namespace: leave out NAMESPACE and -A")
    return True


def _default_deny(args: argparse.Namespace, model: Model) -> Built:
    if _cluster_wide(args):
        dns = None if args.no_dns else find_dns(model.cluster)
        return calico_form.cluster_default_deny(args.direction, dns, name=args.name, include_system=args.include_system,
                                                tier=args.tier, tier_order=args.tier_order), [dns.note] if dns else []
    if getattr(args, "no_dns", False):
        raise UsageError("--no-dns applies with --cluster-wide (default-deny writes no DNS rule per namespace)")
    return [templates.default_deny(ns, args.direction, args.name) for ns in _namespaces(args, model)], []


def _allow_dns(args: argparse.Namespace, model: Model) -> Built:
    dns = find_dns(model.cluster)
    if _cluster_wide(args):
        return calico_form.cluster_allow_dns(dns, name=args.name, include_system=args.include_system, tier=args.tier,
                                             tier_order=args.tier_order), [dns.note]
    return [templates.allow_dns(ns, dns, args.name) for ns in _namespaces(args, model)], [dns.note]


def _isolate(args: argparse.Namespace, model: Model) -> Built:
    dns = _dns(args, model)
    return [templates.isolate_namespace(ns, dns, args.name) for ns in _namespaces(args, model)], \
        [dns.note] if dns and not dns.found else []


def _tiers_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("chain", nargs="?", help="e.g. 'frontend -> api:8080 -> postgresql:5432,redis:6379' (quote it)")
    p.add_argument("--intent", metavar="FILE", help="read the chain and options from an intent file")
    p.add_argument("--label-key", help="the label that names tiers (default: looked up in the model, else 'tier')")
    p.add_argument("--entry-namespace", metavar="NS", help="namespace whose pods may call the first tier")
    p.add_argument("--entry-selector", metavar="SEL", help="only these pods of the entry namespace (kubectl -l syntax)")


def _tier_intent(args: argparse.Namespace, model: Model, *, dns: bool = True) -> tuple[tiers.TierIntent, list[str]]:
    """The tier intent of the command line or --intent file, resolved against the model (tiers and mesh)."""
    if args.intent:
        data, origin, locator = read_yaml(args.intent)
        with with_lines(locator):
            intent = parse_intent(data, origin)
        if args.chain:
            raise UsageError("give the chain on the command line or in --intent, not both")
    elif args.chain:
        intent = tiers.TierIntent("", tiers.parse_chain(args.chain))
    else:
        raise UsageError("tiers needs a CHAIN (e.g. 'frontend -> api:8080 -> db:5432') or --intent FILE")
    ns = getattr(args, "namespace", None) or intent.namespace or "default"
    entry = intent.entry
    if args.entry_namespace:
        entry = tiers.Entry(args.entry_namespace,
                            parse_selector(args.entry_selector, "--entry-selector") if args.entry_selector else {})
    elif args.entry_selector:
        raise UsageError("--entry-selector needs --entry-namespace")
    intent = replace(intent, namespace=ns, entry=entry, label_key=args.label_key or intent.label_key,
                     dns=dns and intent.dns and not getattr(args, "no_dns", False))
    return tiers.resolve(intent, model.cluster)


def _tiers(args: argparse.Namespace, model: Model) -> Built:
    resolved, notes = _tier_intent(args, model)
    dns = find_dns(model.cluster) if resolved.dns else None
    return tiers.build(resolved, dns), notes + ([dns.note] if dns and not dns.found else [])


def _mesh(args: argparse.Namespace, model: Model) -> Built:
    from .load import mesh_options

    resolved, notes = _tier_intent(args, model, dns=False)  # DNS is UDP: Istio neither proxies nor authorizes it
    drafts, more = mesh.build(resolved, model.cluster, mesh_options(args).trust_domain)
    return drafts, notes + more


def _zone_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("label", metavar="KEY=VALUE", help="the zone's label, e.g. compliance-zone=pci")
    p.add_argument("--scope", choices=templates.ZONE_SCOPES, default="namespace",
                   help="where members live: this namespace (default), namespaces with the same label, or anywhere")


def _zone(args: argparse.Namespace, model: Model) -> Built:
    key, value = _label(args.label)
    dns = _dns(args, model)
    ns = getattr(args, "namespace", None) or "default"
    notes = [dns.note] if dns and not dns.found else []
    if args.scope == "labelled-namespaces" and model.cluster is not None and ns in model.cluster.namespaces \
            and model.cluster.namespaces[ns].labels.get(key) != value:
        notes.append(f"namespace {ns} does not carry {key}={value}: with --scope labelled-namespaces its own "
                     f"members would not admit each other; label the namespace or use --scope namespace")
    draft = templates.zone(ns, key, value, dns, args.scope, args.name)
    if model.cluster is not None:
        validate([draft])  # a label the API server rejects is the first thing to say
        _zone_has_members(model.cluster, ns, key, value, args.scope)
    return [draft], notes


def _zone_has_members(cluster: Cluster, ns: str, key: str, value: str, scope: str) -> None:
    """Refuse a zone whose label no pod carries where the zone looks (it would select no pod: impact 0/0)."""
    def member(w) -> bool:
        if w.labels.get(key) != value:
            return False
        if scope == "namespace":
            return w.namespace == ns
        if scope == "labelled-namespaces":
            return cluster.namespaces.get(w.namespace) is not None and \
                cluster.namespaces[w.namespace].labels.get(key) == value
        return True
    if any(member(w) for w in cluster.workloads):
        return
    where = f"in namespace {ns}" if scope == "namespace" else "in the model"
    hint = ""
    if ns in cluster.namespaces and cluster.namespaces[ns].labels.get(key) == value:
        hint = (f"; namespace {ns} carries {key}={value}, its pods do not: a zone selects pods by their own labels "
                "(label the pods, or choose a label they carry)")
    raise UsageError(f"zone {key}={value} would select no pod: no workload {where} carries {key}={value}{hint}")


def _from_ns_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("source_namespace", metavar="SOURCE_NAMESPACE",  # not "source": that is --source's dest
                   help="the namespace the connections come from")
    p.add_argument("--ports", default="", help="ports to open, e.g. 9090,8080 or 53/udp (default: every port)")
    p.add_argument("--from-selector", metavar="SEL", help="only these pods of the source namespace")
    p.add_argument("--to-selector", metavar="SEL", help="only these pods of the target namespace (-n)")
    p.add_argument("--egress", choices=("auto", "yes", "no"), default="auto",
                   help="also write the source side's egress policy: auto = when the model shows the source pods "
                        "isolated for egress (default)")
    p.add_argument("--purpose", default="", help="the reason, for the comments (e.g. 'Prometheus scrapes metrics')")


def _source_isolated(model: Model, namespace: str, selector_text: str | None) -> bool:
    an = model.analyzer
    if an is None:
        return False
    sel = parse_selector_text(selector_text) if selector_text else None
    return any(c.namespace == namespace and not c.host_network and (sel is None or sel.matches(c.labels))
               and an.is_isolated(c.index, "egress") for c in an.classes)


def _from_namespace(args: argparse.Namespace, model: Model) -> Built:
    ns = getattr(args, "namespace", None) or "default"
    ports = parse_ports(args.ports)
    src = parse_selector(args.from_selector, "--from-selector") if args.from_selector else None
    dst = parse_selector(args.to_selector, "--to-selector") if args.to_selector else None
    drafts = templates.allow_from_namespace(ns, args.source_namespace, ports, src, dst, args.name, args.purpose)
    notes = []
    egress = args.egress == "yes" or (args.egress == "auto" and _source_isolated(model, args.source_namespace, args.from_selector))
    if egress:
        drafts.append(templates.egress_to_namespace(args.source_namespace, ns, ports, src, dst, None))
    elif args.egress == "auto":
        notes.append(f"no egress policy written for {args.source_namespace}: "
                     + ("no model to check (--no-cluster); " if model.analyzer is None else
                        "its pods are not isolated for egress in the model; ")
                     + "use --egress yes if they are")
    return drafts, notes


def _external_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("-l", "--selector", default="", help="the pods that call out (kubectl -l syntax; default: every pod)")
    p.add_argument("--ports", default="443", help="ports to open (default 443: HTTPS)")
    p.add_argument("--cidr", default="0.0.0.0/0", help="destination range (default 0.0.0.0/0)")
    p.add_argument("--except", dest="excepts", action="append", metavar="CIDR",
                   help="ranges to leave out, repeatable (default: " + ", ".join(templates.PRIVATE_RANGES) + ")")


def _external(args: argparse.Namespace, model: Model) -> Built:
    ns = getattr(args, "namespace", None) or "default"
    sel = parse_selector(args.selector, "--selector") if args.selector else {}
    excepts = tuple(c.strip() for e in args.excepts for c in e.split(",") if c.strip()) if args.excepts \
        else templates.PRIVATE_RANGES
    dns = _dns(args, model)
    d = templates.egress_external(ns, sel, parse_ports(args.ports), dns, args.cidr, excepts, args.name)
    return [d], [dns.note] if dns and not dns.found else []


def _matrix_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--flows", metavar="FILE", help="the flows to allow, in the `test` format (expect: deny flows "
                   "are checked to stay denied)")
    p.add_argument("--between", metavar="NS[,NS...]", help="allow what the current matrix allows between these namespaces")
    p.add_argument("--no-external", action="store_true", help="with --between, leave out flows to/from outside addresses")
    p.add_argument("--no-default-deny", action="store_true", help="do not add default-deny-all to the namespaces involved")
    p.add_argument("--allow-dns", action="store_true", help="add allow-dns to the namespaces involved")
    p.add_argument("--include-system", action="store_true",
                   help="also add default-deny-all to kube-system, kube-public, kube-node-lease (default: never; "
                   "a default deny there cuts CoreDNS from its upstream resolvers)")


def _is_flow_export(path: str) -> bool:
    """A Hubble, Calico flow log or conntrack export rather than a flows file (see ``observed``)."""
    from .dataplane.flowlogs import detect

    try:
        with open(path, encoding="utf-8") as fh:
            return bool(detect(fh.read(65536)))
    except (OSError, UnicodeDecodeError):
        return False  # read_yaml reports it


def _observed_flows(args: argparse.Namespace, model: Model) -> list[Flow]:
    """The flows of an observed-flow export: what went through is allowed, what was dropped stays denied."""
    from .dataplane.observed import flows_document, observe

    joined = observe(model.analyzer, model, [args.flows], namespace=getattr(args, "namespace", None), unused=False)
    origin = Origin(file=args.flows)
    return [replace(f, origin=f"{args.flows} (observed), flow {i + 1}")
            for i, f in enumerate(parse_flows_file(flows_document(joined.rows), origin))]


def _from_matrix(args: argparse.Namespace, model: Model) -> Built:
    cluster = model.need("from-matrix")
    notes: list[str] = []
    flows: list[Flow]
    if bool(args.flows) == bool(args.between):
        raise UsageError("from-matrix needs exactly one of --flows FILE or --between NS[,NS...]")
    if args.flows and _is_flow_export(args.flows):
        flows = _observed_flows(args, model)
    elif args.flows:
        data, origin, locator = read_yaml(args.flows)
        with with_lines(locator):
            flows = parse_flows_file(data, origin)
        # each flow names its line, for the errors found later (an end that is not a workload)
        flows = [replace(f, origin=f"{origin.describe(locator.line(0, ('flows', i)))}, flow {i + 1}")
                 for i, f in enumerate(flows)]
    else:
        chosen = [n.strip() for n in args.between.split(",") if n.strip()]
        unknown = [n for n in chosen if n not in cluster.namespaces]
        if unknown:
            raise UsageError(f"no namespace {', '.join(unknown)} in the model")
        flows, notes = flows_from_matrix(model.matrix, chosen, external=not args.no_external)
    dns = find_dns(cluster) if args.allow_dns else None
    system = frozenset() if args.include_system else frozenset(SYSTEM_NAMESPACES)
    drafts, more = least.build(flows, cluster, dns=dns, with_default_deny=not args.no_default_deny,
                               no_default_deny_in=system)
    spared = [] if args.no_default_deny else sorted({x.split("/", 1)[0] for f in flows for x in (f.src, f.dst)} & system)
    if spared:
        notes.append(f"no default deny for the system namespace(s) {', '.join(spared)} (--include-system adds it; "
                     "it would cut CoreDNS from its upstream resolvers unless the flows include them)")
    if any(f.deny for f in flows):
        from .engine.analyze import analyze
        from .engine.simulate import apply_changes
        from .model.snapshot import Snapshot
        from .scaffold.impact import draft_objects

        objs = apply_changes(model.objects, draft_objects(drafts)).objects
        after = analyze(Snapshot(objs, "with the drafts"), model.analyzer.options)
        more += least.still_allowed(flows, after.matrix(), cluster)
    if not args.no_default_deny and not args.allow_dns:
        notes.append("the default deny also denies DNS unless the flows include it; add --allow-dns if pods "
                     "must resolve names")
    return drafts, notes + more


@dataclass(frozen=True)
class Kind:
    """One ``scaffold KIND``."""

    help: str
    build: Callable[[argparse.Namespace, Model], Built]
    options: Callable[[argparse.ArgumentParser], None] | None = None
    dns_option: bool = False
    name_option: bool = True


def _guardrails_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--monitoring-namespace", default="monitoring", metavar="NS",
                   help="namespace whose pods scrape every pod (default monitoring; '' for none)")
    p.add_argument("--priority", type=int, default=None,
                   help="Admin-tier priority of the first Accept policy, the others follow (0-996; default: before "
                        "every Admin-tier policy in the model, else 100)")


def _guardrails(args: argparse.Namespace, model: Model) -> Built:
    dns = find_dns(model.cluster)
    notes = [dns.note]
    mon = args.monitoring_namespace or None
    if mon and model.cluster is not None and mon not in model.cluster.namespaces:
        notes.append(f"namespace {mon} is not in the model: its monitoring Accepts match nothing until it exists "
                     "(--monitoring-namespace NS, or '' for none)")
    # an earlier Admin-tier rule (a Pass, a Deny) would decide first: go before every one in the model
    admin = [e.policy for e in (model.cluster.admin_policies if model.cluster else []) if not e.policy.is_baseline]
    first = min((p.priority for p in admin), default=None)
    priority = args.priority
    if priority is None:
        priority = 100 if first is None else max(0, first - 10)
    if first is not None and priority + 3 >= first:
        notes.append(f"Admin-tier policies at priority {first} or later may decide before these Accepts "
                     f"({', '.join(p.id for p in admin if p.priority <= priority + 3)}); check --priority")
    if not 0 <= priority <= 996:
        raise UsageError(f"--priority {priority}: must be 0-996 (the four Admin policies take it and the next three)")
    drafts: list[PolicyDraft] = [*guardrails.cluster_guardrails(dns, mon, args.name or "guardrails", priority)]
    return drafts, notes


KINDS: dict[str, Kind] = {
    "default-deny": Kind("deny all ingress and/or egress in namespaces", _default_deny, _default_deny_opts),
    "allow-dns": Kind("let every pod of namespaces query the cluster DNS (found in the model)", _allow_dns,
                      _allow_dns_opts),
    "tiers": Kind("a chain of tiers, each talking only to its neighbours (+ DNS)", _tiers, _tiers_opts,
                  dns_option=True, name_option=False),
    "mesh": Kind("Istio, from the same chain as tiers: AuthorizationPolicies by service account, STRICT mTLS",
                 _mesh, _tiers_opts, name_option=False),
    "isolate-namespace": Kind("environment isolation: only traffic within the namespace, plus DNS", _isolate,
                              _opt_namespaces, dns_option=True),
    "zone": Kind("a compliance zone by label: members talk only to members, plus DNS", _zone, _zone_opts,
                 dns_option=True),
    "allow-from-namespace": Kind("let pods of another namespace in on chosen ports", _from_namespace, _from_ns_opts),
    "egress-external": Kind("HTTPS (or chosen ports) to the internet except private ranges", _external,
                            _external_opts, dns_option=True),
    "cluster-guardrails": Kind("ClusterNetworkPolicies: DNS and monitoring kept reachable (Admin tier), default "
                               "deny (Baseline tier)", _guardrails, _guardrails_opts),
    "from-matrix": Kind("least-privilege policies that allow exactly given flows", _from_matrix, _matrix_opts,
                        name_option=False),
}


def add_arguments(p: argparse.ArgumentParser, kind: Kind) -> None:
    """The options of one kind, as ``scaffold KIND`` takes them and the TUI's wizard reads them."""
    if kind.options:
        kind.options(p)
    if kind.dns_option:
        p.add_argument("--no-dns", action="store_true", help="leave out the DNS egress rule")
    if kind.name_option:
        p.add_argument("--name", help="policy name (default: derived from the kind)")


def parse_options(name: str, words: list[str], namespace: str) -> argparse.Namespace:
    """A kind's options given as words (the wizard's box), for ``namespace``: what ``scaffold NAME WORDS -n
    NAMESPACE`` would parse, without the output options (argparse's SystemExit on bad words, as the CLI)."""
    p = argparse.ArgumentParser(prog=f"scaffold {name}")
    add_arguments(p, KINDS[name])
    p.add_argument("-n", "--namespace")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    return p.parse_args([*words, "-n", namespace])

"""Provides the service-mesh (Istio) rules: mTLS not STRICT where it matters (MS020), identity rules towards
workloads whose clients have no sidecar (MS021), an ALLOW policy with no rules (MS022), policies no sidecar
enforces (MS023), NetworkPolicy default deny without mesh authorization or the reverse (MS024), DENY
policies that change no verdict (MS025) and ALLOW rules a DENY always pre-empts (MS026).
Semantics as engine/mesh.py (istio.io, docs/reference/config/security)."""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.mesh import MeshAnalyzer, Side, pattern_match
from ..model.istio import AuthorizationPolicy, AuthzAction, AuthzRule, MtlsMode
from ..vocab import Direction
from .context import LintContext
from .finding import Finding, RuleInfo

MS020 = RuleInfo(
    "MS020", "mesh-mtls-not-strict", "warning",
    "mTLS is PERMISSIVE or DISABLE for mesh workloads of a production or PCI namespace",
    "Istio peer_authentication: PERMISSIVE \"accepts both mutual TLS and plain text traffic\" and DISABLE turns "
    "mutual TLS off: plaintext from anything that reaches the pod at L4 is accepted, and its identity is "
    "unknown to AuthorizationPolicies. A namespace is production or PCI by its name (production, prod, pci) or "
    "its labels (environment/env = production/prod, compliance-zone = pci). Set mode STRICT.")
MS021 = RuleInfo(
    "MS021", "mesh-identity-rule-without-sidecar-client", "warning",
    "an AuthorizationPolicy rule needs a client identity that a client reaching it at L4 cannot have",
    "Istio authorization-policy: principals and namespaces \"require mTLS enabled\"; a client without a "
    "sidecar has no identity, so such a rule never matches it (and a STRICT server refuses it). Reported "
    "per rule with the L4-allowed clients that have no sidecar: inject a sidecar or rewrite the rule.")
MS022 = RuleInfo(
    "MS022", "mesh-allow-nothing", "info",
    "an ALLOW AuthorizationPolicy with no rules denies every request to its workloads",
    "Istio authorization-policy: an ALLOW policy without rules matches nothing, so with it present every "
    "request to the selected workloads is denied (the \"allow-nothing\" example). Fine as a deliberate "
    "default deny; otherwise add rules.")
MS023 = RuleInfo(
    "MS023", "mesh-policy-not-enforced", "warning",
    "an AuthorizationPolicy selects only workloads without a sidecar: nothing enforces it",
    "Istio enforces AuthorizationPolicy in the workload's proxy (sidecar, or ztunnel/waypoint in ambient "
    "mode); a policy whose workloads have no proxy has no effect. Inject the sidecar (namespace label "
    "istio-injection=enabled) or delete the policy.")
MS024 = RuleInfo(
    "MS024", "mesh-and-network-policy-disagree", "info",
    "a namespace denies by default at one layer only (NetworkPolicy or mesh authorization)",
    "Defence in depth: a production or PCI namespace with a NetworkPolicy default deny for ingress whose mesh "
    "workloads have no AuthorizationPolicy while the cluster uses them elsewhere (every request allowed once L4 "
    "lets it through), or a mesh default deny (an ALLOW "
    "policy applying namespace-wide) without a NetworkPolicy default deny (L4 open to plaintext-capable "
    "clients). Add the missing layer.")

MS025 = RuleInfo(
    "MS025", "mesh-deny-shadowed", "warning",
    "a DENY AuthorizationPolicy that can change no verdict: no rules, or every rule covered by another DENY",
    "Istio authorization-policy: rules \"If not set, the match will never occur\", so a DENY without rules denies "
    "nothing; and all DENY policies of a workload are evaluated together (CUSTOM, then DENY, then ALLOW: \"If any "
    "of the DENY policies match the request, deny the request\"), so a DENY policy each of whose rules is covered "
    "by a rule of another DENY policy applying to at least the same workloads never decides a request alone: "
    "deleting it changes nothing. Covered is checked field by field (values within the other rule's values or "
    "patterns; a field the other rule leaves out matches anything); policies without a sidecar to enforce "
    "them are MS023.")
MS026 = RuleInfo(
    "MS026", "mesh-allow-rule-pre-empted", "warning",
    "an ALLOW rule every request of which a DENY policy of the same workloads denies first",
    "Istio evaluates CUSTOM, then DENY, then ALLOW policies: a request a DENY policy matches is denied before any "
    "ALLOW policy is consulted, so an ALLOW rule covered by a DENY rule (applying to at least the same workloads) "
    "never allows anything. Remove the rule, or narrow the DENY.")

_PROD = {"production", "prod", "pci"}


def _sensitive(name: str, labels: dict[str, str]) -> bool:
    return (name in _PROD or labels.get("environment") in ("production", "prod")
            or labels.get("env") in ("production", "prod") or labels.get("compliance-zone") == "pci")


def _mesh(ctx: LintContext) -> MeshAnalyzer:
    return MeshAnalyzer(ctx.cluster, ctx.analyzer.options.mesh)


def check_mtls_not_strict(ctx: LintContext) -> Iterator[Finding]:
    mesh = _mesh(ctx)
    seen: set[tuple[str, str]] = set()
    for w in ctx.cluster.workloads:
        ns = ctx.cluster.namespaces.get(w.namespace)
        side = mesh.side(w)
        if not side.in_mesh or ns is None or not _sensitive(ns.name, ns.labels):
            continue
        mode, ports, steps = mesh.mtls_modes(side)
        weak = [f"port {p} {m.value}" for p, m in sorted(ports.items()) if m in (MtlsMode.PERMISSIVE, MtlsMode.DISABLE)]
        if mode in (MtlsMode.PERMISSIVE, MtlsMode.DISABLE):
            weak.insert(0, mode.value)
        if not weak:
            continue
        decider = next((s for s in steps if s.source is not None), None)
        key = (w.namespace, decider.object if decider else "")
        if key in seen:
            continue
        seen.add(key)
        what = f"PeerAuthentication {decider.object}" if decider else "no PeerAuthentication (Istio's default)"
        yield ctx.finding(
            MS020, f"namespace {w.namespace}: mesh workloads (e.g. {w.id}) accept mTLS {', '.join(weak)}: {what}",
            what, decider.source if decider else (ns.source if ns.declared else w.source),
            decider.path if decider else (),
            fix=f"a PeerAuthentication in {w.namespace} with mtls.mode: STRICT")


def check_identity_rules(ctx: LintContext) -> Iterator[Finding]:
    mesh = _mesh(ctx)
    if not mesh.authz:
        return
    m = ctx.analyzer.matrix(external=False)
    sides = {w.id: mesh.side(w) for w in ctx.cluster.workloads}
    clients_of: dict[str, list[str]] = {}
    for (s, d), _cell in m.cells.items():
        if s in sides and d in sides and not sides[s].in_mesh and sides[d].in_mesh:
            clients_of.setdefault(d, []).append(s)
    for pol, src in mesh.authz:
        if pol.action is AuthzAction.AUDIT:
            continue
        for rule in pol.rules:
            needs = [k for s in rule.sources for k in s if k in ("principals", "namespaces", "serviceAccounts")]
            if not needs:
                continue
            bare = sorted({c for d, cs in clients_of.items() if _applies(mesh, pol, sides[d]) for c in cs})
            if bare:
                shown = ", ".join(bare[:5]) + (f" (+{len(bare) - 5})" if len(bare) > 5 else "")
                yield ctx.finding(
                    MS021, f"AuthorizationPolicy {pol.id} rule {rule.index} matches {'/'.join(sorted(set(needs)))}, "
                           f"which need mTLS; {shown} reach its workloads at L4 without a sidecar and can never match",
                    f"AuthorizationPolicy {pol.id}", src, rule.path,
                    fix="inject a sidecar into those clients (or allow them by another rule)")


def _applies(mesh: MeshAnalyzer, pol: AuthorizationPolicy, side: Side) -> bool:
    pols, _ = mesh.policies_for(side)
    return any(p is pol for p, _ in pols)


def check_allow_nothing(ctx: LintContext) -> Iterator[Finding]:
    for pol, src in ctx.cluster.mesh.authz:
        if pol.action is AuthzAction.ALLOW and not pol.rules and not pol.target_refs:
            yield ctx.finding(MS022, f"AuthorizationPolicy {pol.id} is ALLOW with no rules: every request to its "
                                     "workloads is denied", f"AuthorizationPolicy {pol.id}", src, ("spec",),
                              fix="add rules, or keep it as a deliberate mesh default deny")


def check_not_enforced(ctx: LintContext) -> Iterator[Finding]:
    mesh = _mesh(ctx)
    sides = [mesh.side(w) for w in ctx.cluster.workloads]
    for pol, src in mesh.authz:
        if pol.target_refs or pol.action is AuthzAction.AUDIT:
            continue
        scope = [s for s in sides if (pol.namespace == mesh.root or s.namespace == pol.namespace)
                 and (pol.selector is None or pol.selector.matches(dict(s.labels)))]
        if scope and not any(s.in_mesh for s in scope):
            yield ctx.finding(MS023, f"AuthorizationPolicy {pol.id} selects {len(scope)} workload(s) (e.g. "
                                     f"{scope[0].name}), none with a sidecar: it is not enforced",
                              f"AuthorizationPolicy {pol.id}", src, ("spec", "selector") if pol.selector else ("spec",),
                              fix=f"label namespace {pol.namespace} istio-injection=enabled, or delete the policy")


def check_layers_disagree(ctx: LintContext) -> Iterator[Finding]:
    mesh = _mesh(ctx)
    for name, ns in ctx.cluster.namespaces.items():
        sides = [mesh.side(w) for w in ctx.cluster.workloads if w.namespace == name]
        meshed = [s for s in sides if s.in_mesh]
        if not meshed:
            continue
        l4_deny = any(e.policy.namespace == name and e.policy.pod_selector.is_empty() and e.policy.affects(Direction.INGRESS)
                      for e in ctx.policies())
        covered = [s for s in meshed if mesh.policies_for(s)[0]]
        mesh_deny = any(p.action is AuthzAction.ALLOW and p.selector is None and p.namespace in (name, mesh.root)
                        and not p.target_refs for p, _ in mesh.authz)
        source = ns.source if ns.declared else None
        if l4_deny and not covered and mesh.authz and _sensitive(name, ns.labels):
            # only where the cluster uses mesh authorization and the namespace is production/PCI: a mesh
            # without AuthorizationPolicies anywhere is an mTLS-only mesh, not a forgotten layer
            yield ctx.finding(MS024, f"namespace {name} has a NetworkPolicy default deny but no AuthorizationPolicy "
                                     f"for its {len(meshed)} mesh workload(s): every request L4 lets through is "
                                     "allowed", f"Namespace {name}", source,
                              fix="add ALLOW AuthorizationPolicies by service account (kubectl microseg explain shows "
                                  "who calls whom)")
        elif mesh_deny and not l4_deny:
            yield ctx.finding(MS024, f"namespace {name} denies by default in the mesh (a namespace-wide ALLOW policy) "
                                     "but has no NetworkPolicy default deny for ingress", f"Namespace {name}", source,
                              fix=f"add a NetworkPolicy in {name} with podSelector: {{}} and policyTypes: [Ingress]")


def _scope_covers(mesh: MeshAnalyzer, q: AuthorizationPolicy, p: AuthorizationPolicy) -> bool:
    """Whether ``q`` applies to every workload ``p`` applies to (root namespace: mesh-wide; a selector whose
    requirements are a subset selects a superset)."""
    if q.target_refs or p.target_refs:
        return False
    if q.namespace != mesh.root and q.namespace != p.namespace:
        return False
    if q.selector is None:
        return True
    return p.selector is not None and set(q.selector.requirements) <= set(p.selector.requirements)


def _values_cover(key: str, q: tuple[str, ...], p: tuple[str, ...]) -> bool:
    """Whether the field ``key`` with values ``q`` matches whatever the same field with values ``p`` matches."""
    if key.startswith("not"):  # q excludes its values: p must exclude them too
        return set(q) <= set(p)
    if key in ("ipBlocks", "remoteIpBlocks", "ports"):
        return set(p) <= set(q) or "*" in q
    return all(pattern_match(v, q) for v in p)  # a pattern of p within one of q ("a/b*" within "a/*")


def _fields_cover(q: dict[str, tuple[str, ...]], p: dict[str, tuple[str, ...]]) -> bool:
    """A source (or operation) ``q`` matches every request ``p`` matches: each field q sets, p sets narrower."""
    return all(k in p and _values_cover(k, v, p[k]) for k, v in q.items())


def rule_covers(q: AuthzRule, p: AuthzRule) -> bool:
    """Whether rule ``q`` matches every request rule ``p`` matches (sufficient, not necessary: a False may
    still be covered by address arithmetic or by several rules together; never a False positive)."""
    if q.is_empty:
        return True
    for q_list, p_list in ((q.sources, p.sources), (q.operations, p.operations)):
        if q_list and (not p_list or not all(any(_fields_cover(a, b) for a in q_list) for b in p_list)):
            return False
    for c in q.conditions:
        if not any(d.key == c.key and (not c.values or (d.values and all(pattern_match(v, c.values) for v in d.values)))
                   and set(c.not_values) <= set(d.not_values) for d in p.conditions):
            return False
    return True


def check_deny_shadowed(ctx: LintContext) -> Iterator[Finding]:
    mesh = _mesh(ctx)
    denies = sorted(((p, s) for p, s in mesh.authz if p.action is AuthzAction.DENY and not p.target_refs),
                    key=lambda e: (e[0].namespace, e[0].name))
    for i, (pol, src) in enumerate(denies):
        if not pol.rules:
            yield ctx.finding(MS025, f"AuthorizationPolicy {pol.id} is DENY with no rules: it never matches, so it "
                                     "denies nothing", f"AuthorizationPolicy {pol.id}", src, ("spec",),
                              fix="add the rules it should deny, or delete it (an ALLOW with no rules is the "
                                  "allow-nothing default deny)")
            continue
        # the other DENY policies that cover its scope; of two that cover each other, the later one is reported
        others = [(q, s) for j, (q, s) in enumerate(denies) if q is not pol and q.rules and _scope_covers(mesh, q, pol)
                  and (j < i or not (_scope_covers(mesh, pol, q) and all(any(rule_covers(r, x) for r in pol.rules)
                                                                          for x in q.rules)))]
        coverers = []
        for rule in pol.rules:
            by = next((f"{q.id} rule {r.index}" for q, _ in others for r in q.rules if rule_covers(r, rule)), None)
            if by is None:
                break
            coverers.append(f"rule {rule.index} by {by}")
        else:
            yield ctx.finding(MS025, f"AuthorizationPolicy {pol.id} (DENY) is covered by other DENY policies of its "
                                     f"workloads ({'; '.join(coverers)}): it never decides a request alone",
                              f"AuthorizationPolicy {pol.id}", src, ("spec", "rules"),
                              fix="delete it, or make it deny something the others do not")


def check_allow_pre_empted(ctx: LintContext) -> Iterator[Finding]:
    mesh = _mesh(ctx)
    denies = [p for p, _ in mesh.authz if p.action is AuthzAction.DENY and not p.target_refs]
    if not denies:
        return
    for pol, src in mesh.authz:
        if pol.action is not AuthzAction.ALLOW or pol.target_refs:
            continue
        for rule in pol.rules:
            by = next((f"{q.id} rule {r.index}" for q in denies if _scope_covers(mesh, q, pol)
                       for r in q.rules if rule_covers(r, rule)), None)
            if by is not None:
                yield ctx.finding(MS026, f"AuthorizationPolicy {pol.id} rule {rule.index} (ALLOW) is pre-empted by "
                                         f"DENY {by}: DENY is evaluated first and matches every request it allows",
                                  f"AuthorizationPolicy {pol.id}", src, rule.path,
                                  fix="delete the rule, or narrow the DENY policy")


RULES = ((MS020, check_mtls_not_strict), (MS021, check_identity_rules), (MS022, check_allow_nothing),
         (MS023, check_not_enforced), (MS024, check_layers_disagree), (MS025, check_deny_shadowed),
         (MS026, check_allow_pre_empted))

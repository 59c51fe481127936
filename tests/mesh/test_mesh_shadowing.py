"""MS025 (a DENY AuthorizationPolicy that changes no verdict) and MS026 (an ALLOW rule a DENY pre-empts).

istio.io, authorization-policy reference: ``rules``: "If not set, the match will never occur"; the order
"CUSTOM ... first, then the DENY action, and finally the ALLOW action" ("If any of the DENY policies match the
request, deny the request" — every DENY policy of a workload is evaluated, none before another).
"""

from __future__ import annotations

from tests.mesh.test_istio_mesh import NS, WORKLOADS, _authz, _lint

BASE = NS + WORKLOADS
ADMIN = '  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]'
ADMIN_DELETE = '  rules: [{to: [{operation: {paths: ["/admin/users"], methods: ["DELETE"]}}]}]'


def test_deny_without_rules_never_matches():
    found = _lint(BASE + _authz("DENY", "  selector: {matchLabels: {app: api-server}}"), "MS025")
    assert len(found) == 1 and "DENY with no rules" in found[0].message


def test_deny_covered_by_a_wider_deny_is_reported_and_the_wider_one_is_not():
    text = BASE + _authz("DENY", ADMIN, "admin") + _authz(
        "DENY", "  selector: {matchLabels: {app: api-server}}\n" + ADMIN_DELETE, "admin-delete")
    found = _lint(text, "MS025")
    assert [f.object for f in found] == ["AuthorizationPolicy production/admin-delete"]
    assert "rule 1 by production/admin rule 1" in found[0].message


def test_a_deny_of_another_namespace_or_narrower_scope_does_not_cover():
    elsewhere = _authz("DENY", ADMIN, "admin", ns="staging")
    assert _lint(BASE + elsewhere + _authz("DENY", ADMIN_DELETE, "admin-delete"), "MS025") == []
    narrower = _authz("DENY", "  selector: {matchLabels: {app: frontend}}\n" + ADMIN, "admin")
    assert _lint(BASE + narrower + _authz("DENY", ADMIN_DELETE, "admin-delete"), "MS025") == []
    # a DENY that also matches other requests (POST too) is not covered by one on DELETE only
    post = '  rules: [{to: [{operation: {paths: ["/admin*"], methods: ["POST", "DELETE"]}}]}]'
    assert _lint(BASE + _authz("DENY", ADMIN_DELETE, "a") + _authz("DENY", post, "b"), "MS025") != []
    assert [f.object for f in _lint(BASE + _authz("DENY", ADMIN_DELETE, "a") + _authz("DENY", post, "b"), "MS025")] \
        == ["AuthorizationPolicy production/a"]


def test_a_mesh_wide_deny_covers_namespace_ones_and_duplicates_report_once():
    mesh_wide = _authz("DENY", ADMIN, "admin", ns="istio-system")
    found = _lint(BASE + mesh_wide + _authz("DENY", ADMIN_DELETE, "local"), "MS025")
    assert [f.object for f in found] == ["AuthorizationPolicy production/local"]
    twins = _lint(BASE + _authz("DENY", ADMIN, "one") + _authz("DENY", ADMIN, "two"), "MS025")
    assert [f.object for f in twins] == ["AuthorizationPolicy production/two"]


def test_allow_rule_pre_empted_by_a_deny():
    allow = _authz("ALLOW", '  rules:\n    - to: [{operation: {paths: ["/admin/users"]}}]\n'
                            '    - to: [{operation: {paths: ["/api/*"]}}]', "allow")
    found = _lint(BASE + _authz("DENY", ADMIN, "admin") + allow, "MS026")
    assert len(found) == 1 and "production/allow rule 1" in found[0].message
    assert "DENY production/admin rule 1" in found[0].message
    # a principal-scoped DENY does not cover an ALLOW open to anyone
    by_principal = '  rules: [{from: [{source: {principals: ["cluster.local/ns/production/sa/worker"]}}]}]'
    assert _lint(BASE + _authz("DENY", by_principal, "w") + allow, "MS026") == []

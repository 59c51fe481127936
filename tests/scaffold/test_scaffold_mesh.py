"""``scaffold mesh``: AuthorizationPolicies by service account and a STRICT PeerAuthentication from the tier
intent of ``scaffold tiers``, checked by evaluating them with the mesh engine (engine/mesh.py).

istio.io, authorization-policy reference: an ALLOW policy that selects a workload denies every request no rule
matches; a policy without rules "allows nothing"; principals are TRUST_DOMAIN/ns/NS/sa/SA and "require mTLS".
peer_authentication reference: STRICT "connection is an mTLS tunnel" only: a client without a sidecar is refused.
"""

from __future__ import annotations

import textwrap

import yaml

from kubectl_microseg.engine.mesh import MeshAnalyzer, MeshVerdict, MtlsState, pair_verdict
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.istio import MeshOptions
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.plugins.manifests import parse_text
from kubectl_microseg.scaffold import mesh, tiers
from tests.mesh.test_istio_mesh import NS, WORKLOADS, deploy

from .helpers import objects, run_cli

PORT_8080 = ConnSet({"TCP": [(8080, 8080)]})
MODEL = NS + WORKLOADS + deploy("job", sa="worker")  # job shares the worker's service account


def _scaffold(chain: str, entry: tiers.Entry | None = None, trust_domain: str = "cluster.local"):
    base = parse_text(textwrap.dedent(MODEL), "model.yaml")
    intent, _ = tiers.resolve(tiers.TierIntent("production", tiers.parse_chain(chain), entry, label_key="app"),
                              build_cluster(base))
    drafts, notes = mesh.build(intent, build_cluster(base), trust_domain)
    after = build_cluster(list(base) + objects(d.manifest() for d in drafts))
    return MeshAnalyzer(after, MeshOptions(trust_domain=trust_domain)), {w.name: w for w in after.workloads}, drafts, notes


def test_each_tier_admits_only_the_previous_tiers_service_accounts_on_its_ports():
    m, w, drafts, notes = _scaffold("frontend -> worker:9000 -> api-server:8080")

    def verdict(src, dst, conns=PORT_8080):
        r = pair_verdict(m, w[src], w[dst], conns)
        return r.verdict, r.mtls

    assert verdict("worker", "api-server") == (MeshVerdict.ALLOWED, MtlsState.MTLS)
    assert verdict("job", "api-server") == (MeshVerdict.ALLOWED, MtlsState.MTLS)  # the same service account
    assert verdict("frontend", "api-server") == (MeshVerdict.DENIED, MtlsState.MTLS)  # another principal
    assert verdict("legacy", "api-server") == (MeshVerdict.DENIED, MtlsState.REFUSED)  # no sidecar, STRICT
    assert verdict("worker", "api-server", ConnSet({"TCP": [(9090, 9090)]}))[0] is MeshVerdict.DENIED  # port
    assert verdict("frontend", "worker", ConnSet({"TCP": [(9000, 9000)]}))[0] is MeshVerdict.ALLOWED
    assert verdict("api-server", "worker", ConnSet({"TCP": [(9000, 9000)]}))[0] is MeshVerdict.DENIED
    assert verdict("api-server", "frontend")[0] is MeshVerdict.DENIED  # first tier, no entry: allows nothing
    kinds = [d.manifest()["kind"] for d in drafts]
    assert kinds == ["PeerAuthentication"] + ["AuthorizationPolicy"] * 3
    assert drafts[0].manifest()["spec"] == {"mtls": {"mode": "STRICT"}}
    assert "rules" not in drafts[1].manifest()["spec"]  # frontend: the allow-nothing form
    # job runs as the worker's service account: the principal cannot tell them apart, and the note says so
    assert any("production/worker (also used by production/job)" in n for n in notes), notes


def test_entry_by_selector_names_its_service_accounts_and_trust_domain_is_used():
    m, w, drafts, _ = _scaffold("frontend -> api-server:8080", tiers.Entry("production", {"matchLabels": {"app": "worker"}}),
                                trust_domain="example.org")
    rule = drafts[1].manifest()["spec"]["rules"][0]
    assert rule["from"] == [{"source": {"principals": ["example.org/ns/production/sa/worker"]}}]
    assert pair_verdict(m, w["worker"], w["frontend"], ConnSet.all()).verdict is MeshVerdict.ALLOWED
    assert pair_verdict(m, w["api-server"], w["frontend"], ConnSet.all()).verdict is MeshVerdict.DENIED


def test_cli_writes_commented_yaml_and_previews_mesh_changes(capsys, tmp_path):
    (tmp_path / "c.yaml").write_text(MODEL)
    code, out, err = run_cli(capsys, "-f", str(tmp_path), "scaffold", "mesh", "-n", "production",
                             "frontend -> api-server:8080+http+53/udp", "--label-key", "app", "--impact-limit", "50")
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if d]
    api = next(d for d in docs if d["metadata"]["name"] == "api-server-tier-authz")
    assert api["spec"]["rules"][0]["to"] == [{"operation": {"ports": ["8080"]}}]
    assert "# From tier frontend (service account frontend): the previous tier in the chain calls this one, on TCP 8080." \
        in out
    assert "UDP 53 (Istio proxies and authorizes TCP only)" in err
    assert "port name http (no pod of the tier declares it" in err
    # the preview: worker reached api-server before (no policy); now the mesh denies it, caused by the new policy
    assert "service mesh:" in err and "newly denied or refused" in err
    assert ("! production/worker -> production/api-server: allowed, mTLS mtls -> denied, mTLS mtls  "
            "[AuthorizationPolicy production/api-server-tier-authz added]") in err


def test_no_cluster_assumes_service_accounts_named_after_tiers(capsys):
    code, out, err = run_cli(capsys, "scaffold", "mesh", "--no-cluster", "-n", "shop", "web -> db:5432")
    assert code == 0, err
    db = [d for d in yaml.safe_load_all(out) if d][2]
    assert db["spec"]["rules"][0]["from"][0]["source"]["principals"] == ["cluster.local/ns/shop/sa/web"]
    assert "no model (--no-cluster)" in err


def test_completion_offers_the_mesh_kind_and_its_options():
    from kubectl_microseg.completion import complete

    def values(words: list[str]) -> list[str]:
        return [c.split("\t", 1)[0] for c in complete(words).candidates]

    assert "mesh" in values(["scaffold", "me"])
    assert {"--entry-namespace", "--intent", "--label-key"} <= set(values(["scaffold", "mesh", "--"]))
    assert "production" in values(["--demo", "scaffold", "mesh", "--entry-namespace", "prod"])

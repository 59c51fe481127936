"""One minimal positive and one negative example per Kubernetes lint rule (MS001-MS016)."""

from __future__ import annotations

from tests.lint.helpers import DNS, allow_dns, deny_all, deploy, ids, lint_yaml, ns


def policy(name: str, namespace: str, body: str, comment: str = "# why") -> str:
    return (f"{comment}\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n"
            f"  namespace: {namespace}\nspec:\n{body}---\n")


BASE = DNS + ns("shop") + deploy("web", "shop", {"app": "web"}, [("http", 8080, "TCP")]) + deny_all("shop") + \
    allow_dns("shop") + deny_all("kube-system") + allow_dns("kube-system") + policy("coredns", "kube-system", """\
  podSelector:
    matchLabels:
      k8s-app: kube-dns
  ingress:
    # queries from every namespace
    - from:
        - namespaceSelector: {}
      ports:
        - protocol: UDP
          port: dns
        - protocol: TCP
          port: dns-tcp
""")


def test_base_is_clean() -> None:
    assert lint_yaml(BASE) == []


# -- MS001 / MS002 default deny ------------------------------------------------------------------------
def test_ms001_ms002_namespace_without_default_deny() -> None:
    text = BASE + ns("batch") + deploy("job", "batch", {"app": "job"}) + policy("only-egress", "batch", """\
  podSelector: {}
  policyTypes: [Egress]
  egress:
    # DNS
    - to:
        - namespaceSelector: {}
          podSelector:
            matchLabels:
              k8s-app: kube-dns
""")
    got = lint_yaml(text, ("MS001", "MS002"))
    assert ids(got) == [("MS001", "Namespace batch")]  # egress is denied by podSelector {}
    assert got[0].severity == "warning" and got[0].location.file == "t.yaml" and got[0].location.line
    assert "podSelector: {}" in got[0].fix


def test_ms001_empty_namespace_is_info() -> None:
    got = lint_yaml(BASE + ns("empty"), ("MS001", "MS002"))
    assert [(f.rule, f.severity) for f in got] == [("MS001", "info"), ("MS002", "info")]


# -- MS003 unselected workloads ----------------------------------------------------------------------
def test_ms003_workload_not_selected() -> None:
    text = BASE + ns("batch") + deploy("loose", "batch", {"app": "loose"})
    assert ("MS003", "Deployment batch/loose") in ids(lint_yaml(text, ("MS003",)))
    assert lint_yaml(BASE, ("MS003",)) == []


def test_ms003_ignores_hostnetwork() -> None:
    text = BASE + ns("sys") + deploy("proxy", "sys", {"app": "proxy"}).replace("      containers:",
                                                                            "      hostNetwork: true\n      containers:")
    assert lint_yaml(text, ("MS003",)) == []


# -- MS004 policy selects nothing --------------------------------------------------------------------
def test_ms004_policy_selects_nothing_with_hint() -> None:
    text = BASE + policy("typo", "shop", "  podSelector:\n    matchLabels:\n      app: wbe\n  policyTypes: [Ingress]\n")
    got = lint_yaml(text, ("MS004",))
    assert ids(got) == [("MS004", "NetworkPolicy shop/typo")]
    assert got[0].fix == "did you mean app=web?" and got[0].path == "spec.podSelector"


def test_ms004_hint_names_other_key() -> None:
    text = BASE + policy("key", "shop", "  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: web\n")
    got = lint_yaml(text, ("MS004",))
    assert "app=web" in got[0].fix


def test_ms004_negative_and_info_without_pods() -> None:
    assert lint_yaml(BASE, ("MS004",)) == []
    text = BASE + ns("nopods") + policy("p", "nopods", "  podSelector:\n    matchLabels:\n      app: x\n")
    assert [f.severity for f in lint_yaml(text, ("MS004",))] == ["info"]


# -- MS005 peers match nothing -----------------------------------------------------------------------
def test_ms005_peer_pod_and_namespace() -> None:
    text = BASE + policy("in", "shop", """\
  podSelector:
    matchLabels:
      app: web
  ingress:
    # a
    - from:
        - podSelector:
            matchLabels:
              app: frontend
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: shpo
        - podSelector:
            matchLabels:
              app: web
""")
    got = lint_yaml(text, ("MS005",))
    assert [f.path for f in got] == ["spec.ingress[0].from[0]", "spec.ingress[0].from[1]"]
    assert "matches no pod" in got[0].message and "matches no namespace" in got[1].message
    assert "shop" in got[1].fix


def test_ms005_ipblock_and_matching_peers_are_fine() -> None:
    text = BASE + policy("in", "shop", """\
  podSelector: {}
  ingress:
    # a
    - from:
        - ipBlock:
            cidr: 192.0.2.0/24
        - namespaceSelector: {}
""")
    assert lint_yaml(text, ("MS005",)) == []


# -- MS006 named ports -------------------------------------------------------------------------------
def test_ms006_named_port_unresolved() -> None:
    body = """\
  podSelector:
    matchLabels:
      app: web
  ingress:
    # a
    - ports:
        - port: {port}
"""
    got = lint_yaml(BASE + policy("p", "shop", body.format(port="htp")), ("MS006",))
    assert ids(got) == [("MS006", "NetworkPolicy shop/p")] and got[0].path == "spec.ingress[0].ports[0]"
    assert lint_yaml(BASE + policy("p", "shop", body.format(port="http")), ("MS006",)) == []


def test_ms006_protocol_must_match() -> None:
    body = "  podSelector: {}\n  ingress:\n    # a\n    - ports:\n        - port: http\n          protocol: UDP\n"
    assert len(lint_yaml(BASE + policy("p", "shop", body), ("MS006",))) == 1


# -- MS007 DNS ---------------------------------------------------------------------------------------
def test_ms007_egress_without_dns() -> None:
    text = DNS + ns("shop") + deploy("web", "shop", {"app": "web"}) + deny_all("shop")
    got = lint_yaml(text, ("MS007",))
    assert ids(got) == [("MS007", "Deployment shop/web")]


def test_ms007_dns_pod_ingress_must_admit() -> None:
    # egress allowed, but CoreDNS is isolated and admits nobody: still no DNS
    text = DNS + ns("shop") + deploy("web", "shop", {"app": "web"}) + deny_all("shop") + allow_dns("shop") + \
        deny_all("kube-system") + allow_dns("kube-system")
    assert ("MS007", "Deployment shop/web") in ids(lint_yaml(text, ("MS007",)))
    assert lint_yaml(BASE, ("MS007",)) == []


def test_ms007_external_resolver_counts() -> None:
    text = ns("shop") + deploy("web", "shop", {"app": "web"}) + deny_all("shop") + policy("dns", "shop", """\
  podSelector: {}
  policyTypes: [Egress]
  egress:
    # node-local DNS cache
    - to:
        - ipBlock:
            cidr: 169.254.20.10/32
      ports:
        - protocol: UDP
          port: 53
""")
    assert lint_yaml(text, ("MS007",)) == []


# -- MS008 allow all ---------------------------------------------------------------------------------
def test_ms008_allow_all_rules() -> None:
    text = BASE + policy("open", "shop", """\
  podSelector: {}
  ingress:
    # a
    - {}
  egress:
    # b
    - to:
        - namespaceSelector: {}
""")
    got = lint_yaml(text, ("MS008",))
    assert [f.path for f in got] == ["spec.ingress[0]", "spec.egress[0]"]


def test_ms008_restricted_peers_are_not_flagged() -> None:
    text = BASE + policy("zone", "shop", """\
  podSelector: {}
  ingress:
    # namespace members, all ports
    - from:
        - podSelector: {}
    # zone members in other namespaces
    - from:
        - namespaceSelector:
            matchLabels:
              zone: pci
          podSelector:
            matchLabels:
              zone: pci
    # everyone, but only https
    - ports:
        - port: 443
""")
    assert lint_yaml(text, ("MS008",)) == []


# -- MS009 ipBlock everything ------------------------------------------------------------------------
def test_ms009_ipblock_everything() -> None:
    body = "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n    # a\n    - to:\n        - ipBlock:\n" \
           "            cidr: CIDR\nEXTRA      ports:\n        - port: 443\n"

    def fill(cidr: str, extra: str = "") -> str:
        return body.replace("CIDR", cidr).replace("EXTRA", extra)
    got = lint_yaml(BASE + policy("p", "shop", fill("0.0.0.0/0")), ("MS009",))
    assert ids(got) == [("MS009", "NetworkPolicy shop/p")] and "10.0.0.0/8" in got[0].fix
    six = lint_yaml(BASE + policy("p", "shop", fill("::/0")), ("MS009",))
    assert "fc00::/7" in six[0].fix
    ok = fill("0.0.0.0/0", "            except: [10.0.0.0/8]\n")
    assert lint_yaml(BASE + policy("p", "shop", ok), ("MS009",)) == []


# -- MS010 redundant ---------------------------------------------------------------------------------
def test_ms010_redundant_rule() -> None:
    text = BASE + deploy("other", "shop", {"app": "other"}) + policy("a", "shop", """\
  podSelector:
    matchLabels:
      app: web
  ingress:
    # b
    - from:
        - podSelector: {}
      ports:
        - port: 8080
        - port: 9090
""") + policy("b", "shop", """\
  podSelector: {}
  ingress:
    # c
    - from:
        - podSelector:
            matchLabels:
              app: web
      ports:
        - port: http
""")
    got = lint_yaml(text, ("MS010",))
    # shop/b selects every pod of shop (more than a): a does not make b redundant for pods a does not select
    assert ids(got) == []
    narrow = text.replace("  podSelector: {}\n  ingress:\n    # c", "  podSelector:\n    matchLabels:\n      app: web\n"
                          "  ingress:\n    # c")
    got = lint_yaml(narrow, ("MS010",))
    assert [(f.object, f.severity) for f in got] == [("NetworkPolicy shop/b", "info")]
    assert "shop/a ingress rule 1" in got[0].message


def test_ms010_identical_rules_reported_once_and_wider_ports_not() -> None:
    rule = "  podSelector: {}\n  ingress:\n    # x\n    - from:\n        - podSelector: {}\n      ports:\n        - port: %s\n"
    got = lint_yaml(BASE + policy("a", "shop", rule % "80") + policy("b", "shop", rule % "80"), ("MS010",))
    assert [f.object for f in got] == ["NetworkPolicy shop/b"]
    assert lint_yaml(BASE + policy("a", "shop", rule % "80") + policy("b", "shop", rule % "81"), ("MS010",)) == []


# -- MS011 / MS012 labels ----------------------------------------------------------------------------
def test_ms011_key_variants_within_namespace() -> None:
    text = BASE + deploy("api", "shop", {"app": "api", "tier": "back"}) + deploy("db", "shop", {"app": "db", "tier": "data"}) \
        + deploy("cache", "shop", {"app": "cache", "teir": "data"}) + deploy("x", "shop", {"App": "x"})
    got = lint_yaml(text, ("MS011",))
    assert sorted((f.object, f.message.split("'")[1]) for f in got) == [
        ("Deployment shop/cache", "teir"), ("Deployment shop/x", "App")]


def test_ms011_upstream_conventions_across_namespaces_are_fine() -> None:
    text = BASE + ns("mon") + deploy("prom", "mon", {"app.kubernetes.io/name": "prometheus"}) + \
        deploy("web2", "shop", {"app": "web2"}) + deploy("proxy", "kube-system", {"k8s-app": "kube-proxy"})
    assert lint_yaml(text, ("MS011",)) == []


def test_ms012_identity_key_mixed() -> None:
    text = BASE + deploy("api", "shop", {"app": "api"}) + deploy("chart", "shop", {"app.kubernetes.io/name": "chart"}) + \
        policy("p", "shop", "  podSelector:\n    matchLabels:\n      app: api\n")
    got = lint_yaml(text, ("MS012",))
    assert [(f.object, f.severity) for f in got] == [("Deployment shop/chart", "info")]
    assert lint_yaml(BASE + deploy("api", "shop", {"app": "api"}), ("MS012",)) == []


# -- MS013 explanations ------------------------------------------------------------------------------
def test_ms013_rule_without_comment() -> None:
    body = "  podSelector: {}\n  ingress:\n%s    - ports:\n        - port: 443\n"
    got = lint_yaml(BASE + policy("p", "shop", body % ""), ("MS013",))
    assert [f.path for f in got] == ["spec.ingress[0]"] and got[0].severity == "info"
    assert lint_yaml(BASE + policy("p", "shop", body % "    # public https\n"), ("MS013",)) == []
    trailing = "  podSelector: {}\n  ingress:\n    - ports:  # public https\n        - port: 443\n"
    assert lint_yaml(BASE + policy("p", "shop", trailing), ("MS013",)) == []


def test_ms013_annotation_explains_live_objects() -> None:
    body = "  podSelector: {}\n  ingress:\n    - ports:\n        - port: 443\n"
    annotated = policy("p", "shop", body).replace("  namespace: shop\n",
                                                  "  namespace: shop\n  annotations:\n    microseg.io/why: public https\n")
    assert lint_yaml(BASE + annotated, ("MS013",)) == []


# -- MS014 / MS015 / MS016 exposure (issue 15: lint as strong as the guards) -------------------------------
DB = ns("data") + deploy("postgres", "data", {"app": "postgres"}, [("pg", 5432, "TCP")]) + deny_all("data") + \
    allow_dns("data")


def test_ms014_database_open_to_the_internet_is_an_error_even_with_private_excepts() -> None:
    text = BASE + DB + policy("pg-open", "data", """\
  podSelector: {matchLabels: {app: postgres}}
  ingress:
    - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]}}]
      ports: [{protocol: TCP, port: 5432}]
""")
    found = [f for f in lint_yaml(text) if f.rule == "MS014"]
    assert [(f.severity, f.object) for f in found] == [("error", "Deployment data/postgres")]
    assert "PostgreSQL (TCP 5432)" in found[0].message and "except" in found[0].fix
    # the same on a web port is a public front end: not reported
    web = text.replace("5432}]\n", "443}]\n")
    assert not [f for f in lint_yaml(web) if f.rule == "MS014"]


def test_ms015_every_namespace_into_a_sensitive_port_is_an_error() -> None:
    text = BASE + DB + policy("pg-cluster", "data", """\
  podSelector: {matchLabels: {app: postgres}}
  ingress:
    - from: [{namespaceSelector: {}}]
      ports: [{protocol: TCP, port: 5432}]
""")
    found = [f for f in lint_yaml(text) if f.rule == "MS015"]
    assert [(f.severity, f.object) for f in found] == [("error", "Deployment data/postgres")]
    assert "every pod of every namespace" in found[0].message
    named = text.replace("- from: [{namespaceSelector: {}}]",
                         "- from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}}]")
    assert not [f for f in lint_yaml(named) if f.rule == "MS015"]


def test_ms016_dns_without_tcp() -> None:
    udp_only = BASE.replace("        - protocol: TCP\n          port: 53\n", "", 1)
    found = [f for f in lint_yaml(udp_only) if f.rule == "MS016"]
    assert found and "reaches the cluster DNS on UDP 53 but not on TCP 53" in found[0].message
    assert not [f for f in lint_yaml(BASE) if f.rule == "MS016"]


def test_ms009_on_a_database_does_not_suggest_an_except() -> None:
    text = BASE + DB + policy("pg-open", "data", """\
  podSelector: {matchLabels: {app: postgres}}
  ingress:
    - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
      ports: [{protocol: TCP, port: 5432}]
""")
    found = {f.rule: f for f in lint_yaml(text)}
    assert found["MS014"].severity == "error"
    assert found["MS009"].fix.startswith("do not open PostgreSQL (TCP 5432) to the internet (MS014)")

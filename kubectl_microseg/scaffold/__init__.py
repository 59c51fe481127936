"""Scaffolding NetworkPolicies from intent: pure builders (PolicyDraft), the ruamel writer, the impact.

Modules: ``draft`` (the PolicyDraft type and dict helpers), ``dns`` (finding the cluster DNS),
``templates`` (default deny, DNS, isolation, zones, cross-namespace, external egress), ``tiers`` and
``intent`` (chains of tiers), ``flows`` and ``least`` (least privilege from flows), ``impact`` (the matrix
diff a scaffold would cause) and ``yaml_out`` (the only module here that imports ruamel.yaml).
"""

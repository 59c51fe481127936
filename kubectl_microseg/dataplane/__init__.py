"""Ground truth from the dataplane: what the model says joined with what the network does (no I/O here).

Modules: ``pods`` (the running pods of a snapshot, by workload), ``cells`` (which connections to probe and
what the model says of each), ``commands`` (the probe commands and how their outcome reads), ``caveats``
(the CNI in use and the likely cause of a disagreement), ``observed`` (flow exports: Hubble, Calico flow
logs, conntrack, mapped onto endpoints), ``report`` (model says / network says, rendered).
"""

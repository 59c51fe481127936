"""The nftables engine: a typed model of libnftables JSON, the kernel's evaluation, and the shared views.

Pure core (no I/O): ``parse`` (JSON to model), ``evaluate`` (verdict and trace for one packet),
``explain`` (trace text), ``matrix`` (the shared Matrix), ``simulate`` (flow diff), ``scaffold``
(a default-deny host ruleset from intent), ``lockout`` and ``transaction`` (the safety checks and the
atomic batch of ``nft apply``). Reading rulesets and talking to the kernel is ``plugins/nftables.py``.
"""

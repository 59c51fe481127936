"""Large clusters (issue 8): above LARGE_WORKLOADS the matrix opens with every namespace folded, at
workload granularity, and the side panels fill after the first paint."""

from __future__ import annotations

from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Snapshot
from kubectl_microseg.tui.app import MicrosegApp
from kubectl_microseg.tui.screens.matrix import LARGE_WORKLOADS
from kubectl_microseg.tui.widgets.workload_list import WorkloadPanel

from .conftest import SIZE, wait_for, wait_loaded

NAMESPACES, PER_NAMESPACE = 32, 10


class SyntheticSource:
    """32 namespaces × 10 deployments (320 workloads, more than LARGE_WORKLOADS); ns-00 denies ingress."""

    def load(self) -> Snapshot:
        objs = [SourceObject({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                              "metadata": {"name": "deny", "namespace": "ns-00"},
                              "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})]
        for n in range(NAMESPACES):
            ns = f"ns-{n:02d}"
            objs.append(SourceObject({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            for w in range(PER_NAMESPACE):
                labels = {"app": f"app-{w}"}
                objs.append(SourceObject({
                    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app-{w}", "namespace": ns},
                    "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                             "template": {"metadata": {"labels": labels},
                                          "spec": {"containers": [{"name": "c", "image": "x"}]}}}}))
        return Snapshot(objs, "synthetic cluster")


async def test_a_large_cluster_opens_folded_at_workload_granularity():
    assert NAMESPACES * PER_NAMESPACE > LARGE_WORKLOADS
    app = MicrosegApp(SyntheticSource())
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app.matrix_screen.large and app.matrix_screen.granularity == "workload"
        assert app.matrix_screen.model.collapsed == set(app.matrix_screen.model.groups) and len(app.matrix_screen.model.rows) == NAMESPACES + 1  # + external
        assert all(r.kind == "group" for r in app.matrix_screen.model.rows if r.group != "external")
        panel = app.query_one(WorkloadPanel).query_one("#workloads")
        await wait_for(pilot, lambda: panel.option_count >= NAMESPACES * PER_NAMESPACE)  # filled after the paint
        await pilot.press("space")  # unfold the namespace under the cursor: its workloads appear
        assert [r.key for r in app.matrix_screen.model.rows[:2]] == ["header:ns-00", "ns-00/app-0"]
        await pilot.press("down", "right")
        assert "denied" in str(app.query_one("#cell-info").render())  # ns-00 isolates ingress
        await pilot.press("z", "z")  # z folds all when some are open; again unfolds all
        assert not app.matrix_screen.model.collapsed


async def test_a_namespace_given_with_n_stays_open():
    app = MicrosegApp(SyntheticSource(), namespace="ns-07")
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app.matrix_screen.model.collapsed == set(app.matrix_screen.model.groups) - {"ns-07"}
        assert app.matrix_screen.model.rows[0].key == "header:ns-07" and app.matrix_screen.model.rows[1].key == "ns-07/app-0"


async def test_a_small_cluster_opens_unfolded(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert not demo_app.matrix_screen.large and not demo_app.matrix_screen.model.collapsed

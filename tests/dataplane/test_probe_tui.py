"""``r`` in the TUI: the probe plan of the pair under the cursor, and on a live cluster (the fake API server)
Enter runs it through the same code as ``probe`` (an ephemeral container, created and ended)."""

from __future__ import annotations

import argparse

from kubectl_microseg.plugins.kube import KubeSource
from kubectl_microseg.tui.app import MicrosegApp
from kubectl_microseg.tui.screens.probe import ProbeScreen
from tests.tui.conftest import SIZE, put_cursor, wait_for, wait_loaded

from .test_probe_fakeapi import probe_containers


async def test_r_shows_the_plan_and_enter_runs_it(cluster, network):
    source = KubeSource()
    app = MicrosegApp(source, argparse.Namespace(probe_image="nicolaka/netshoot"), live=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot)
            put_cursor(app, "shop/api", "shop/db")
            await pilot.press("r")
            screen = app.screen
            assert isinstance(screen, ProbeScreen)
            assert "allow shop/api -> shop/db TCP/5433   $ timeout 4 nc -z -v -w 3 10.244.1.30 5433" in screen.text
            assert "Enter runs them" in screen.text
            assert not cluster.requests_matching(resource="pods/ephemeralcontainers")  # nothing before Enter
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.state == "done", timeout=20)
            assert "DISAGREE  allow  deny     shop/api -> shop/db TCP/5433" in screen.text
            assert "likely cause: Cilium does not implement endPort" in screen.text
            assert probe_containers(cluster)["api"][0][1] == "terminated"
            await pilot.press("escape")
            assert not isinstance(app.screen, ProbeScreen)
    finally:
        source.close()


async def test_without_a_way_to_probe_the_plan_says_how(cluster, network):
    source = KubeSource()
    app = MicrosegApp(source, argparse.Namespace(), live=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot)
            put_cursor(app, "shop/frontend", "shop/api")
            await pilot.press("r")
            assert "start the TUI with --probe-image IMAGE" in app.screen.text
            await pilot.press("enter")
            assert app.screen.state == "plan" and not cluster.runtime.calls
    finally:
        source.close()


async def test_the_demo_is_not_a_live_cluster():
    from kubectl_microseg.plugins.demo import DemoSource

    demo_app = MicrosegApp(DemoSource())
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        put_cursor(demo_app, "production/frontend", "production/api-server")
        await pilot.press("r")
        assert isinstance(demo_app.screen, ProbeScreen)
        # the demo has pod templates, no running pods: nothing to send from, and it says so
        assert "nothing to probe: production/frontend has no running pod with an IP" in demo_app.screen.text

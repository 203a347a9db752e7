"""Stopping `rag serve` (Ctrl-C, or SIGTERM from a service manager) while a browser tab is
open: it exits within seconds, not after the tab's heartbeat stream gives up."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import copy_index
from tests.ui.conftest import open_page, start_server

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.server]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_with_an_open_tab_ends_the_server_within_seconds(
    browser, corpus_index_template: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    server = start_server(copy_index(corpus_index_template, tmp_path / "data"))
    page = open_page(browser, server.url)
    try:
        started = time.monotonic()
        server.proc.send_signal(stop)
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"rag serve still ran 10 s after {stop.name}:\n{server.log()}")
        took = time.monotonic() - started
        assert server.proc.returncode is not None
        assert took < 8, f"stopping took {took:.1f} s"
    finally:
        page.context.close()
        server.stop()

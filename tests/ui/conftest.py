"""Fixtures for the web tests: an index of the default corpus and a real `rag serve` process.

The index is built once per session in a temporary data dir by `rag index` (a copy of the
session's `corpus_index_template`), and the server is
started as a user would start it (`rag serve --port 0`, the printed URL tells the port), with
RAG_DATA_DIR pointing at that index and an API key required on /v1.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from index import offline
from tests.conftest import copy_index

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
API_KEY = "test-key-0123456789"
URL_LINE = re.compile(r"ragchat is running on (http://\S+?)/?$")
START_LIMIT_S = 300  # a guard against a hung start, not a speed target


def offline_env(**extra: str) -> dict[str, str]:
    """index.offline's child environment, unbuffered so the server's lines arrive as printed."""
    return offline.offline_env(None, **({"PYTHONUNBUFFERED": "1"} | extra))


def rag(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    url: str = ""
    api_key: str = ""
    output: list[str] = field(default_factory=list)

    def log(self) -> str:
        return "".join(self.output[-60:])

    def stop(self) -> None:
        """SIGTERM (`rag serve` waits at most 3 s for open streams); SIGKILL after 20 s."""
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(
    data_dir: Path, *args: str, host: str | None = "127.0.0.1", **env: str
) -> ServerProcess:
    """`rag serve --port 0 ARGS` on `host` (None: no --host, the default address); returns
    once it printed its URL."""
    where = ["--host", host] if host is not None else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", *where, "--port", "0", *args],
        env=offline_env(RAG_DATA_DIR=str(data_dir), **env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = ServerProcess(proc)
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            server.output.append(line)
            match = URL_LINE.search(line.strip())
            if match and not server.url:
                server.url = match.group(1)
                ready.set()
        ready.set()  # the process ended

    threading.Thread(target=read, daemon=True).start()
    ready.wait(START_LIMIT_S)
    if not server.url:
        server.stop()
        pytest.fail(f"rag serve did not start:\n{server.log()}")
    return server


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory, corpus_index_template: Path) -> Path:
    """A data dir holding an index of the default corpus (one per session, for rag_server)."""
    return copy_index(corpus_index_template, tmp_path_factory.mktemp("ui-index") / "data")


@pytest.fixture(scope="session")
def rag_server(corpus_index: Path) -> Iterator[ServerProcess]:
    """One `rag serve` for the API and browser tests (extractive by default, key on /v1).

    Browser tests upload into its index, so nothing else may rely on that index staying put.
    """
    server = start_server(corpus_index, "--backend", "extractive", RAG_API_KEY=API_KEY)
    server.api_key = API_KEY
    yield server
    server.stop()


# ---------------------------------------------------------------- browser helpers
# The `browser` fixture (one headless Chromium per module) is in tests/conftest.py.
ANSWER_WAIT_MS = 300_000  # a guard against a hung answer, not a speed target
VIEWPORT = {"width": 1400, "height": 1000}


def open_page(browser, url: str, user: str | None = None, **context):
    """A page in a new browser context (its own Gradio session) at `url`, once the chat has
    loaded; `user` logs in with basic auth (password `pw-USER`), `context` adds options."""
    if user:
        context["http_credentials"] = {"username": user, "password": f"pw-{user}"}
    page = browser.new_context(**({"viewport": VIEWPORT} | context)).new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector("#question textarea")
    page.wait_for_selector("#index-status .rag-index-status")  # the page finished loading
    return page


@pytest.fixture(scope="session")
def server(rag_server: ServerProcess) -> ServerProcess:
    """The server the `page` fixture opens: the shared one, unless a test module overrides
    this fixture with its own (e.g. on a copy of the index it may change)."""
    return rag_server


@pytest.fixture
def page(browser, server: ServerProcess) -> Iterator:
    page = open_page(browser, server.url)
    yield page
    page.context.close()


def upload(page, *paths: Path) -> str:
    """Add files through "Add documents"; the result panel's text once they are indexed.

    It waits for final states only: first the file input holding every transferred file (its
    preview lists them; `set_input_files` returns while they are still "Uploading"), then the
    end of the upload event (its handler empties the input as it writes the result). Indexing
    takes as long as the machine's load makes it, so that wait has the answers' hang guard.
    """
    if not page.locator("#upload-files").is_visible():
        page.click("#uploads")  # the "Add documents" accordion
    page.locator("#upload-files input[type=file]").set_input_files([str(p) for p in paths])
    for path in paths:
        page.wait_for_selector(f'#upload-files .file-preview td[aria-label="{path.name}"]')
    page.click("#upload-button")
    page.wait_for_selector("#upload-files [data-testid=upload-text]", timeout=ANSWER_WAIT_MS)
    return page.inner_text("#upload-result")


def ask(page, question: str):
    """Type a question, send it, and return the final answer bubble's locator."""
    done = page.locator("#chat .rag-meta").count()
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .rag-meta').length > n",
        arg=done,
        timeout=ANSWER_WAIT_MS,
    )
    return page.locator("#chat .rag-meta").nth(done).locator("xpath=..")

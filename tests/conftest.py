"""Shared test fixtures. Keep this small and general; add yours in a marked section."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from index.offline import OFFLINE_VARIABLES

# ---------------------------------------------------------------- offline environment, data dir
# Nothing may download or phone home, in this process or in the subprocesses tests start
# (they inherit os.environ): the offline variables are forced on, whatever the shell set.
os.environ.update(OFFLINE_VARIABLES)

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_ROOT / "corpus"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty index folder (never the project's own .rag)."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the five default corpus files."""
    import shutil

    target = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, target)
    return target


@pytest.fixture
def index_settings(data_dir: Path):
    """Document-side settings pointing at the temporary data dir (defaults otherwise)."""
    from index.config import IndexSettings

    return IndexSettings(data_dir=data_dir)


# ---------------------------------------------------------------- figures printed at the end
# Reliability and benchmark tests report figures (runs, mismatches, matrices, latencies) with
# the `figures` fixture; they are printed in one block after the test summary, so they show in
# `make test` output even though pytest captures test output.
_FIGURES: list[tuple[str, list[str]]] = []


class Figures:
    """Collects the lines one test wants printed under a heading at the end of the run."""

    def __init__(self, heading: str) -> None:
        self.lines: list[str] = []
        _FIGURES.append((heading, self.lines))

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def table(self, header: list[str], rows: list[list[object]]) -> None:
        """Add a plain-text table with columns padded to their widest cell."""
        cells = [header] + [[str(c) for c in row] for row in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        for n, row in enumerate(cells):
            self.add("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            if n == 0:
                self.add("  ".join("-" * w for w in widths))


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """Figures for this test, printed under its name at the end of the run."""
    return Figures(request.node.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    printed = [(heading, lines) for heading, lines in _FIGURES if lines]
    if not printed:
        return
    terminalreporter.section("figures")
    for heading, lines in printed:
        terminalreporter.write_line(heading)
        for line in lines:
            terminalreporter.write_line(f"    {line}")


# ---------------------------------------------------------------- (others: add fixtures below)


# ---------------------------------------------------------------- one index of corpus/ per session
# Several modules serve or query an index of the five corpus files. `rag index` builds it once
# per session; each module takes its own copy (`copy_index`), so none sees another's
# uploads or conversations, and the same files are not embedded again for each.
@pytest.fixture(scope="session")
def corpus_index_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding `rag index corpus/`'s index (never served or written to: copy it)."""
    import subprocess
    import sys

    from index.offline import offline_env

    data_dir = tmp_path_factory.mktemp("corpus-index") / "data"
    env = offline_env(RAG_DATA_DIR=str(data_dir))
    env.pop("RAG_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "index", str(CORPUS_DIR)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return data_dir


def copy_index(template: Path, target: Path) -> Path:
    """A copy of the index in `template` at `target` (a new data dir), returned."""
    import shutil

    shutil.copytree(template, target)
    return target


# ---------------------------------------------------------------- browser (Playwright + Chromium)
# The browser tests (tests/ui, tests/reliability) drive Debian's Chromium headless. One browser
# per test module; each test opens its own context, so its own cookies and Gradio session.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through Playwright (skipped without Playwright, failed without
    Chromium)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `make browser` (apt-get install chromium).")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()

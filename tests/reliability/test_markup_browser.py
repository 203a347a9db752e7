"""Markup from documents never runs in the web page: a real `rag serve` and Chromium.

A copy of the default corpus plus two hostile documents (a .txt with <script>, <img onerror>,
an <a href="javascript:..."> and a markdown image to a remote host; a .md with a javascript:
markdown link and an HTML comment) is indexed by `rag index` and served by `rag serve` with
the extractive backend, whose answers quote document sentences verbatim (so the hostile text
travels through the streamed answer, the final answer and the sources panel). In headless
Chromium the test asks about each document, opens the cited passage, hovers and clicks it,
and checks that nothing ran (window.__pwned stays undefined, no dialog opened, no request went
to the remote host, no script/img/link element or event handler was created) and that the
markup is shown as text.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.ui.conftest import ServerProcess, ask, offline_env, rag, start_server

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.reliability, pytest.mark.browser, pytest.mark.server, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = "<script>window.__pwned=1;alert('script')</script>"
ONERROR = "<img src=x onerror=\"window.__pwned=2;alert('img')\">"
JS_LINK = "<a href=\"javascript:window.__pwned=3;alert('link')\">the harbour map</a>"
REMOTE_IMAGE = "![tracker](http://evil.example/pixel.png?q=harbour)"
HARBOUR = (
    "Quillon Harbour Report\n\n"
    f"The Quillon harbour master is Dagny Ferro {SCRIPT}. "
    f"The Quillon harbour crane was built by Osric Vell {ONERROR}. "
    f"The Quillon harbour timetable is printed on {JS_LINK} every spring. {REMOTE_IMAGE}\n"
)
MD_LINK = "[the keeper's log](javascript:window.__pwned=4)"
LIGHTHOUSE = (
    "# Brannock Lighthouse\n\n"
    f"The Brannock lighthouse keeper is Ysolde Marrow; read {MD_LINK} for her notes. "
    "<!-- <script>window.__pwned=5</script> --> "
    '<svg onload="window.__pwned=6"></svg> The Brannock lighthouse was lit in 1852.\n'
)
LIVE_SELECTOR = (
    "script, img, svg[onload], a[href^='javascript'], [onerror], [onload], [onmouseover], [onclick]"
)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("markup")
    docs = base / "docs"
    shutil.copytree(ROOT / "corpus", docs)
    (docs / "quillon_harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (docs / "brannock_lighthouse.md").write_text(LIGHTHOUSE, encoding="utf-8")
    data_dir = base / "data"
    done = rag("index", str(docs), env=offline_env(RAG_DATA_DIR=str(data_dir)))
    assert done.returncode == 0, done.stderr + done.stdout
    server = start_server(data_dir, "--backend", "extractive")
    yield server
    server.stop()


class Watched:
    """A page plus everything that would show that hostile markup ran."""

    def __init__(self, page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.remote: list[str] = []
        page.on("dialog", self._dialog)
        page.on("request", self._request)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request) -> None:
        # the hostile images: a remote tracker, and src=x (which would fire onerror)
        if "evil.example" in request.url or urlsplit(request.url).path == "/x":
            self.remote.append(request.url)

    def pwned(self):
        return self.page.evaluate("() => window.__pwned")


@pytest.fixture
def watched(browser, hostile_server) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    watched = Watched(page)
    page.goto(hostile_server.url)
    page.wait_for_selector("#question textarea")
    page.wait_for_selector("#index-status .rag-index-status")
    yield watched
    context.close()


def open_cited_passage(page, source: str):
    """The sources panel's card for `source`, scrolled into view, hovered and clicked."""
    card = page.locator("#sources .rag-source", has_text=source).first
    card.scroll_into_view_if_needed()
    card.hover()
    card.click()
    card.locator(".rag-passage").click()
    return card


def assert_nothing_ran(watched: Watched) -> None:
    page = watched.page
    page.wait_for_timeout(500)  # give an onerror/onload handler the chance to fire
    assert watched.pwned() is None
    assert watched.dialogs == []
    assert watched.remote == []
    assert page.locator(f"#chat :is({LIVE_SELECTOR})").count() == 0
    assert page.locator(f"#sources :is({LIVE_SELECTOR})").count() == 0


def test_script_img_and_javascript_link_from_a_document_do_not_run(watched: Watched):
    page = watched.page
    bubble = ask(page, "Who is the Quillon harbour master?")
    assert "Dagny Ferro" in bubble.inner_text()
    card = open_cited_passage(page, "quillon_harbour.txt")
    passage = card.locator(".rag-passage").inner_text()
    # the markup is there for the reader to see, as text
    assert SCRIPT in passage and ONERROR in passage and JS_LINK in passage
    assert_nothing_ran(watched)
    crane = ask(page, "Who built the Quillon harbour crane?")
    assert "Osric Vell" in crane.inner_text()
    assert "onerror" not in crane.inner_text()  # the answer is plain text
    open_cited_passage(page, "quillon_harbour.txt")
    assert_nothing_ran(watched)


def test_markdown_link_comment_and_svg_from_a_document_do_not_run(watched: Watched):
    page = watched.page
    bubble = ask(page, "Who is the Brannock lighthouse keeper?")
    assert "Ysolde Marrow" in bubble.inner_text()
    assert "javascript:" not in bubble.inner_text()
    card = open_cited_passage(page, "brannock_lighthouse.md")
    assert "Ysolde Marrow" in card.inner_text()
    for link in page.locator("#chat a, #sources a").all():
        href = link.get_attribute("href") or ""
        assert not href.lower().startswith("javascript"), href
    assert_nothing_ran(watched)

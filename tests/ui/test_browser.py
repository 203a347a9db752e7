"""The web chat in a real browser: Debian's Chromium, headless, driven by Playwright.

Each test opens its own page (its own Gradio session) on the shared `rag serve` from
conftest.py, which answers with the extractive backend unless a test switches it.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests.ui.conftest import ANSWER_WAIT_MS, ask

playwright_api = pytest.importorskip("playwright.sync_api")

expect = playwright_api.expect
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.server]

ROOT = Path(__file__).resolve().parents[2]


def choose_backend(page, name: str) -> None:
    page.locator("#backend input").click()
    page.get_by_role("option", name=name).first.click()
    page.wait_for_function(
        "n => document.querySelector('#backend input').value.startsWith(n)", arg=name
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cited_answer_with_highlighted_sources(page):
    bubble = ask(page, "Who is the director of the SVR?")
    text = bubble.inner_text()
    assert "Naryshkin" in text and "[1]" in text
    assert "extractive ·" in text
    marks = page.locator("#sources mark")
    assert marks.count() >= 1
    highlighted = " ".join(marks.all_inner_texts())
    assert "Naryshkin" in highlighted
    first_file = page.locator("#sources .rag-source-file").first.inner_text()
    assert "naryshkin" in (ROOT / "corpus" / first_file).read_text(encoding="utf-8").lower()
    page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=True)


def test_examples_come_from_the_titles_and_follow_ups_use_the_conversation(page):
    page.locator("#examples").get_by_text("What is “", exact=False).first.click()
    box = page.locator("#question textarea")
    expect(box).to_have_value(re.compile("^What is “.+” about[?]$"))
    title = box.input_value().removeprefix("What is “").removesuffix("” about?")
    corpus = [p.read_text(encoding="utf-8") for p in (ROOT / "corpus").iterdir()]
    assert any(title in document for document in corpus)  # a title of the indexed corpus
    page.click("#ask")
    page.wait_for_selector("#chat .rag-meta", timeout=ANSWER_WAIT_MS)
    assert page.locator("#chat .rag-error").count() == 0
    page.click("#clear")
    page.wait_for_function("() => !document.querySelector('#chat .rag-meta')")
    ask(page, "Who is the director of the SVR?")
    follow_up = ask(page, "Who did he speak with?")
    # alone, "he" names nobody; with the conversation it is the SVR director
    assert "Ratcliffe" in follow_up.inner_text()
    assert page.locator("#sources .rag-source").count() >= 1
    page.click("#clear")
    page.wait_for_function("() => !document.querySelector('#chat .rag-meta')")
    fresh = ask(page, "Who did he speak with?")
    assert "Ratcliffe" not in fresh.inner_text()


def test_two_users_have_their_own_conversations(page, browser, rag_server):
    """A second browser session does not see, or inherit, the first one's conversation."""
    ask(page, "Who is the director of the SVR?")
    other_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = other_context.new_page()
        other.set_default_timeout(60_000)
        other.goto(rag_server.url)
        other.wait_for_selector("#index-status .rag-index-status")
        assert other.locator("#chat .rag-meta").count() == 0  # starts empty
        alone = ask(other, "Who did he speak with?")
        assert "Ratcliffe" not in alone.inner_text()  # no history from the first user
        follow_up = ask(page, "Who did he speak with?")
        assert "Ratcliffe" in follow_up.inner_text()  # the first user's history is intact
        assert page.locator("#chat .rag-meta").count() == 2
    finally:
        other_context.close()


def test_out_of_corpus_question_shows_the_abstention(page):
    bubble = ask(page, "Who won the 2022 World Cup?")
    assert bubble.locator(".rag-abstain").count() == 1
    assert bubble.locator(".rag-error").count() == 0
    assert "could not find" in bubble.inner_text()
    assert page.locator("#sources .rag-abstain").count() == 1
    assert page.locator("#sources mark").count() == 0


def test_stopped_openai_backend_shows_the_error_and_the_app_keeps_working(page):
    choose_backend(page, "openai")
    page.fill("#base-url textarea, #base-url input", f"http://127.0.0.1:{closed_port()}/v1")
    bubble = ask(page, "Who is the director of the SVR?")
    assert bubble.locator(".rag-error").count() == 1
    assert "openai ·" in bubble.inner_text()
    choose_backend(page, "extractive")
    again = ask(page, "Who is the director of the SVR?")
    assert "Naryshkin" in again.inner_text() and "extractive ·" in again.inner_text()


def test_upload_a_document_then_ask_about_it(page, tmp_path: Path):
    doc = tmp_path / "zorblax treaty.md"
    doc.write_text(
        "# The Zorblax Treaty\n\nThe Zorblax Treaty was signed in Tallinn by Admiral Kestrel "
        "Vance on 3 March 2031. It limits the number of weather balloons over the Baltic Sea.\n",
        encoding="utf-8",
    )
    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ\x00")
    page.get_by_text("Add documents", exact=True).click()
    page.set_input_files("#upload-files input[type=file]", [str(doc), str(bad)])
    page.click("#upload-button")
    page.wait_for_selector("#upload-result table", timeout=ANSWER_WAIT_MS)
    result = page.inner_text("#upload-result")
    assert "zorblax treaty.md" in result and "added" in result
    assert "notes.exe" in result and "unsupported file type" in result
    bubble = ask(page, "Who signed the Zorblax Treaty?")
    assert "Kestrel Vance" in bubble.inner_text()
    assert "zorblax treaty.md" in page.inner_text("#sources")


@pytest.mark.slow
def test_switching_to_llama_cpp_streams_an_answer_naming_the_backend(page):
    first = ask(page, "Who is the director of the SVR?")
    assert "extractive ·" in first.inner_text()
    choose_backend(page, "llama-cpp")
    page.fill("#question textarea", "Who is the director of the SVR?")
    page.click("#ask")
    page.wait_for_selector("#chat .rag-streaming", timeout=ANSWER_WAIT_MS)
    page.wait_for_function(
        "() => document.querySelectorAll('#chat .rag-meta').length > 1", timeout=ANSWER_WAIT_MS
    )
    second = page.locator("#chat .rag-meta").nth(1)
    assert second.inner_text().startswith("llama-cpp · ")
    assert "gguf" in second.inner_text().lower()

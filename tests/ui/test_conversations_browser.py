"""Saved conversations and feedback in a real browser (Debian Chromium via Playwright):
reopen after reload, rename, delete, export, thumbs down with a note then `rag eval
--export-feedback`, two basic-auth users kept apart, and a `rag serve` restart."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evals.suite import load_suite
from tests.ui.conftest import (
    ANSWER_WAIT_MS,
    ServerProcess,
    ask,
    offline_env,
    open_page,
    rag,
    start_server,
)
from tests.ui.test_browser import choose_backend
from ui.conversations import LOCAL_USER, ConversationStore
from ui.feedback import FeedbackStore
from ui.state_db import db_path

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Who is the director of the SVR?"


def listed(page, title: str):
    return page.locator("#conversation-list label", has_text=title)


def rename_to(page, title: str) -> None:
    page.fill("#conversation-title input, #conversation-title textarea", title)
    page.click("#rename-conversation")
    expect(listed(page, title)).to_have_count(1)


def reopen(page, title: str) -> None:
    listed(page, title).click()
    page.wait_for_selector("#chat .rag-meta", timeout=ANSWER_WAIT_MS)


def test_reopen_after_reload_rename_export_and_delete(page):
    bubble = ask(page, QUESTION)
    answer, sources = bubble.inner_text(), page.inner_text("#sources")
    assert "Naryshkin" in answer
    expect(listed(page, QUESTION).first).to_be_visible()  # titled by its first question
    title = f"SVR notes {uuid.uuid4().hex[:6]}"
    rename_to(page, title)
    page.reload()
    page.wait_for_selector("#index-status .rag-index-status")
    assert page.locator("#chat .rag-meta").count() == 0  # a fresh chat after reload
    reopen(page, title)
    again = page.locator("#chat .rag-meta").first.locator("xpath=..")
    assert again.inner_text() == answer  # the same answer bubble, flags and backend line
    assert page.inner_text("#sources") == sources  # and the same highlighted sources
    expect(page.locator("#conversation-title input, #conversation-title textarea")).to_have_value(
        title
    )
    page.screenshot(path=str(ROOT / "docs" / "screenshot-conversations.png"), full_page=True)
    page.click("#export-conversation")
    expect(page.locator("#export-file")).to_contain_text(".md")
    follow_up = ask(page, "Who did he speak with?")  # the reopened history is used
    assert "Ratcliffe" in follow_up.inner_text()
    page.click("#delete-conversation")
    expect(listed(page, title)).to_have_count(0)
    assert page.locator("#chat .rag-meta").count() == 0
    page.reload()
    page.wait_for_selector("#index-status .rag-index-status")
    expect(listed(page, title)).to_have_count(0)


def test_enter_sends_shift_enter_adds_a_line_and_copy_takes_the_sources(page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    box = page.locator("#question textarea")
    box.click()
    page.keyboard.type("Who is the director")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("of the SVR?")
    expect(box).to_have_value("Who is the director\nof the SVR?")
    assert page.locator("#chat .rag-meta").count() == 0  # Shift+Enter did not send
    page.keyboard.press("Enter")
    page.wait_for_selector("#chat .rag-meta", timeout=ANSWER_WAIT_MS)
    bubble = page.locator("#chat .rag-answer").last.inner_text()
    assert "Naryshkin" in bubble
    expect(box).to_have_value("")
    assert page.evaluate("() => document.activeElement?.closest('#question') !== null")
    page.click("#copy-answer")
    copied, deadline = "", time.monotonic() + 30
    while not copied and time.monotonic() < deadline:  # the copy lands after a round trip
        time.sleep(0.2)
        copied = page.evaluate("() => navigator.clipboard.readText()")
    answer, _, sources = copied.partition("\n\nSources:\n")
    # plain text, not the bubble's markup
    assert answer == bubble and "<" not in answer, copied
    assert sources.startswith("[1] ") and ".txt: “" in sources


class SlowModel(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that streams one word every 0.3 s, for a minute."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # /v1/models, for the backend's status check
        body = json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            for i in range(200):
                delta = {"choices": [{"index": 0, "delta": {"content": f"word{i} "}}]}
                self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.3)
        except OSError:  # the client went away: what Stop should cause
            pass


@pytest.fixture
def slow_model() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowModel)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_stop_ends_the_answer_and_keeps_the_question(page, slow_model):
    choose_backend(page, "openai")
    page.fill("#base-url textarea, #base-url input", slow_model)
    page.fill("#question textarea", QUESTION)
    page.click("#ask")
    page.wait_for_function(
        "() => (document.querySelector('#chat .rag-streaming')?.innerText || '').includes('word3')",
        timeout=ANSWER_WAIT_MS,
    )
    page.click("#stop")
    time.sleep(1)
    stopped = page.locator("#chat .rag-streaming").inner_text()
    time.sleep(2)
    assert page.locator("#chat .rag-streaming").inner_text() == stopped  # no more words
    assert "word150" not in stopped
    # the question was kept: its conversation is listed and selected
    expect(page.locator("#conversation-list label:has(input:checked)")).to_have_text(QUESTION)
    choose_backend(page, "extractive")
    assert "Naryshkin" in ask(page, "Who is the director of the SVR?").inner_text()


def test_search_finds_a_conversation_by_its_message_text(page):
    ask(page, "When did the CIA and SVR chiefs speak?")
    title = f"call date {uuid.uuid4().hex[:6]}"
    rename_to(page, title)
    page.fill("#conversation-search input, #conversation-search textarea", "zzz-no-such-text")
    expect(listed(page, title)).to_have_count(0)
    # renamed, so only the question's text (not the title) can match
    page.fill("#conversation-search input, #conversation-search textarea", "cia AND svr chiefs")
    expect(listed(page, title)).to_have_count(1)


def test_thumbs_down_with_a_note_exports_a_suite_rag_eval_loads(page, corpus_index, tmp_path):
    ask(page, "Who did the SVR director speak with?")
    page.locator("#chat").get_by_label("Dislike").last.click()
    note = f"wrong person {uuid.uuid4().hex[:6]}"
    page.fill("#feedback-note textarea, #feedback-note input", note)
    page.click("#save-note")
    expect(page.locator("#feedback-note-row")).to_be_hidden()
    out = tmp_path / "feedback.yaml"
    env = offline_env(RAG_DATA_DIR=str(corpus_index))
    done = rag("eval", "--export-feedback", str(out), env=env, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    cases = [c for c in load_suite(out).cases if (c.model_extra or {}).get("note") == note]
    assert len(cases) == 1
    case = cases[0]
    assert case.question == "Who did the SVR director speak with?" and case.answers == []
    assert case.model_extra["cited_sources"] and case.model_extra["backend"] == "extractive"


def _send(page, question: str) -> None:
    """Type and send a question without waiting for its answer."""
    page.fill("#question textarea", question)
    page.click("#ask")


def _answered(page, n: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .rag-meta').length >= n", arg=n,
        timeout=ANSWER_WAIT_MS,
    )  # fmt: skip


def test_two_sessions_asking_and_rating_at_once_lose_nothing(browser, rag_server, corpus_index):
    """Two browser sessions send their questions, thumbs-downs and notes at the same moments
    (each action is sent on both pages before either is waited for)."""
    tag = uuid.uuid4().hex[:8]
    asked = {
        "a": ["Who is the director of the SVR?", "Who did he speak with?"],
        "b": ["Who heads the CIA?", "Why are U.S. allies rethinking intelligence sharing?"],
    }
    pages = {name: open_page(browser, rag_server.url) for name in asked}
    for turn in range(2):
        for name, page in pages.items():
            _send(page, asked[name][turn])
        for page in pages.values():
            _answered(page, turn + 1)
        for page in pages.values():
            page.locator("#chat").get_by_label("Dislike").last.click()
        for name, page in pages.items():
            page.fill("#feedback-note textarea, #feedback-note input", f"{tag} {name}{turn}")
        for page in pages.values():
            page.click("#save-note")
        for page in pages.values():
            expect(page.locator("#feedback-note-row")).to_be_hidden()
    for name, page in pages.items():  # each session kept its own conversation
        other = "b" if name == "a" else "a"
        chat = page.inner_text("#chat")
        assert all(q in chat for q in asked[name]) and asked[other][0] not in chat
        page.context.close()

    store = ConversationStore.open(db_path(corpus_index))
    rated = {r.note: r for r in FeedbackStore(store.db).records(rating=-1) if tag in r.note}
    assert sorted(rated) == sorted(f"{tag} {n}{t}" for n in asked for t in range(2))
    for name, questions in asked.items():
        first, second = rated[f"{tag} {name}0"], rated[f"{tag} {name}1"]
        assert first.conversation_id == second.conversation_id  # one conversation per session
        assert (first.question, second.question) == tuple(questions)
        messages = store.messages(LOCAL_USER, first.conversation_id)
        assert [m.role for m in messages] == ["user", "assistant"] * 2
        assert [m.content for m in messages[::2]] == questions
        assert [m.id for m in messages[1::2]] == [first.message_id, second.message_id]
        assert [m.content for m in messages[1::2]] == [first.answer, second.answer]


# --- two users with --auth, and a restart --------------------------------------------------


@pytest.fixture(scope="module")
def auth_dir(corpus_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session index, so this module's servers can stop and start freely."""
    target = tmp_path_factory.mktemp("auth-index") / "data"
    shutil.copytree(corpus_index, target, ignore=shutil.ignore_patterns("webapp.sqlite3*"))
    return target


def _auth_server(data_dir: Path) -> ServerProcess:
    return start_server(
        data_dir, "--backend", "extractive", "--auth", "ann:pw-ann", "--auth", "bob:pw-bob"
    )


def test_users_see_only_their_own_conversations_also_after_a_restart(browser, auth_dir):
    server = _auth_server(auth_dir)
    try:
        ann = open_page(browser, server.url, "ann")
        ask(ann, QUESTION)
        rename_to(ann, "ann's SVR question")
        bob = open_page(browser, server.url, "bob")
        ask(bob, "Why are U.S. allies rethinking intelligence sharing?")
        rename_to(bob, "bob's allies question")
        expect(listed(bob, "ann's")).to_have_count(0)
        bob.reload()
        bob.wait_for_selector("#index-status .rag-index-status")
        expect(listed(bob, "bob's allies question")).to_have_count(1)
        expect(listed(bob, "ann's")).to_have_count(0)
        ann.reload()
        ann.wait_for_selector("#index-status .rag-index-status")
        expect(listed(ann, "bob's")).to_have_count(0)
        answer = ann.locator("#chat .rag-meta").count()
        assert answer == 0
        ann.context.close()
        bob.context.close()
    finally:
        server.stop()
    server = _auth_server(auth_dir)
    try:
        ann = open_page(browser, server.url, "ann")
        reopen(ann, "ann's SVR question")
        assert "Naryshkin" in ann.locator("#chat .rag-meta").first.locator("xpath=..").inner_text()
        assert "Naryshkin" in " ".join(ann.locator("#sources mark").all_inner_texts())
        expect(listed(ann, "bob's")).to_have_count(0)
        ann.context.close()
    finally:
        server.stop()

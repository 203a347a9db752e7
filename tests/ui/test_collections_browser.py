"""Collections in a real browser (Debian Chromium via Playwright), the CLI and the API, against
a real `rag serve` on a copy of the session index: a collection created in the page and
filled by an upload answers from its own documents only, the default collection never cites
them, a conversation stays bound to its collection, and deleting one asks first."""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.conftest import (
    ANSWER_WAIT_MS,
    ServerProcess,
    ask,
    offline_env,
    rag,
    start_server,
    upload,
)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.server]
NOTE = (
    "Zorblax Station\n\nThe Zorblax research station has been commanded by Captain Ilse Varga "
    "since 2031. It studies krill populations in the Weddell Sea.\n"
)
ZORBLAX = "Who commands the Zorblax research station?"
SVR = "Who is the director of the SVR?"


@pytest.fixture(scope="module")
def data_dir(corpus_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("collections-index") / "data"
    shutil.copytree(corpus_index, target, ignore=shutil.ignore_patterns("webapp.sqlite3*"))
    return target


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[ServerProcess]:
    server = start_server(data_dir, "--backend", "extractive")
    yield server
    server.stop()


def picked(page) -> str:
    return page.locator("#collection input").input_value()


def pick(page, name: str) -> None:
    page.locator("#collection input").click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(page.locator("#collection input")).to_have_value(name)


def create(page, name: str) -> None:
    page.fill("#new-collection textarea, #new-collection input", name)
    page.click("#create-collection")
    expect(page.locator("#collection-result")).to_contain_text(f"Created the collection {name}")
    expect(page.locator("#collection input")).to_have_value(name)


def cited_files(page) -> list[str]:
    return [f.split(",")[0] for f in page.locator("#sources .rag-source-file").all_inner_texts()]


def test_a_collection_made_from_an_upload_answers_from_its_own_documents(
    page, data_dir, server, tmp_path
):
    name = f"notes-{uuid.uuid4().hex[:6]}"
    create(page, name)
    note = tmp_path / "zorblax.txt"
    note.write_text(NOTE, encoding="utf-8")
    assert "zorblax.txt\tadded" in upload(page, note)
    assert "1 documents" in page.inner_text("#index-status")  # written with the result
    assert (data_dir / "collections" / name / "manifest.json").is_file()

    assert "Ilse Varga" in ask(page, ZORBLAX).inner_text()
    assert cited_files(page) == ["zorblax.txt"]
    ask(page, SVR)  # the default collection's documents are not searched here
    assert cited_files(page) == [] and "Naryshkin" not in page.inner_text("#chat")

    page.get_by_role("tab", name="Library").click()
    expect(page.locator("#library-table")).to_contain_text("zorblax.txt")
    expect(page.locator("#library-table")).not_to_contain_text("000_")
    page.get_by_role("tab", name="Chat").click()

    pick(page, "default")  # another collection: a new conversation
    page.wait_for_function("() => !document.querySelector('#chat .rag-meta')")
    assert "Ilse Varga" not in ask(page, ZORBLAX).inner_text()
    assert "zorblax.txt" not in cited_files(page)
    assert "Naryshkin" in ask(page, SVR).inner_text()

    # the list names each conversation's collection (none named: the default one)
    expect(page.locator("#conversation-list label")).to_have_text([ZORBLAX, f"{ZORBLAX} · {name}"])
    page.locator("#conversation-list label", has_text=f"· {name}").click()  # the first one
    expect(page.locator("#collection input")).to_have_value(name)  # reopened in its collection
    expect(page.locator("#chat")).to_contain_text("Ilse Varga")
    uploaded = data_dir / "collections" / name / "uploads" / "zorblax.txt"
    assert uploaded.is_file()

    env = offline_env(RAG_DATA_DIR=str(data_dir))
    done = rag("ask", ZORBLAX, "--collection", name, "--json", env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Ilse Varga" in json.loads(done.stdout)["answer"]
    for collection, cites in ((name, True), ("default", False)):
        body = {
            "model": "extractive",
            "messages": [{"role": "user", "content": ZORBLAX}],
            "ragchat": {"collection": collection},
        }
        request = urllib.request.Request(
            f"{server.url.rstrip('/')}/v1/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            reply = json.load(response)
        cited = [c["source"] for c in reply["citations"]]
        assert (cited == ["zorblax.txt"]) is cites, reply

    # deleting the uploaded document from the collection's library removes its saved copy too
    page.get_by_role("tab", name="Library").click()
    page.locator("#library-document input").click()
    page.get_by_role("option", name="Zorblax Station (zorblax.txt)").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#library-delete")
    # the notice is written when the document has left the index and the assistant reloaded
    page.wait_for_selector("#library-result .rag-notice", timeout=ANSWER_WAIT_MS)
    assert "Deleted zorblax.txt and its uploaded copy" in page.inner_text("#library-result")
    assert not uploaded.exists()
    page.get_by_role("tab", name="Chat").click()
    ask(page, ZORBLAX)
    assert "zorblax.txt" not in cited_files(page)


def test_deleting_a_collection_asks_first(page, data_dir, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "zorblax.txt").write_text(NOTE, encoding="utf-8")
    env = offline_env(RAG_DATA_DIR=str(data_dir))
    done = rag("index", str(tmp_path / "docs"), "--collection", name, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    page.reload()
    page.wait_for_selector("#index-status .rag-index-status")
    pick(page, name)  # made by the CLI, listed by the page
    expect(page.locator("#index-status")).to_contain_text("1 documents")
    folder = data_dir / "collections" / name

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#delete-collection")
    expect(page.locator("#collection-result")).to_contain_text("Cancelled")
    assert folder.is_dir() and picked(page) == name  # cancelled: nothing happened

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-collection")
    expect(page.locator("#collection-result")).to_contain_text(f"Deleted the collection {name}")
    expect(page.locator("#collection input")).to_have_value("default")
    assert not folder.exists()
    page.locator("#collection input").click()
    expect(page.get_by_role("option", name=name, exact=True)).to_have_count(0)
    done = rag("ask", ZORBLAX, "--collection", name, env=env, timeout=300)
    assert done.returncode == 2 and "unknown collection" in done.stderr

"""The document library, the feedback view, phone width and dark mode in a real browser
(Debian Chromium via Playwright) against a real `rag serve` on a copy of the session index:
a citation opens its document with the cited span highlighted, the table sorts and filters,
a deleted document leaves both stores and the manifest and is not cited again, a re-indexed
one comes back with the same chunks."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.config import IndexSettings
from index.manifest import Manifest
from index.store import open_index
from tests.ui.conftest import ANSWER_WAIT_MS, ServerProcess, ask, open_page, start_server

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
QUESTION = "Who is the director of the SVR?"


@pytest.fixture(scope="module")
def data_dir(corpus_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session index: these tests delete documents from it."""
    target = tmp_path_factory.mktemp("library-index") / "data"
    shutil.copytree(corpus_index, target, ignore=shutil.ignore_patterns("webapp.sqlite3*"))
    return target


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[ServerProcess]:
    server = start_server(data_dir, "--backend", "extractive")
    yield server
    server.stop()


def settings_of(data_dir: Path) -> IndexSettings:
    return IndexSettings(data_dir=data_dir)


# Gradio's table draws its body rows as ARIA rows of grid cells (not <tr>/<td>)
ROWS_JS = """(id) => [...document.querySelectorAll(`#${id} [role=row]`)]
    .map(r => [...r.querySelectorAll('[role=gridcell]')].map(c => c.innerText.trim()))
    .filter(cells => cells.length > 0)"""


def table_rows(page, table: str = "library-table") -> list[list[str]]:
    """A table's body rows as shown (the text of each cell)."""
    return page.evaluate(ROWS_JS, table)


def wait_rows(page, condition: str, table: str = "library-table") -> None:
    """Wait until `condition` (JS, over `rows`: lists of cell texts) holds."""
    page.wait_for_function(f"(id) => {{ const rows = ({ROWS_JS})(id); return {condition}; }}",
                           arg=table)  # fmt: skip


def open_library(page) -> None:
    page.get_by_role("tab", name="Library").click()
    wait_rows(page, "rows.length > 0 && rows[0][1] !== ''")  # an empty table has a blank row


def pick_document(page, source: str) -> None:
    page.locator("#library-document input").click()
    page.get_by_role("option", name=re.compile(re.escape(source))).first.click()


def test_a_citation_opens_its_document_scrolled_to_the_highlighted_span(page, data_dir):
    ask(page, QUESTION)
    cited = page.locator("#sources .rag-source").first
    supporting = cited.locator("mark").first.inner_text()
    source = cited.locator(".rag-source-file").inner_text().split(",")[0]
    page.locator("#chat .rag-answer .rag-cite").first.click()  # the [1] in the answer
    mark = page.locator("#doc-view mark")
    expect(mark).to_have_count(1)
    expect(page.get_by_role("tab", name="Library")).to_have_attribute("aria-selected", "true")
    assert mark.inner_text() == supporting
    expect(page.locator("#doc-view .rag-source-file")).to_have_text(source)
    # the span is shown where the document's own text has it
    index = open_index(settings_of(data_dir), check=False)
    whole = "".join(c.text for c in sorted(index.chunks_of(source), key=lambda c: c.position))
    assert supporting in whole
    page.wait_for_function(  # scrolled into the document box
        """() => { const m = document.querySelector('#doc-view mark').getBoundingClientRect();
                   const b = document.querySelector('#doc-view .rag-doc-text')
                       .getBoundingClientRect();
                   return m.top >= b.top && m.bottom <= b.bottom; }"""
    )
    page.screenshot(path=str(DOCS / "screenshot-document.png"), full_page=True)
    # another document shows no highlight; the sources panel's "open in document" link
    # brings the cited one back
    pick_document(page, next(s for s in index.sources() if s != source))
    expect(page.locator("#doc-view mark")).to_have_count(0)
    page.get_by_role("tab", name="Chat").click()
    page.locator("#sources .rag-source-head .rag-cite").first.click()
    expect(page.locator("#doc-view mark")).to_have_text(supporting)
    expect(page.locator("#doc-view .rag-source-file")).to_have_text(source)


def test_the_library_lists_sorts_and_filters_the_documents(page, data_dir):
    open_library(page)
    manifest = Manifest.load(settings_of(data_dir).manifest_path)
    rows = table_rows(page)
    assert sorted(r[1] for r in rows) == sorted(manifest.files)
    for row in rows:
        record = manifest.files[row[1]]
        # other tests upload .md and .html files to the same server
        assert row[2] == Path(row[1]).suffix.lstrip(".").lower()
        assert int(row[4]) == len(record.chunk_ids)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", row[5])  # date indexed
        assert float(row[6]) == round(record.size / 1024, 1)
    page.locator("#library-sort input").click()
    page.get_by_role("option", name="Chunks", exact=True).click()
    page.locator("#library-descending input").check()
    wait_rows(
        page,
        "rows.length > 1 && rows.every((r, i) => i === 0 || +rows[i - 1][4] >= +r[4])"
        " && +rows[0][4] > +rows[rows.length - 1][4]",
    )
    page.screenshot(path=str(DOCS / "screenshot-library.png"), full_page=True)
    wanted = rows[0][1]
    page.fill("#library-filter textarea, #library-filter input", wanted[:12])
    wait_rows(page, "rows.length === 1")
    assert table_rows(page)[0][1] == wanted
    page.locator("#library-table [role=gridcell]", has_text=wanted).first.click()
    expect(page.locator("#doc-view .rag-source-file")).to_have_text(wanted)


def test_feedback_view_lists_the_rated_answers(page):
    ask(page, "Who did the SVR director speak with?")
    page.locator("#chat").get_by_label("Dislike").last.click()
    note = f"wrong person {uuid.uuid4().hex[:6]}"
    page.fill("#feedback-note textarea, #feedback-note input", note)
    page.click("#save-note")
    expect(page.locator("#feedback-note-row")).to_be_hidden()
    page.get_by_role("tab", name="Feedback").click()
    wait_rows(page, f"rows.some(r => r[3] === {json.dumps(note)})", "feedback-table")
    row = next(r for r in table_rows(page, "feedback-table") if r[3] == note)
    assert row[0] == "👎" and row[1] == "Who did the SVR director speak with?"
    assert row[4].startswith("extractive") and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", row[5])
    page.get_by_text("Thumbs up", exact=True).click()
    wait_rows(page, f"!rows.some(r => r[3] === {json.dumps(note)})", "feedback-table")


def test_phone_width_puts_the_sources_under_the_chat(browser, server):
    page = open_page(
        browser, server.url, viewport={"width": 390, "height": 844}, is_mobile=True,
        has_touch=True, device_scale_factor=2,
    )  # fmt: skip
    try:
        ask(page, QUESTION)
        chat = page.locator("#chat").bounding_box()
        sources = page.locator("#sources").bounding_box()
        assert chat and sources
        assert sources["y"] >= chat["y"] + chat["height"]  # below, not beside
        assert chat["width"] <= 390 and sources["width"] <= 390
        page.screenshot(path=str(DOCS / "screenshot-phone.png"), full_page=True)
    finally:
        page.context.close()


def _luminance(css_colour: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", css_colour)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_the_page_follows_the_systems_dark_mode(browser, server):
    colours = {}
    for scheme in ("light", "dark"):
        page = open_page(browser, server.url, color_scheme=scheme)
        try:
            if scheme == "dark":
                ask(page, QUESTION)
                page.screenshot(path=str(DOCS / "screenshot-dark.png"), full_page=True)
            colours[scheme] = page.evaluate(
                """() => [document.body, document.querySelector('gradio-app')]
                    .map(el => getComputedStyle(el).backgroundColor)
                    .find(c => c !== 'rgba(0, 0, 0, 0)')"""
            )
        finally:
            page.context.close()
    assert _luminance(colours["dark"]) < 0.25 < 0.75 < _luminance(colours["light"]), colours


def test_delete_a_document_then_reindex_another(page, data_dir):
    settings = settings_of(data_dir)
    ask(page, QUESTION)
    source = page.locator("#sources .rag-source-file").first.inner_text().split(",")[0]
    before = open_index(settings, check=False)
    chunks, counts, documents = (
        len(before.chunks_of(source)),
        before.store_counts(),
        len(before.sources()),
    )
    assert chunks > 0
    open_library(page)
    pick_document(page, source)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#library-delete")
    expect(page.locator("#library-result")).to_contain_text("Cancelled: nothing was deleted")
    assert source in asked[0] and "default" in asked[0]  # it names what would be deleted
    assert len(open_index(settings, check=False).chunks_of(source)) == chunks
    assert source in [r[1] for r in table_rows(page)]
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#library-delete")
    # the notice comes once the chunks have left both stores and the assistant reloaded
    page.wait_for_selector("#library-result .rag-notice", timeout=ANSWER_WAIT_MS)
    assert f"Deleted {source}" in page.inner_text("#library-result")
    after = open_index(settings, check=False)
    assert after.store_counts().vectors == counts.vectors - chunks  # Chroma
    assert after.store_counts().keywords == counts.keywords - chunks  # BM25
    assert after.chunks_of(source) == [] and source not in after.sources()
    manifest = Manifest.load(settings.manifest_path)
    assert source not in manifest.files and len(manifest.files) == documents - 1
    assert source not in [r[1] for r in table_rows(page)]
    assert (ROOT / "corpus" / source).is_file()  # the file itself is left alone
    page.get_by_role("tab", name="Chat").click()
    page.click("#clear")
    page.wait_for_function("() => !document.querySelector('#chat .rag-meta')")
    ask(page, QUESTION)
    assert source not in page.inner_text("#sources")  # the next answer cannot cite it
    cited = [json.loads(k) for k in page.locator("#chat [data-cite]").evaluate_all(
        "els => els.map(e => e.getAttribute('data-cite'))")]  # fmt: skip
    assert all(c["source"] != source for c in cited)

    other = sorted(manifest.files)[0]
    old = manifest.files[other]
    open_library(page)
    pick_document(page, other)
    page.click("#library-reindex")
    notice = page.locator("#library-result .rag-notice").filter(has_not_text="Deleted")
    notice.wait_for(timeout=ANSWER_WAIT_MS)  # the delete's notice was replaced: it is done
    assert f"Re-indexed {other}" in page.inner_text("#library-result")
    expect(page.locator("#doc-view .rag-source-file")).to_have_text(other)
    again = Manifest.load(settings.manifest_path).files[other]
    assert again.chunk_ids == old.chunk_ids and again.indexed_at >= old.indexed_at
    assert open_index(settings, check=False).store_counts() == after.store_counts()

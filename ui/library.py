"""The web chat's document library: every indexed document, read one, delete or re-index it.

The table lists what the picked collection holds (title, file, type, pages, chunks, date
indexed, size), filtered by text and sorted by any column. Opening a document shows its
cleaned text as the index holds it; a click on a citation [n] in an answer or the sources
panel (a link from ui.render, relayed by a hidden bridge element outside the tabs) opens the
Library tab on the cited document, scrolled to the cited span in <mark> (page named for a
PDF). Deleting (once the browser's confirmation is accepted) or re-indexing goes through
index.pipeline (both stores and the manifest, under the indexing lock), then the collection's
assistant reloads its index, so the next answer cannot cite a deleted document; an uploaded
document's saved copy is deleted too, so the next upload does not index it again. This module
formats and relays: it does not retrieve or answer.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr

from index.config import DEFAULT_COLLECTION, IndexSettings
from index.pipeline import (
    DocumentError,
    DocumentInfo,
    IndexBusyError,
    document_text,
    list_documents,
    reindex_document,
    remove_documents,
)
from index.store import ChunkIndex, StoreError, open_index
from ui.collections import Collections
from ui.render import CITE_TITLE_RE, error_notice, sanitize

log = logging.getLogger(__name__)

COLUMNS = ("Title", "File", "Type", "Pages", "Chunks", "Indexed", "Size (KB)")
SORT_KEYS = {
    "Title": lambda d: d.title.lower(),
    "File": lambda d: d.source.lower(),
    "Type": lambda d: (d.kind, d.source.lower()),
    "Pages": lambda d: d.pages or 0,
    "Chunks": lambda d: d.chunks,
    "Indexed": lambda d: d.indexed_at,
    "Size (KB)": lambda d: d.size,
}
EMPTY_VIEW = '<div class="rag-doc"><p>Pick a document to read it.</p></div>'
TAB_ID = "library"
# Relays a click on any citation link on the page to the server: the clicked link's title
# (which names the document and span) becomes this element's value, then a `submit` event.
BRIDGE_JS = """
if (window.__ragCite) document.removeEventListener('click', window.__ragCite, true);
window.__ragCite = (event) => {
  const link = event.target.closest && event.target.closest('.rag-cite[title]');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  props.value = link.getAttribute('title');
  trigger('submit');
};
document.addEventListener('click', window.__ragCite, true);
"""
# The delete button's inputs: document, filter, sort, order, collection, then the confirmation
CONFIRM_DELETE_JS = """(source, text, sort, desc, collection, _) => [source, text, sort, desc,
  collection, !!source && confirm(`Delete "${source}" from the collection "${collection}"? `
  + 'Its chunks leave the index (an uploaded copy is deleted too). This cannot be undone.')]"""
SCROLL_JS = """() => { setTimeout(() => {
  const mark = document.querySelector('#doc-view mark');
  if (mark) mark.scrollIntoView({block: 'center'});
}, 300); }"""


@dataclass(frozen=True)
class CitedSpan:
    """Where a citation points: a document and a character span in its cleaned text."""

    source: str
    start: int
    end: int
    page: int | None = None

    @classmethod
    def parse(cls, title: str) -> CitedSpan | None:
        """The span a citation link's title names (see ui.render.cite_title)."""
        match = CITE_TITLE_RE.match(title.strip())
        if match is None:
            return None
        page = match["page"]
        return cls(
            match["source"], int(match["start"]), int(match["end"]), int(page) if page else None
        )


def _date(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return ""


def table_rows(docs: list[DocumentInfo], text: str, sort_by: str, descending: bool) -> list:
    """The table's rows: documents whose title, file or type contain `text`, sorted."""
    wanted = (text or "").strip().lower()
    shown = [d for d in docs if wanted in f"{d.title}\n{d.source}\n{d.kind}".lower()]
    shown.sort(key=SORT_KEYS.get(sort_by, SORT_KEYS["Title"]), reverse=bool(descending))
    return [
        [d.title, d.source, d.kind, d.pages or "", d.chunks, _date(d.indexed_at),
         round(d.size / 1024, 1)]
        for d in shown
    ]  # fmt: skip


def document_html(index: ChunkIndex, source: str, span: CitedSpan | None = None) -> str:
    """The document view: title, file, counts, then the cleaned text (the span in <mark>)."""
    doc = document_text(index, source)
    if doc is None:
        return error_notice(f"'{source}' is not in the index any more.")
    pages = [c.page for c in doc.chunks if c.page is not None]
    facts = [f"{len(doc.chunks)} chunks", f"{len(doc.text):,} characters"]
    if pages:
        facts.append(f"{max(pages)} pages")
    head = (
        f'<div class="rag-doc-head"><b>{html.escape(doc.title)}</b> '
        f'<span class="rag-source-file">{html.escape(source)}</span> · {" · ".join(facts)}</div>'
    )
    text, body = doc.text, html.escape(doc.text)
    note = ""
    if span is not None and 0 <= span.start < span.end <= len(text):
        where = f" on page {span.page}" if span.page is not None else ""
        note = f'<div class="rag-doc-note">The cited passage{where} is highlighted.</div>'
        body = (
            f'{html.escape(text[: span.start])}<mark id="rag-cited" title="cited{where}">'
            f"{html.escape(text[span.start : span.end])}</mark>{html.escape(text[span.end :])}"
        )
    elif span is not None:
        note = (
            '<div class="rag-doc-note">The cited passage is no longer in this document '
            "(it was re-indexed since).</div>"
        )
    return sanitize(
        f'<div class="rag-doc">{head}{note}<div class="rag-doc-text">{body}</div></div>'
    )


class LibraryHandlers:
    """The library's handlers; every one takes the picked collection as its last input."""

    def __init__(self, collections: Collections) -> None:
        self.collections = collections
        self._indexes: dict[str, ChunkIndex] = {}

    def settings(self, collection: str) -> IndexSettings:
        return self.collections.settings_for(collection or DEFAULT_COLLECTION).index

    def index(self, collection: str) -> ChunkIndex | None:
        """The collection's index (opened once, it follows other writers); None if none."""
        collection = collection or DEFAULT_COLLECTION
        if collection not in self._indexes:
            settings = self.settings(collection)
            if settings.chroma_url is None and not settings.manifest_path.is_file():
                return None
            try:
                self._indexes[collection] = open_index(settings, check=False)
            except (StoreError, ValueError) as err:
                log.warning("the library cannot open the index: %s", err)
                return None
        return self._indexes[collection]

    def documents(self, collection: str) -> list[DocumentInfo]:
        index = self.index(collection)
        return list_documents(self.settings(collection), index) if index is not None else []

    def refresh(self, text: str, sort_by: str, descending: bool, collection: str) -> tuple:
        """(table, document picker) for the collection's current index."""
        docs = self.documents(collection)
        choices = [(f"{d.title} ({d.source})", d.source) for d in docs]
        return table_rows(docs, text, sort_by, descending), gr.update(choices=choices)

    def switched(self, text: str, sort_by: str, descending: bool, collection: str) -> tuple:
        """(table, picker, view) after picking another collection."""
        self._indexes.pop(collection, None)  # it may have been deleted and made anew
        rows, picker = self.refresh(text, sort_by, descending, collection)
        return rows, gr.update(choices=picker["choices"], value=None), EMPTY_VIEW

    def open(self, source: str | None, collection: str) -> str:
        index = self.index(collection)
        if not source:
            return EMPTY_VIEW
        if index is None:
            return error_notice("There is no index yet: add documents first.")
        return document_html(index, source)

    def select_row(self, collection: str, data: gr.SelectData) -> tuple[Any, str]:
        """A click on a table row opens that document (the File column is its source)."""
        row = data.row_value or []
        source = str(row[1]) if len(row) > 1 else ""
        return gr.update(value=source or None), self.open(source, collection)

    def open_cited(self, key: str, collection: str) -> tuple[Any, Any, str]:
        """(tabs, document picker, view) for a clicked citation."""
        span = CitedSpan.parse(key or "")
        index = self.index(collection)
        if span is None or index is None:
            return gr.update(), gr.update(), error_notice("That citation cannot be opened.")
        view = document_html(index, span.source, span)
        return gr.update(selected=TAB_ID), gr.update(value=span.source), view

    def _changed(self, message: str, listing: tuple[str, str, bool], collection: str) -> tuple:
        self.collections.assistant(collection).reload_index()  # the next answer sees it
        self._indexes.pop(collection or DEFAULT_COLLECTION, None)
        table, picker = self.refresh(*listing, collection)
        return message, table, picker

    def delete(
        self, source: str | None, text: str, sort_by: str, descending: bool, collection: str,
        confirmed: bool = False,
    ) -> tuple:  # fmt: skip
        """(notice, table, picker, view) after deleting one document (once confirmed)."""
        listing = (text, sort_by, descending)
        if not source or not confirmed:  # nothing picked, or the confirmation was cancelled
            notice = "Cancelled: nothing was deleted." if source else "Pick a document first."
            return f"<p>{notice}</p>", gr.update(), gr.update(), gr.update()
        settings = self.settings(collection)
        paths = [d.path for d in self.documents(collection) if d.source == source]
        try:
            remove_documents(settings, [source])
        except (DocumentError, IndexBusyError, StoreError) as err:
            return error_notice(str(err)), gr.update(), gr.update(), gr.update()
        removed = ""
        copy = Path(paths[0]) if paths and paths[0] else None
        if copy and copy.parent.resolve() == settings.uploads_dir.resolve():
            copy.unlink(missing_ok=True)  # else the next upload would index it again
            removed = " and its uploaded copy"
        message = sanitize(
            f'<div class="rag-notice rag-abstain">Deleted {html.escape(source)}{removed}: its '
            "chunks left the vector store, the keyword index and the manifest.</div>"
        )
        return (*self._changed(message, listing, collection), EMPTY_VIEW)

    def reindex(
        self, source: str | None, text: str, sort_by: str, descending: bool, collection: str
    ) -> tuple:
        """(notice, table, picker, view) after reading one document's file again."""
        listing = (text, sort_by, descending)
        if not source:
            return "<p>Pick a document first.</p>", gr.update(), gr.update(), gr.update()
        try:
            result = reindex_document(self.settings(collection), source)
        except (DocumentError, IndexBusyError, StoreError) as err:
            return error_notice(str(err)), gr.update(), gr.update(), gr.update()
        if result.status == "skipped":
            message = error_notice(f"{source} was not re-indexed: {result.reason}")
        else:
            message = sanitize(
                f'<div class="rag-notice rag-abstain">Re-indexed {html.escape(source)}: '
                f"{result.chunks} chunks.</div>"
            )
        changed = self._changed(message, listing, collection)
        return (*changed, self.open(source, collection))


@dataclass
class LibraryTab:
    """The Library tab's widgets (and the hidden bridge that relays citation clicks)."""

    table: gr.Dataframe
    search: gr.Textbox
    sort_by: gr.Dropdown
    descending: gr.Checkbox
    picker: gr.Dropdown
    reindex: gr.Button
    delete: gr.Button
    confirmed: gr.Checkbox
    result: gr.HTML
    view: gr.HTML

    @classmethod
    def build(cls) -> LibraryTab:
        """Call inside the `gr.Tab(..., id=TAB_ID)`."""
        with gr.Row():
            search = gr.Textbox(
                label="Filter (title, file or type)", elem_id="library-filter", scale=3
            )
            sort_by = gr.Dropdown(
                list(COLUMNS), value="Title", label="Sort by", elem_id="library-sort", scale=2
            )
            descending = gr.Checkbox(label="Descending", elem_id="library-descending", scale=1)
        table = gr.Dataframe(
            headers=list(COLUMNS),
            interactive=False,
            wrap=True,
            column_widths=["34%", "22%", "7%", "7%", "8%", "13%", "9%"],
            elem_id="library-table",
            max_height=480,
        )
        with gr.Row():
            picker = gr.Dropdown(choices=[], label="Document", elem_id="library-document", scale=4)
            reindex = gr.Button("Re-index", elem_id="library-reindex", size="sm", scale=1)
            delete = gr.Button(
                "Delete from index", elem_id="library-delete", size="sm", variant="stop", scale=1
            )
        confirmed = gr.Checkbox(visible=False)
        result = gr.HTML(elem_id="library-result")
        view = gr.HTML(EMPTY_VIEW, elem_id="doc-view")
        return cls(
            table, search, sort_by, descending, picker, reindex, delete, confirmed, result, view
        )

    @staticmethod
    def bridge() -> gr.HTML:
        """The hidden element relaying citation clicks; build it outside the tabs (a tab's
        content is only on the page while the tab is shown)."""
        return gr.HTML(
            "", html_template="", js_on_load=BRIDGE_JS, visible="hidden", elem_id="cite-bridge"
        )

    def wire(
        self, blocks: gr.Blocks, lib: LibraryHandlers, tabs: gr.Tabs, bridge: gr.HTML,
        collection: gr.Dropdown,
    ) -> list[Any]:  # fmt: skip
        """Connect the tab; returns the delete and re-index events (to chain refreshes to)."""
        listing = [self.search, self.sort_by, self.descending, collection]
        shown = [self.table, self.picker]
        private: dict[str, Any] = {"api_visibility": "private"}
        blocks.load(lib.refresh, listing, shown, **private)
        for event in (self.search.change, self.sort_by.change, self.descending.change):
            event(lib.refresh, listing, shown, queue=False, **private)
        collection.change(lib.switched, listing, [*shown, self.view], **private)
        self.picker.input(lib.open, [self.picker, collection], self.view, **private)
        self.table.select(lib.select_row, collection, [self.picker, self.view], **private)
        changed = [self.result, self.table, self.picker, self.view]
        deleting = [self.picker, *listing, self.confirmed]
        deleted = self.delete.click(lib.delete, deleting, changed, js=CONFIRM_DELETE_JS, **private)
        reindexed = self.reindex.click(lib.reindex, [self.picker, *listing], changed, **private)
        bridge.submit(
            lib.open_cited, [bridge, collection], [tabs, self.picker, self.view], **private
        ).then(None, js=SCROLL_JS)
        return [deleted, reindexed]

    def refresh_after_upload(self, event: Any, lib: LibraryHandlers, collection: Any) -> None:
        """Chain a table refresh to an upload event."""
        event.then(
            lib.refresh,
            [self.search, self.sort_by, self.descending, collection],
            [self.table, self.picker],
            api_visibility="private",
        )

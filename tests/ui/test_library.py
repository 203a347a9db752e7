"""The document library's pieces without a browser: citation links name their span, the
document text keeps the chunks' offsets, the table filters and sorts, the feedback rows."""

from __future__ import annotations

import dataclasses

import pytest

from index.pipeline import DocumentInfo, document_text
from index.types import Chunk
from rag.types import Citation
from ui import render
from ui.feedback import FeedbackRecord
from ui.feedback_view import feedback_rows
from ui.library import CitedSpan, document_html, table_rows

TEXT = "Title line\n\nFirst paragraph about the SVR.   Second paragraph, Naryshkin spoke."


def _chunk(position: int, start: int, end: int, page: int | None = None) -> Chunk:
    return Chunk(
        id=f"c{position}", source="doc.pdf", title="Doc", text=TEXT[start:end],
        position=position, start=start, end=end, n_tokens=5, page=page,
    )  # fmt: skip


class _Index:
    def __init__(self, chunks: list[Chunk]) -> None:
        self.chunks = chunks

    def chunks_of(self, source: str) -> list[Chunk]:
        return [c for c in self.chunks if c.source == source]


@pytest.mark.parametrize("page", [None, 3])
@pytest.mark.parametrize("source", ["a.txt", "sub/odd (name), page 2.pdf"])
def test_a_citation_link_names_the_span_it_opens(source, page):
    cite = Citation(n=2, source=source, title="T", chunk_id="c", start=12, end=40, text="x",
                    page=page)  # fmt: skip
    link = render.cite_link(cite, "2")
    assert 'class="rag-cite"' in link
    title = render.cite_title(cite)
    assert CitedSpan.parse(title) == CitedSpan(source, 12, 40, page)
    assert CitedSpan.parse("Open nothing") is None


def test_document_text_keeps_the_offsets_of_overlapping_chunks_and_gaps():
    # overlapping chunks, then a gap of white space the chunker skipped
    chunks = [_chunk(1, 20, 48, page=1), _chunk(0, 0, 30, page=1), _chunk(2, 51, len(TEXT), 2)]
    doc = document_text(_Index(chunks), "doc.pdf")
    assert doc is not None and len(doc.text) == len(TEXT)
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text  # a cited span lands where it was
    assert document_text(_Index(chunks), "other.txt") is None


def _info(source: str, title: str, kind: str, chunks: int, size: int) -> DocumentInfo:
    return DocumentInfo(source, title, kind, None, chunks, "2026-01-02T03:04:05+00:00", size, "")


def test_the_table_filters_on_title_file_and_type_and_sorts_by_any_column():
    docs = [_info("b.txt", "Beta", "txt", 3, 2048), _info("a.pdf", "alpha", "pdf", 9, 512)]
    assert [r[1] for r in table_rows(docs, "", "Title", False)] == ["a.pdf", "b.txt"]
    assert [r[1] for r in table_rows(docs, "", "Chunks", True)] == ["a.pdf", "b.txt"]
    assert [r[1] for r in table_rows(docs, "", "Size (KB)", True)] == ["b.txt", "a.pdf"]
    assert [r[1] for r in table_rows(docs, "PDF", "Title", False)] == ["a.pdf"]
    assert [r[1] for r in table_rows(docs, "bet", "Title", False)] == ["b.txt"]
    assert table_rows(docs, "", "Title", False)[1][5:] == ["2026-01-02 03:04", 2.0]


def test_feedback_rows_are_the_users_own_newest_first_and_filtered_by_rating():
    base = FeedbackRecord(
        id=1, user="ann", message_id=1, conversation_id="c", rating=-1, note="wrong",
        question="Q1", history=(), answer="A1", citations=(), backend="extractive",
        model="m", created=1.0, updated=1.0,
    )  # fmt: skip
    records = [
        base,
        dataclasses.replace(base, id=2, message_id=2, rating=1, question="Q2", updated=2.0),
        dataclasses.replace(base, id=3, message_id=3, user="bob", question="Q3"),
    ]
    assert [r[1] for r in feedback_rows(records, "ann", "All")] == ["Q2", "Q1"]
    assert [r[1] for r in feedback_rows(records, "ann", "Thumbs down")] == ["Q1"]
    assert feedback_rows(records, "ann", "Thumbs down")[0][:5] == [
        "👎", "Q1", "A1", "wrong", "extractive · m"
    ]  # fmt: skip


def test_the_document_view_marks_the_cited_span_and_names_its_page():
    chunks = [_chunk(0, 0, 30, page=1), _chunk(1, 20, len(TEXT), page=2)]
    start = TEXT.index("Naryshkin spoke.")
    view = document_html(_Index(chunks), "doc.pdf", CitedSpan("doc.pdf", start, len(TEXT), 2))
    assert "<mark" in view and "Naryshkin spoke.</mark>" in view
    assert "The cited passage on page 2 is highlighted." in view and "2 pages" in view
    stale = document_html(_Index(chunks), "doc.pdf", CitedSpan("doc.pdf", 5, 999, None))
    assert "<mark" not in stale and "no longer in this document" in stale
    assert "not in the index" in document_html(_Index(chunks), "gone.txt")
    evil = [_chunk(0, 0, 10)]
    evil[0] = Chunk(**{**evil[0].__dict__, "text": "<script>x</script>", "end": 18})
    assert "<script>" not in document_html(_Index(evil), "doc.pdf")

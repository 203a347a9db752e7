"""Chunking: exact offsets, whole sentences, token limits, overlap, headings, stable ids."""

from __future__ import annotations

import hashlib
import itertools
import random
from pathlib import Path

import pytest

from index.chunking import chunk_document, chunk_id
from index.clean import clean_document
from index.sentences import split_sentences
from index.tokens import count_tokens
from index.types import Document, PageSpan, RawDocument

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
FILES = sorted(CORPUS.glob("*.txt"))
SLACK = 8  # tokens: sentence counts are summed; joining them can differ by a few


def make_doc(text: str, source: str = "doc.txt", pages: tuple[PageSpan, ...] = ()) -> Document:
    return Document(
        path=f"/data/{source}",
        source=source,
        text=text,
        title="A title",
        date="2025-03-12",
        kind="txt",
        content_hash="h",
        pages=pages,
    )


def corpus_doc(path: Path) -> Document:
    raw = RawDocument(str(path), path.name, path.read_text(encoding="utf-8"), "txt")
    return clean_document(raw, "h")


def check_chunks(doc: Document, chunks, target: int) -> None:
    """The invariants every chunking must keep."""
    spans = split_sentences(doc.text)
    starts = {a for a, _ in spans}
    ends = {b for _, b in spans}

    def cut_is_allowed(offset: int) -> bool:
        """Only a sentence longer than the target may be cut (between its words)."""
        (a, b) = next((a, b) for a, b in spans if a < offset < b)
        return count_tokens(doc.text[a:b]) > target and (
            doc.text[offset - 1].isspace() or doc.text[offset].isspace() or b - a > 100
        )

    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.start in starts or cut_is_allowed(chunk.start), "a sentence was cut"
        assert chunk.end in ends or cut_is_allowed(chunk.end), "a sentence was cut"
        assert chunk.n_tokens == count_tokens(chunk.text) <= target + SLACK
        assert chunk.id == chunk_id(doc.source, chunk.position, chunk.text)
        assert (chunk.source, chunk.title, chunk.date, chunk.path) == (
            doc.source,
            doc.title,
            doc.date,
            doc.path,
        )
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start and before.end < after.end
        assert after.start <= before.end + 2 or doc.text[before.end : after.start].isspace()
    covered = [False] * len(doc.text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(doc.text))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[:3])
@pytest.mark.parametrize(("target", "overlap"), [(256, 40), (100, 20), (48, 0)])
def test_corpus_chunks_keep_the_invariants(path: Path, target: int, overlap: int):
    doc = corpus_doc(path)
    chunks = chunk_document(doc, target, overlap)
    assert chunks
    check_chunks(doc, chunks, target)


def test_corpus_chunks_record_their_section_heading():
    doc = corpus_doc(FILES[3])
    chunks = chunk_document(doc, 256, 40)
    (cyber,) = [c for c in chunks if "Cybersecurity has become one of the most" in c.text]
    assert cyber.heading == "Re-engagement in Cybersecurity Discussions"
    assert cyber.text.startswith("Re-engagement in Cybersecurity Discussions\n\n")
    (last,) = [c for c in chunks if "In an increasingly interconnected" in c.text]
    assert last.heading == "9. Conclusion"


def test_default_sizes_on_the_corpus_are_about_the_target():
    sizes = [c.n_tokens for p in FILES for c in chunk_document(corpus_doc(p), 256, 40)]
    assert max(sizes) <= 256 + SLACK
    assert sum(sizes) / len(sizes) >= 120  # not shredded into tiny pieces


def sentence_text(n: int, rng: random.Random) -> str:
    words = ["river", "market", "council", "budget", "school", "rain", "road", "vote"]
    return " ".join(
        f"Item {i} says the {rng.choice(words)} and the {rng.choice(words)} changed today."
        for i in range(n)
    )


def test_overlap_carries_whole_sentences():
    doc = make_doc(sentence_text(200, random.Random(0)))
    chunks = chunk_document(doc, 120, 30)
    check_chunks(doc, chunks, 120)
    assert len(chunks) > 5
    sentence_starts = {a for a, _ in split_sentences(doc.text)}
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end, "consecutive chunks should overlap"
        shared = doc.text[after.start : before.end]
        assert after.start in sentence_starts
        assert 0 < count_tokens(shared) <= 30 + 2


def test_no_overlap_when_asked():
    doc = make_doc(sentence_text(200, random.Random(1)))
    chunks = chunk_document(doc, 120, 0)
    check_chunks(doc, chunks, 120)
    assert all(b.start >= a.end for a, b in itertools.pairwise(chunks))


def paragraph(i: int, sentences: int) -> str:
    return " ".join(
        f"Paragraph {i} sentence {j} adds a little more detail here." for j in range(sentences)
    )


def test_breaks_prefer_paragraph_boundaries():
    text = "\n\n".join(paragraph(i, 7) for i in range(12))  # about 85 tokens each
    doc = make_doc(text)
    chunks = chunk_document(doc, 200, 0)
    check_chunks(doc, chunks, 200)
    for chunk in chunks:
        assert chunk.text.startswith("Paragraph ") and chunk.text.endswith("here.")
        assert doc.text[chunk.start - 2 : chunk.start] in ("", "\n\n")  # starts a paragraph
        assert doc.text[chunk.end : chunk.end + 2] in ("", "\n\n")  # ends one


def test_heading_starts_a_new_chunk_once_half_full():
    sections = []
    for i in range(4):
        sections.append(f"Section {i} Heading\n\n" + paragraph(i, 12))
    doc = make_doc("\n\n".join(sections))
    chunks = chunk_document(doc, 256, 40)
    check_chunks(doc, chunks, 256)
    assert [c.heading for c in chunks] == [f"Section {i} Heading" for i in range(4)]
    assert all(c.text.startswith(c.heading) for c in chunks)


def test_small_sections_share_a_chunk_and_keep_the_first_heading():
    text = "Alpha Part\n\nOne short line here.\n\nBeta Part\n\nAnother short line here."
    chunks = chunk_document(make_doc(text), 256, 40)
    assert len(chunks) == 1 and chunks[0].heading == "Alpha Part"


def test_ids_are_stable_and_follow_the_text():
    doc = make_doc(sentence_text(80, random.Random(2)))
    first = [c.id for c in chunk_document(doc, 100, 20)]
    again = [c.id for c in chunk_document(doc, 100, 20)]
    assert first == again
    changed = make_doc(doc.text.replace("Item 70 says", "Item 70 now says"))
    ids = [c.id for c in chunk_document(changed, 100, 20)]
    assert ids[0] == first[0] and ids != first
    other_source = [c.id for c in chunk_document(make_doc(doc.text, "other.txt"), 100, 20)]
    assert not set(other_source) & set(first)


def test_chunk_id_formula():
    expected = hashlib.sha256(b"a.txt\x003\x00hello").hexdigest()[:24]
    assert chunk_id("a.txt", 3, "hello") == expected and len(expected) == 24


def test_empty_document_gives_no_chunks():
    assert chunk_document(make_doc(""), 256, 40) == []
    assert chunk_document(make_doc("   \n\n  "), 256, 40) == []


def test_huge_single_line_is_split_only_as_a_last_resort(caplog: pytest.LogCaptureFixture):
    rng = random.Random(3)
    text = " ".join(rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(200_000))
    text = "A normal first sentence.\n\n" + text + "\n\nA normal last sentence."
    doc = make_doc(text)
    chunks = chunk_document(doc, 256, 40)
    assert len(text) > 1_000_000
    assert chunks[0].text.startswith("A normal first sentence.")
    assert chunks[-1].text.endswith("A normal last sentence.")
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.n_tokens <= 256 + SLACK
        assert not chunk.text[0].isspace() and not chunk.text[-1].isspace()
    assert sum(len(c.text.split()) for c in chunks) >= 200_000
    assert "cut between words" in caplog.text


def test_text_without_any_space_is_still_chunked():
    doc = make_doc("x" * 300_000)
    chunks = chunk_document(doc, 256, 40)
    assert "".join(c.text for c in chunks) == doc.text
    assert all(c.n_tokens <= 256 + SLACK for c in chunks)


def test_page_is_the_page_holding_the_chunk_start():
    page_texts = [paragraph(i, 20) for i in range(3)]
    text = "\n\n".join(page_texts)
    pages, offset = [], 0
    for number, page_text in enumerate(page_texts, start=1):
        pages.append(PageSpan(number, offset, offset + len(page_text)))
        offset += len(page_text) + 2
    doc = make_doc(text, "r.pdf", tuple(pages))
    chunks = chunk_document(doc, 100, 20)
    check_chunks(doc, chunks, 100)
    for chunk in chunks:
        (page,) = [p.page for p in pages if p.start <= chunk.start < p.end]
        assert chunk.page == page
    assert {c.page for c in chunks} == {1, 2, 3}
    assert all(c.page is None for c in chunk_document(make_doc(text), 100, 20))


WORDS = ["alpha", "Beta", "U.S.", "Dr.", "3.5", "e.g.", "Inc.", "“quoted”", "gamma", "No.", "7"]
ENDS = [".", "?", "!", ".”", "", ":"]
SEPS = [" ", "\n", "\n\n", "\n- ", "\n\nHeading Words\n\n"]


@pytest.mark.parametrize("seed", range(30))
def test_random_documents_keep_the_invariants(seed: int):
    rng = random.Random(seed)
    parts = []
    for _ in range(rng.randrange(1, 120)):
        n = rng.choice([1, 5, 12, 30, 150])
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, n + 1)))
        parts.append(words + rng.choice(ENDS) + rng.choice(SEPS))
    doc = make_doc("".join(parts).strip())
    target = rng.choice([32, 64, 256])
    check_chunks(doc, chunk_document(doc, target, rng.choice([0, 8, 40])), target)

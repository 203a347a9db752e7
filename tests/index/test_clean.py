"""Cleaning: page chrome goes, every body sentence stays, title and date are found."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from index.clean import clean_document, find_date, normalise_line
from index.types import PageSpan, RawDocument

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
FILES = sorted(CORPUS.glob("*.txt"))


def raw_of(text: str, source: str = "doc.txt", **kw) -> RawDocument:
    return RawDocument(path=f"/tmp/{source}", source=source, text=text, kind="txt", **kw)


def clean_text(text: str, **kw):
    return clean_document(raw_of(text, **kw), "hash")


def corpus_doc(prefix: str):
    (path,) = [p for p in FILES if p.name.startswith(prefix)]
    return clean_document(raw_of(path.read_text(encoding="utf-8"), path.name), "h"), path


def test_corpus_has_the_five_articles():
    assert len(FILES) == 5


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[:3])
def test_every_body_line_of_the_corpus_survives(path: Path):
    doc = clean_document(raw_of(path.read_text(encoding="utf-8"), path.name), "h")
    kept = set(doc.text.split("\n"))
    for line in path.read_text(encoding="utf-8").splitlines():
        line = normalise_line(unicodedata.normalize("NFC", line))
        if len(line.split()) >= 12:
            assert line in kept, line


@pytest.mark.parametrize(
    ("prefix", "chrome"),
    [
        (
            "000",
            [
                "Connect with us",
                "Politics",
                "Published",
                "on",
                "Advertisement",
                "Trending",
                "Exit mobile version",
                "john ratcliffe sergey naryshkin",
            ],
        ),
        ("001", ["Retail", "more stories", "See more"]),
        ("003", ["Table of Contents", "Post a Comment", "Previous Post Next Post"]),
    ],
)
def test_corpus_chrome_lines_are_gone(prefix: str, chrome: list[str]):
    doc, _ = corpus_doc(prefix)
    lines = doc.text.split("\n")
    for line in chrome:
        assert line not in lines, line


def test_table_of_contents_block_goes_but_sections_stay():
    doc, _ = corpus_doc("003")
    lines = doc.text.split("\n")
    # Each section heading appears once (the section itself), not twice (TOC + section).
    assert lines.count("1. Introduction") == 1
    assert lines.count("9. Conclusion") == 1
    assert lines.count("2. Historical Context of U.S.-Russia Intelligence Relations") == 1
    assert "High-Level Talks and Agreements" in lines
    assert not any(line.startswith("•") for line in lines)
    # The title printed twice at the top is kept once.
    assert lines.count("Renewed Communications Between U.S. and Russian Intelligence Agencies") == 1


@pytest.mark.parametrize(
    ("prefix", "title"),
    [
        (
            "000",
            "CIA director, Putin’s spy chief hold first phone call in more than 2 years: report",
        ),
        ("001", "U.S.-Russia Intelligence Communication: A New Chapter"),
        ("002", "Russian and U.S. Spy Chiefs Establish Direct Communication Channel"),
        ("003", "Renewed Communications Between U.S. and Russian Intelligence Agencies"),
        ("004", "U.S. Allies Rethink Intelligence Sharing Amid Trump’s Russia Stance"),
    ],
)
def test_corpus_titles(prefix: str, title: str):
    doc, path = corpus_doc(prefix)
    assert doc.title == title
    assert doc.source == path.name and doc.kind == "txt" and doc.content_hash == "h"


def test_corpus_date():
    doc, _ = corpus_doc("001")
    assert doc.date == "2025-03-12"
    assert doc.text.startswith("U.S.-Russia Intelligence Communication: A New Chapter\n2025-03-12")


def test_cleaned_corpus_text_is_normalised():
    for path in FILES:
        doc = clean_document(raw_of(path.read_text(encoding="utf-8"), path.name), "h")
        assert doc.text == doc.text.strip()
        assert "\n\n\n" not in doc.text and "  " not in doc.text and "\r" not in doc.text
        assert "\u00a0" not in doc.text
        assert unicodedata.is_normalized("NFC", doc.text)


# ------------------------------------------------------------------ general rules, new pages

BODY = (
    "The city council voted on Monday to expand the bus network across the northern "
    "districts, after months of public hearings."
)
BODY2 = "Officials said the first new routes would open in the spring, pending a final budget."


def test_generic_web_chrome_is_removed_wherever_it_is():
    text = "\n".join(
        [
            "Skip to content",
            "Menu",
            "Local News",
            "Council expands bus network in the north",
            "By Jane Doe",
            "Share on Facebook",
            "",
            BODY,
            "ADVERTISEMENT",
            BODY2,
            "Read more: Tram plans stall again",
            "Subscribe to our newsletter",
            "Related Articles",
            "12 Comments",
            "Leave a Reply",
            "Accept all cookies",
            "Back to top",
            "© 2025 Example Media. All rights reserved.",
        ]
    )
    doc = clean_text(text)
    assert doc.text == f"Council expands bus network in the north\n\n{BODY}\n{BODY2}"
    assert doc.title == "Council expands bus network in the north"


def test_content_that_mentions_ui_words_is_kept():
    text = "\n\n".join(
        [
            "Shares rally as markets recover",
            "Investors decided to share the risk and follow the trend, analysts said on Friday.",
            "Comments from the central bank were read more closely than usual this week.",
            "Related",  # a lone UI word in the body: removed
            "Next steps for the fund will be announced in a report due next month.",
        ]
    )
    doc = clean_text(text)
    assert "share the risk and follow the trend" in doc.text
    assert "Comments from the central bank" in doc.text
    assert "Next steps for the fund" in doc.text
    assert "\nRelated\n" not in doc.text


def test_short_section_heading_right_before_the_body_is_kept():
    doc = clean_text(f"Annual Report 2024\n\nOverview\n\n{BODY}\n\nOutlook\n\n{BODY2}")
    assert doc.text == f"Annual Report 2024\n\nOverview\n\n{BODY}\n\nOutlook\n\n{BODY2}"
    assert doc.title == "Annual Report 2024"


def test_document_without_running_text_is_kept_whole():
    poem = "Roses in the rain\nA quiet street\n\nNight falls slowly\nHome again"
    doc = clean_text(poem)
    assert doc.text == poem
    assert doc.title == "Roses in the rain"


def test_a_page_of_only_chrome_is_not_emptied():
    doc = clean_text("Advertisement\nShare\nSubscribe")
    assert doc.text  # nothing better to keep: the text stays searchable


def test_title_hint_wins_and_markdown_heading_is_plain():
    assert clean_text(f"Some label\n\n{BODY}", title_hint="  The Real   Title ").title == (
        "The Real Title"
    )
    assert clean_text(f"# Markdown Title Here\n\n{BODY}").title == "Markdown Title Here"


def test_title_falls_back_to_first_sentence_then_file_name():
    long = "word " * 60 + "end."
    assert clean_text(long).title.endswith("…") and len(clean_text(long).title) <= 101
    assert clean_text(BODY).title == BODY[:100].rsplit(" ", 1)[0] + "…"


def test_whitespace_and_unicode_are_normalised():
    text = (
        "Title line here\r\n\r\n\r\n\tCafe\u0301 \u00a0 opens\u200b  its   doors today,"
        " said the owner.\r\nEnd."
    )
    doc = clean_text(text)
    assert doc.text == "Title line here\n\nCafé opens its doors today, said the owner.\nEnd."


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Published on March 12, 2025 by staff", "2025-03-12"),
        ("Updated: 12 March 2025", "2025-03-12"),
        ("Mar. 3rd, 2024 — news", "2024-03-03"),
        ("posted 2025-03-12T10:00:00Z", "2025-03-12"),
        ("On 5th of June 2023 the", "2023-06-05"),
        ("2024/02/29 leap day", "2024-02-29"),
        ("no date at all in 2025", None),
        ("2025-13-45 is not a date", None),
        ("February 30, 2024 is not a date", None),
        ("first 1 May 2020 then 2021-01-01", "2020-05-01"),
    ],
)
def test_find_date(text: str, iso: str | None):
    assert find_date(text) == iso


def test_date_far_down_the_text_is_not_the_publication_date():
    doc = clean_text(f"A headline for the story\n\n{BODY}\n\n" + BODY2 * 60 + "\n\nJuly 4, 1990")
    assert doc.date is None


def test_pdf_page_spans_stay_valid_after_cleaning():
    page1 = "Advertisement\nAnnual   report on water quality\n\n" + BODY + "\n1"
    page2 = BODY2 + "\n\n  Second   page  closing sentence is here, with data.  \nPage 2 of 2"
    text = page1 + "\n\n" + page2
    pages = (
        PageSpan(1, 0, len(page1)),
        PageSpan(2, len(page1) + 2, len(text)),
    )
    raw = RawDocument("/tmp/r.pdf", "r.pdf", text, "pdf", pages=pages)
    doc = clean_document(raw, "h")
    assert [p.page for p in doc.pages] == [1, 2]
    one, two = (doc.text[p.start : p.end] for p in doc.pages)
    assert one == "Annual report on water quality\n\n" + BODY
    assert two == BODY2 + "\n\nSecond page closing sentence is here, with data."
    assert doc.title == "Annual report on water quality"

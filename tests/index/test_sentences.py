"""Sentence spans: news-text abbreviations, quotes, lists, headings and paragraph breaks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from index.sentences import split_sentences

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Sen. Warren met Dr. Smith at the U.S. Capitol on Jan. 5. They talked.",
            ["Sen. Warren met Dr. Smith at the U.S. Capitol on Jan. 5.", "They talked."],
        ),
        (
            "The U.S. said no. The talks ended.",
            ["The U.S. said no.", "The talks ended."],
        ),
        (
            "John F. Kennedy spoke in 1963. It rained.",
            ["John F. Kennedy spoke in 1963.", "It rained."],
        ),
        (
            "Growth was 3.5 percent. Prices rose 0.2%.",
            ["Growth was 3.5 percent.", "Prices rose 0.2%."],
        ),
        (
            'He said "we will win." Then he left.',
            ['He said "we will win."', "Then he left."],
        ),
        ("“It is over.” She nodded.", ["“It is over.”", "She nodded."]),
        ("Is it true? Yes! Fine.", ["Is it true?", "Yes!", "Fine."]),
        (
            "See No. 5 on the list. Acme Inc. said so.",
            ["See No. 5 on the list.", "Acme Inc. said so."],
        ),
        ("Shares of Acme Inc. The firm fell.", ["Shares of Acme Inc.", "The firm fell."]),
        ("Apples, pears, etc. are fruit.", ["Apples, pears, etc. are fruit."]),
        ("It uses e.g. apples and i.e. pears.", ["It uses e.g. apples and i.e. pears."]),
        ("Wait... Then it happened.", ["Wait...", "Then it happened."]),
    ],
)
def test_news_sentences(text: str, expected: list[str]):
    assert sentences(text) == expected


def test_headings_bullets_and_paragraph_breaks_are_boundaries():
    text = (
        "Key Findings\n"
        "The report lists three points:\n"
        "- costs rose\n"
        "- staff left\n"
        "* a third point without a stop\n"
        "1. numbered item\n"
        "\n"
        "A paragraph without a full stop\n"
        "\n"
        "Next paragraph."
    )
    assert sentences(text) == [
        "Key Findings",
        "The report lists three points:",
        "- costs rose",
        "- staff left",
        "* a third point without a stop",
        "1. numbered item",
        "A paragraph without a full stop",
        "Next paragraph.",
    ]


def test_hard_wrapped_lines_stay_one_sentence():
    text = (
        "The agreement was signed in Geneva after talks that lasted for\n"
        "several weeks, and it covers trade, energy and the movement of\n"
        "people between the two countries. Officials welcomed it on\n"
        "Monday. Critics said the deal came too late for the farmers in\n"
        "the northern provinces who had already lost most of their crops.\n"
    )
    assert sentences(text) == [
        "The agreement was signed in Geneva after talks that lasted for\n"
        "several weeks, and it covers trade, energy and the movement of\n"
        "people between the two countries.",
        "Officials welcomed it on\nMonday.",
        "Critics said the deal came too late for the farmers in\n"
        "the northern provinces who had already lost most of their crops.",
    ]


def test_spans_exclude_whitespace_and_handle_empty_text():
    assert split_sentences("") == []
    assert split_sentences(" \n\n\t ") == []
    text = "  \n  First one.   Second one.  \n\n  "
    assert split_sentences(text) == [(5, 15), (18, 29)]


def check_invariants(text: str) -> None:
    spans = split_sentences(text)
    covered = [False] * len(text)
    last = 0
    for a, b in spans:
        assert last <= a < b <= len(text)
        assert not text[a].isspace() and not text[b - 1].isspace()
        assert "\n\n" not in text[a:b].replace("\r", "")  # never across a blank line
        covered[a:b] = [True] * (b - a)
        last = b
    for i, ch in enumerate(text):
        assert covered[i] or ch.isspace(), (i, text[max(0, i - 20) : i + 20])


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda p: p.name[:3])
def test_corpus_spans_cover_all_text(path: Path):
    text = path.read_text(encoding="utf-8")
    check_invariants(text)
    found = sentences(text)
    # Every line of the corpus ends a sentence (web text: one paragraph or heading per line).
    for line in text.splitlines():
        if line.strip():
            assert any(line.strip().endswith(s) for s in found), line


def test_corpus_abbreviations_do_not_split():
    text = (CORPUS / "000_aa34d8c1900e3240.txt").read_text(encoding="utf-8")
    found = sentences(text)
    assert (
        "Koffler noted that the U.S. and Russia have consistently struggled to align their "
        "national interests, leading to recurrent collisions in their foreign policies." in found
    )
    assert not any(s.endswith("U.S.") for s in found)


WORDS = ["alpha", "Beta", "U.S.", "Dr.", "3.5", "e.g.", "Inc.", "“quoted”", "x", "No.", "7"]
ENDS = [".", "?", "!", ".”", "...", "", ":"]
SEPS = [" ", "  ", "\n", "\n\n", "\r\n", "\t", "\n- ", "\n\n1. ", " \u00a0 "]


@pytest.mark.parametrize("seed", range(40))
def test_random_text_invariants(seed: int):
    rng = random.Random(seed)
    parts = []
    for _ in range(rng.randrange(1, 60)):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 12)))
        parts.append(words + rng.choice(ENDS) + rng.choice(SEPS))
    check_invariants(rng.choice(["", " ", "\n"]) + "".join(parts))


def test_one_megabyte_line_without_full_stop_is_one_span():
    text = "word " * 200_000
    assert split_sentences(text) == [(0, len(text) - 1)]

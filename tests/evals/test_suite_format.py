"""The suite YAML format: valid suites load; malformed ones name the case and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evals.suite import SuiteError, combine, load_suite, parse_suite, steps_of

REPO = Path(__file__).resolve().parents[2]

VALID = """
name: corpus-basics
corpus: corpus/
owner: someone          # extra keys are allowed
cases:
  - id: q1
    question: Who is the director of the SVR?
    answers: [Naryshkin]
    reference: Sergey Naryshkin heads Russia's Foreign Intelligence Service.
    sources: [000_aa34d8c1900e3240.txt]
    note: extra keys allowed here too
  - id: u1
    question: What is the CIA's annual budget?
    unanswerable: true
  - id: m1
    turns:
      - question: Who is the director of the SVR?
        answers: [Naryshkin]
      - question: Who did he speak with?
        answers: [Ratcliffe]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_issue_example_loads(tmp_path):
    suite = load_suite(write(tmp_path, VALID))
    assert suite.name == "corpus-basics"
    assert suite.corpus == "corpus/"
    assert [c.id for c in suite.cases] == ["q1", "u1", "m1"]
    q1 = suite.cases[0]
    assert q1.answers == ["Naryshkin"] and q1.sources == ["000_aa34d8c1900e3240.txt"]
    assert suite.cases[1].unanswerable
    labels = [s.label for s in steps_of(suite)]
    assert labels == ["q1", "u1", "m1#1", "m1#2"]
    assert steps_of(suite)[3].turn_data.answers == ["Ratcliffe"]


def malformed(case_yaml: str) -> str:
    return "name: broken\ncases:\n" + case_yaml


@pytest.mark.parametrize(
    ("case_yaml", "names"),
    [
        ("  - id: q7\n    answers: [x]\n", ["q7", "question"]),
        ("  - id: q8\n    type: trivia\n    question: Who?\n", ["q8", "type", "trivia"]),
        ("  - id: q9\n    question: Who?\n    answers: Naryshkin\n", ["q9", "answers"]),
        ("  - id: q10\n    question: '   '\n", ["q10", "question"]),
        ("  - id: m2\n    turns: []\n", ["m2", "turns"]),
        ("  - id: m3\n    turns:\n      - answers: [x]\n", ["m3", "turns.0.question"]),
        ("  - id: m4\n    turns: hello\n", ["m4", "turns"]),
        (
            "  - id: m5\n    question: Who?\n    turns:\n      - question: Who?\n",
            ["m5", "turns"],
        ),
        (
            "  - id: u9\n    question: Budget?\n    unanswerable: true\n    answers: [x]\n",
            ["u9", "unanswerable"],
        ),
        ("  - question: Who?\n", ["cases[0]", "id"]),
        (
            "  - id: q1\n    question: A?\n  - id: q1\n    question: B?\n",
            ["q1", "duplicate"],
        ),
    ],
)
def test_malformed_cases_name_the_case_and_the_field(tmp_path, case_yaml, names):
    path = write(tmp_path, malformed(case_yaml))
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    message = str(err.value)
    assert str(path) in message
    for name in names:
        assert name in message, message
    assert "\n" not in message  # one line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cases: []\n", "'name' is missing"),
        ("name: x\n", "'cases' is missing"),
        ("name: x\ncases: []\n", "non-empty list"),
        ("- just\n- a list\n", "mapping"),
        ("name: x\ncases:\n  - just a string\n", "cases[0] must be a mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_malformed_suites_get_a_readable_error(tmp_path, text, expected):
    with pytest.raises(SuiteError, match=None) as err:
        load_suite(write(tmp_path, text))
    assert expected in str(err.value)


def test_a_missing_file_is_a_readable_error(tmp_path):
    with pytest.raises(SuiteError, match="not found"):
        load_suite(tmp_path / "nope.yaml")


def test_combined_suites_keep_every_case_with_prefixed_ids(tmp_path):
    a = parse_suite(yaml.safe_load(VALID))
    b = parse_suite(
        {"name": "other", "corpus": "corpus/", "cases": [{"id": "x", "question": "Q?"}]}
    )
    both = combine([a, b])
    assert both.name == "corpus-basics+other"
    assert [c.id for c in both.cases][-1] == "other/x"
    assert len(both.cases) == 4


def test_the_shipped_corpus_suite_is_valid_and_covers_every_kind():
    suite = load_suite(REPO / "evals" / "suites" / "corpus.yaml")
    assert len(suite.cases) >= 40
    kinds = {c.type for c in suite.cases}
    assert kinds == {"factoid", "paraphrase", "multi-document", "unanswerable", "multi-turn"}
    corpus = REPO / "corpus"
    for step in steps_of(suite):
        for source in step.turn_data.sources:
            assert (corpus / source).is_file(), f"{step.label}: unknown source {source}"
        # every expected answer term is actually written in one of the expected sources
        if step.turn_data.sources and step.turn_data.answers:
            texts = " ".join(
                (corpus / s).read_text(encoding="utf-8").casefold() for s in step.turn_data.sources
            )
            assert any(a.casefold() in texts for a in step.turn_data.answers), step.label


def test_the_corpus_suite_splits_into_disjoint_committed_halves():
    from evals.suite import split_suite

    suite = load_suite(REPO / "evals" / "suites" / "corpus.yaml")
    dev, test = split_suite(suite, "dev"), split_suite(suite, "test")
    dev_ids, test_ids = {c.id for c in dev.cases}, {c.id for c in test.cases}
    assert dev_ids and test_ids and not dev_ids & test_ids
    assert dev_ids | test_ids == {c.id for c in suite.cases}


def test_a_suite_without_committed_splits_says_so(tmp_path):
    from evals.suite import split_suite

    path = tmp_path / "suites" / "mine.yaml"
    path.parent.mkdir()
    path.write_text("name: mine\ncases:\n  - id: a\n    question: Who?\n", encoding="utf-8")
    with pytest.raises(SuiteError, match="no test split"):
        split_suite(load_suite(path), "test")

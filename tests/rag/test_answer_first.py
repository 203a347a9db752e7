"""Answer first, checked, or refused: the default corpus asked as a new user asks it.

The real index over corpus/, the real reader (spaCy), claim and premise checks, through
`Assistant.ask` with the default backend. Each question is one a new user asked and got a
wrong, long or heading-only answer to before the short-answer reader, the claim check and the
premise check were wired in.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from index.offline import offline_env
from rag.prompts import ABSTAIN_TEXT
from rag.types import Answer

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
RAG = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "rag"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    from index.config import IndexSettings
    from index.pipeline import ingest

    base = tmp_path_factory.mktemp("answer-first")
    docs = base / "docs"
    shutil.copytree(CORPUS, docs)
    ingest([docs], IndexSettings(data_dir=base / "rag"))
    return base / "rag"


@pytest.fixture(scope="module")
def assistant(data_dir):
    from rag.assistant import Assistant
    from rag.config import load_settings

    return Assistant.from_settings(load_settings({"index": {"data_dir": str(data_dir)}}))


def _answered(answer: Answer, name: str) -> None:
    assert answer.error is None and not answer.abstained, answer.to_json()
    assert answer.short_answer is not None, answer.text
    assert name in answer.short_answer.text, answer.short_answer
    assert answer.text.startswith(answer.short_answer.text), answer.text
    cited = {c.n: c for c in answer.citations}
    assert answer.short_answer.n in cited, answer.to_json()
    assert name in cited[answer.short_answer.n].text  # the highlighted quote states it
    assert all(s.supported for s in answer.sentences), answer.to_json()["sentences"]


def test_who_heads_the_cia_leads_with_the_name(assistant):
    _answered(assistant.ask("Who heads the CIA?"), "Ratcliffe")


def test_who_initiated_the_call_is_a_name_not_a_headline(assistant):
    answer = assistant.ask("Who initiated the phone call?")
    _answered(answer, "Ratcliffe")
    assert "2 years: report" not in answer.text  # the article's headline


@pytest.mark.parametrize(
    "question",
    [
        "Which Russian official did Trump call?",  # no such call is reported
        "Who is the deputy director of the CIA?",  # only the director is named
        "Where did they meet in person?",  # they spoke by phone
        "Which European country hosted the talks?",  # no host country is named
    ],
)
def test_what_the_documents_do_not_say_is_refused(assistant, question):
    answer = assistant.ask(question)
    assert answer.abstained, answer.to_json()
    assert answer.text == ABSTAIN_TEXT and not answer.citations


def test_a_word_the_documents_do_not_use_is_no_reason_to_refuse(assistant):
    answer = assistant.ask(
        "What is the name of the alliance of five English-speaking countries mentioned?"
    )
    assert not answer.abstained, answer.abstain_reason


def test_a_follow_up_is_answered_from_the_conversation_not_with_a_heading(assistant):
    first = assistant.ask("Who is the director of the SVR?")
    _answered(first, "Naryshkin")
    history = [("user", "Who is the director of the SVR?"), ("assistant", first.text)]
    follow = assistant.ask("And who was he talking to?", history)
    _answered(follow, "Ratcliffe")


def test_an_invented_claim_is_not_certified(assistant):
    """A model reply naming a call the cited text does not report is flagged unsupported."""
    from rag.backends.base import Passage
    from rag.grounding import check_answer

    hits = assistant.ask("Who initiated the phone call?").hits
    passages = [Passage(i, h.chunk) for i, h in enumerate(hits, 1)]
    result = check_answer(
        "Trump called Sergey Naryshkin [1].",
        passages,
        assistant._support_scorer(),
        question="Which Russian official did Trump call?",
        fallback=False,
        claims=True,
    )
    (verdict,) = result.sentences
    assert not verdict.supported and "Trump" in verdict.reason


def test_rag_ask_json_carries_the_short_answer(data_dir):
    proc = subprocess.run(
        [str(RAG), "ask", "--json", "Who heads the CIA?"],
        capture_output=True,
        text=True,
        timeout=300,
        env=offline_env(RAG_DATA_DIR=str(data_dir)),
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "Ratcliffe" in result["short_answer"]["text"]
    assert result["answer"].startswith(result["short_answer"]["text"])

"""The Assistant around fakes: a scripted backend, a hand-made index and retriever.

The real index and backends are exercised in test_ask_cli.py and test_injection.py.
"""

from __future__ import annotations

import threading

import pytest

from index.types import Chunk
from rag import retrieval as retrieval_pkg
from rag.assistant import Assistant
from rag.backends import registry
from rag.backends.base import BackendError
from rag.backends.openai_backend import OpenAIOptions
from rag.config import load_settings
from rag.prompts import ABSTAIN_TEXT
from rag.testing.fakes import BagEmbedder, FakeIndex, FakeRetriever, ScriptedBackend
from rag.types import Answer, AnswerStream, Message, TextPiece

DOCS = {
    "svr.txt": (
        "CIA Director John Ratcliffe initiated the call with his counterpart, SVR Director "
        "Sergey Naryshkin. The two spy chiefs agreed to maintain regular contact."
    ),
    "cyber.txt": (
        "Russia has been accused of the SolarWinds breach. The Aldrich Ames case highlighted "
        "the dangerous game of intelligence between the two superpowers."
    ),
}
CHUNKS = [
    Chunk(id=f"id-{src}", source=src, title=src.upper(), text=text, position=0, start=0,
          end=len(text), n_tokens=len(text.split()))
    for src, text in DOCS.items()
]  # fmt: skip


@pytest.fixture()
def assistant(monkeypatch, tmp_path):
    monkeypatch.setattr(retrieval_pkg, "build_retriever", lambda *a, **k: FakeRetriever(CHUNKS))
    registry.register("scripted", ScriptedBackend)
    ScriptedBackend.reset()
    FakeRetriever.reset()
    settings = load_settings(
        {
            "index": {"data_dir": str(tmp_path / "rag")},
            "llm": {"backend": "scripted", "rewrite": "heuristic"},
        }
    )
    embedder = BagEmbedder()
    yield Assistant(settings, index=FakeIndex(CHUNKS, embedder), embedder=embedder)
    registry.unregister("scripted")


def test_answer_cites_the_passage_and_records_the_backend(assistant):
    ScriptedBackend.replies = ["SVR Director Sergey Naryshkin took the call from Ratcliffe [1]."]
    answer = assistant.ask("Who is the director of the SVR?")
    assert answer.error is None and not answer.abstained and not answer.fallback
    assert "Naryshkin" in answer.text
    assert [c.source for c in answer.citations] == ["svr.txt"]
    assert answer.backend == "scripted" and answer.model == "scripted-1"
    assert {"retrieval", "rewrite", "first_token", "generation", "grounding", "total"} <= set(
        answer.timings_ms
    )
    assert answer.tokens_in > 0 and answer.tokens_out > 0
    assert answer.context is not None and answer.context.chunks_used == 2
    # the prompt carried the numbered documents and the question
    user = ScriptedBackend.requests[0].messages[-1].content
    assert '<document n="1" source="svr.txt"' in user and "Who is the director" in user


def test_stream_yields_text_then_the_final_answer_last(assistant):
    ScriptedBackend.replies = ["Russia has been accused of the SolarWinds breach [1][7]."]
    items = list(assistant.stream("Which breach is Russia accused of?"))
    assert isinstance(items[-1], Answer)
    assert all(isinstance(i, str) for i in items[:-1]) and len(items) > 2
    assert "[7]" in "".join(items[:-1])  # streamed raw ...
    assert "[7]" not in items[-1].text  # ... the final text is the checked one
    assert items[-1].citations[0].source == "cyber.txt"


def test_unanswerable_question_is_refused_without_calling_the_model(assistant):
    ScriptedBackend.replies = ["Canberra [1]."]
    answer = assistant.ask("What is the capital of Australia?")
    assert answer.abstained and answer.text == ABSTAIN_TEXT
    assert answer.citations == () and answer.abstain_reason
    assert ScriptedBackend.requests == []


def test_model_saying_it_found_nothing_is_an_abstention(assistant):
    ScriptedBackend.replies = [ABSTAIN_TEXT]
    answer = assistant.ask("What did the spy chiefs decide about sanctions?")
    # coverage of this question is partial (0.4), so the model's refusal stands
    assert answer.abstained, answer.to_json()
    assert answer.text == ABSTAIN_TEXT and answer.citations == ()
    assert len(ScriptedBackend.requests) == 1


def test_model_refusal_on_a_fully_covered_question_gives_quotes(assistant):
    ScriptedBackend.replies = [ABSTAIN_TEXT]
    answer = assistant.ask("What did the two spy chiefs agree on?")
    # every key term is in the documents: a tiny model's refusal is overruled by quotes
    assert not answer.abstained and answer.fallback
    assert "regular contact" in answer.text and answer.citations[0].source == "svr.txt"


def test_unsupported_model_answer_falls_back_to_quotes(assistant):
    ScriptedBackend.replies = ["Bananas are yellow and tasty [1]."]
    answer = assistant.ask("Who is the director of the SVR?")
    assert answer.fallback and not answer.abstained
    assert "Naryshkin" in answer.text and answer.citations


@pytest.mark.parametrize("error", [BackendError("server unreachable"), RuntimeError("boom")])
def test_backend_failure_is_an_answer_with_an_error(assistant, error):
    ScriptedBackend.replies = [error]
    answer = assistant.ask("Who is the director of the SVR?")
    assert answer.error and str(error) in answer.error
    assert answer.text and answer.citations == ()
    assert answer.hits  # retrieval still reported


def test_unknown_backend_is_an_answer_with_an_error(assistant):
    answer = assistant.ask("Who is the director of the SVR?", backend="no-such-backend")
    assert answer.error and "no-such-backend" in answer.error


@pytest.mark.parametrize("question", ["", "   ", "x" * 5000])
def test_bad_questions_get_a_clear_message(assistant, question):
    answer = assistant.ask(question)
    assert answer.error and answer.text == answer.error
    assert "question" in answer.error.lower()
    assert ScriptedBackend.requests == []


def test_follow_up_is_rewritten_before_retrieval(assistant):
    ScriptedBackend.replies = ["Ratcliffe called Naryshkin [1]."]
    history = [
        {"role": "user", "content": "Who is the director of the SVR?"},
        {"role": "assistant", "content": "Sergey Naryshkin [1]."},
    ]
    answer = assistant.ask("Who did he speak with?", history)
    assert "Naryshkin" in FakeRetriever.queries[-1]
    assert answer.query == FakeRetriever.queries[-1]
    assert answer.hits[0].chunk.source == "svr.txt"
    roles = [m.role for m in ScriptedBackend.requests[0].messages]
    assert roles == ["system", "user", "assistant", "user"]


def test_capable_model_rewrites_the_follow_up_itself(assistant):
    llm = assistant.settings.llm.model_copy(update={"rewrite": "auto"})
    assistant.settings = assistant.settings.model_copy(update={"llm": llm})
    ScriptedBackend.replies = [
        "Who did SVR Director Sergey Naryshkin speak with?",
        "CIA Director John Ratcliffe initiated the call with Naryshkin [1].",
    ]
    history = [Message("user", "Who is the SVR director?"), Message("assistant", "Naryshkin.")]
    answer = assistant.ask("Who did he speak with?", history)
    assert FakeRetriever.queries[-1] == "Who did SVR Director Sergey Naryshkin speak with?"
    assert "Ratcliffe" in answer.text and answer.citations[0].source == "svr.txt"
    assert "rewrite" in answer.timings_ms


def test_backends_are_cached_by_name_and_options(assistant):
    ScriptedBackend.replies = ["x [1]."] * 3
    assistant.ask("Who is the director of the SVR?")
    assistant.ask("Who is the director of the SVR?")
    assert len(ScriptedBackend.built_with) == 1


class ScriptedServerBackend(ScriptedBackend):
    """The scripted backend with the options of an OpenAI-compatible server."""

    Options = OpenAIOptions


def test_openai_options_give_a_settings_copy(assistant):
    with registry.override("openai", ScriptedServerBackend):
        ScriptedBackend.replies = ["SVR Director Sergey Naryshkin [1]."]
        answer = assistant.ask(
            "Who is the director of the SVR?",
            backend="openai",
            backend_options={"base_url": "http://127.0.0.1:9/v1", "model": "m2"},
        )
        assert answer.error is None
        built = ScriptedBackend.built_with[-1]
        assert built.llm.openai.base_url == "http://127.0.0.1:9/v1"
        assert built.llm.openai.model == "m2"
        assert assistant.settings.llm.openai.model == "default"  # the original is untouched
        bad = assistant.ask("Who?", backend="openai", backend_options={"colour": "red"})
        assert bad.error and "colour" in bad.error
    assert registry.backend_class("openai").__name__ == "OpenAIBackend"  # the real one is back


def test_missing_index_is_a_clear_message(tmp_path):
    settings = load_settings({"index": {"data_dir": str(tmp_path / "none")}})
    assistant = Assistant.from_settings(settings)
    assert "No index found" in assistant.index_problem()
    assert assistant.index_status() is None
    answer = Assistant.from_settings(settings).ask("Who?", backend="extractive")
    assert answer.error and "run `rag index` first" in answer.error


def test_several_users_at_once(assistant):
    ScriptedBackend.replies = ["SVR Director Sergey Naryshkin [1]."] * 8
    results: list[Answer] = []
    lock = threading.Lock()

    def worker(history):
        ans = assistant.ask("Who is the director of the SVR?", history)
        with lock:
            results.append(ans)

    threads = [
        threading.Thread(target=worker, args=([Message("user", f"hi {i}")],)) for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert all(a.error is None and "Naryshkin" in a.text and a.citations for a in results)


def test_reload_index_and_statuses(assistant):
    assert assistant.index_status().documents == 2
    assistant.reload_index()
    names = {s.name for s in assistant.backend_statuses()}
    assert {"scripted", "extractive"} <= names


def test_answer_stream_gives_typed_pieces_then_the_checked_answer(assistant):
    ScriptedBackend.replies = ["Russia has been accused of the SolarWinds breach [1][7]."]
    stream = AnswerStream(assistant.stream("Which breach is Russia accused of?"))
    pieces = list(stream)
    assert pieces and all(isinstance(p, TextPiece) for p in pieces)
    assert "[7]" in "".join(pieces) and "[7]" not in stream.answer.text
    ScriptedBackend.replies = ["SVR Director Sergey Naryshkin [1]."]
    unread = AnswerStream(assistant.stream("Who is the director of the SVR?"))
    assert "Naryshkin" in unread.answer.text  # reading the answer first drains the pieces


def test_failures_before_generation_stream_their_message_once(assistant):
    items = list(assistant.stream("x" * 5000))
    assert [type(i) for i in items] == [TextPiece, Answer]
    assert items[0] == items[1].text == items[1].error and "limit is" in items[1].error

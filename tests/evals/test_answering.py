"""The answering evals: scoring, the committed DEV/TEST splits, near-miss generation, and
figures that do not depend on which backends ran before.

A six-paragraph SQuAD-format file is written in tmp_path; the isolation test indexes it for real
(Chroma, bm25s, the bundled embedder) and asks through the real Assistant with `extractive`
and a deterministic compact-context backend. Tests that read the committed split files against
SQuAD v1.1 dev are skipped when the shared dataset is absent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import pytest

from evals.answering import common as c
from evals.answering import near_miss, squad_open, unanswerable
from rag.backends.base import BackendStatus, ChatRequest, NoOptions

PARAGRAPHS = {
    "Nikola_Tesla": [
        (
            "Nikola Tesla was born in 1856 in Smiljan. He moved to New York City in 1884 to "
            "work for Thomas Edison.",
            [("t0", "When did Tesla move to New York City?", "1884"),
             ("t1", "Where was Nikola Tesla born?", "Smiljan")],
        ),
        (
            "In 1882 Tesla worked in Paris for the Continental Edison Company. He designed "
            "improvements to electrical equipment there.",
            [("t2", "Which company did Tesla work for in Paris?", "Continental Edison Company")],
        ),
        (
            "Tesla built a laboratory in Colorado Springs in 1899. There he experimented with "
            "wireless power and high voltages.",
            [("t3", "In what year did Tesla build a laboratory in Colorado Springs?", "1899")],
        ),
    ],
    "Rhine": [
        (
            "The Rhine rises in the Swiss Alps and flows into the North Sea. It is about 1,230 "
            "kilometres long.",
            [("r0", "How long is the Rhine?", "1,230 kilometres")],
        ),
        (
            "Basel is the first major city on the Rhine after Lake Constance. Cologne and "
            "Düsseldorf lie on the river in Germany.",
            [("r1", "Which city is the first major city on the Rhine after Lake Constance?",
              "Basel")],
        ),
        (
            "The Romans built a bridge over the Rhine near Koblenz in 55 BC under Julius Caesar.",
            [("r2", "Who ordered a bridge over the Rhine in 55 BC?", "Julius Caesar")],
        ),
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> c.SquadData:
    articles = []
    for title, paragraphs in PARAGRAPHS.items():
        paras = []
        for context, qas in paragraphs:
            paras.append(
                {
                    "context": context,
                    "qas": [
                        {"id": i, "question": q, "answers": [{"text": a, "answer_start": 0}]}
                        for i, q, a in qas
                    ],
                }
            )
        articles.append({"title": title, "paragraphs": paras})
    path = tmp_path_factory.mktemp("squad") / "tiny.json"
    path.write_text(json.dumps({"version": "1.1", "data": articles}))
    return c.load_data(path)


# -- scoring ----------------------------------------------------------------------------------


def test_answer_is_found_as_whole_words_after_squad_normalisation():
    assert c.contains_answer("It is about 1230 kilometres long [1].", ["1,230 kilometres"])
    assert c.contains_answer("THE answer: Basel.", ["Basel"])
    assert not c.contains_answer("Baselines are drawn [1].", ["Basel"])
    assert not c.contains_answer("It is long.", ["1,230 kilometres"])


@dataclass(frozen=True)
class _Short:
    text: str


@dataclass(frozen=True)
class _Answer:
    text: str
    abstained: bool = False
    error: str | None = None
    hits: tuple = ()
    timings_ms: dict | None = None
    short_answer: _Short | None = None


class _Asks:
    def __init__(self, answer: _Answer) -> None:
        self.answer = answer

    def ask(self, question, history=(), *, backend=None):
        return self.answer


def _score(answer: _Answer, answers=("Basel",), decoys=()):
    ask = c.Ask("q", "Which city?", tuple(answers), "Rhine/1", tuple(decoys))
    return c.ask_and_score(_Asks(answer), "x", ask)


def test_short_answer_is_scored_when_the_answer_has_one_else_the_whole_reply():
    reply = "Basel is the first major city on the Rhine [1]."
    short = _score(_Answer(reply, timings_ms={"total": 5.0}, short_answer=_Short("Basel")))
    assert (short.short_answer_source, short.f1, short.em, short.correct) == (
        "short_answer", 1.0, 1.0, True
    )  # fmt: skip
    whole = _score(_Answer(reply, timings_ms={"total": 5.0}))
    assert whole.short_answer_source == "reply" and whole.em == 0.0
    assert 0.0 < whole.f1 < 0.5 and whole.correct
    refused = _score(_Answer("I could not find that.", abstained=True, timings_ms={}))
    assert (refused.correct, refused.f1, refused.abstained) == (False, 0.0, True)
    assert refused.hit_at_5 == 0.0


def test_results_aggregate_refusals_and_false_refusals():
    ok = _score(_Answer("Basel [1].", timings_ms={"total": 10.0}))
    refused = _score(_Answer("No.", abstained=True, timings_ms={"total": 30.0}))
    result = squad_open.summarise("test", "x", [ok, refused])
    assert (result.answer_accuracy, result.refusal_rate, result.latency_ms_p50) == (0.5, 0.5, 20.0)
    no_refused = _score(_Answer("No.", abstained=True, timings_ms={}), answers=(), decoys=["Basel"])
    no_misled = _score(_Answer("Basel [1].", timings_ms={}), answers=(), decoys=["Basel"])
    items = [no_refused, no_misled, ok, refused]
    summary = unanswerable.summarise("near-miss", "test", "x", items)
    assert (summary.unanswerable, summary.refusal_rate, summary.misled_rate) == (2, 0.5, 0.5)
    assert (summary.answerable, summary.false_refusal_rate) == (2, 0.5)
    assert "| x | 2 | 0.500 | 2 | 0.500 | 0.500 | 0.500 |" in unanswerable.results_markdown(
        [summary]
    )


# -- splits -----------------------------------------------------------------------------------


def test_article_split_is_disjoint_complete_and_independent_of_input_order():
    titles = [f"Article_{i}" for i in range(48)]
    split = c.article_split(titles)
    assert len(split["dev"]) == len(split["test"]) == 24
    assert set(split["dev"]).isdisjoint(split["test"])
    assert set(split["dev"]) | set(split["test"]) == set(titles)
    assert c.article_split(reversed(titles)) == split
    assert c.article_split(titles, seed=1) != split


def test_out_of_corpus_plan_asks_only_held_out_articles_questions_as_unanswerable(tiny):
    plan = unanswerable.out_of_corpus_plan(tiny, "test", n=5)
    assert set(plan.indexed).isdisjoint(plan.held_out)
    assert all(tiny.questions[i].title in plan.held_out for i in plan.unanswerable)
    assert all(tiny.questions[i].title in plan.indexed for i in plan.answerable)
    assert plan == unanswerable.out_of_corpus_plan(tiny, "test", n=5)


needs_squad = pytest.mark.skipif(not c.DEFAULT_SQUAD.is_file(), reason="SQuAD v1.1 dev absent")


@needs_squad
def test_committed_splits_are_the_seeded_draws_from_the_right_articles():
    data = c.load_data()
    split = c.article_split(data.titles)
    assert len(data.titles) == 48 and len(data.documents) == 2067
    for name, size in squad_open.SAMPLE_SIZES.items():
        ids = c.read_ids(squad_open.split_file(name))
        assert len(ids) == len(set(ids)) == size
        assert {data.questions[i].title for i in ids} <= set(split[name])
        assert ids == squad_open.sample_ids(data, name)
        body = json.loads(unanswerable.split_path("out-of-corpus", name).read_text())
        plan = unanswerable.out_of_corpus_plan(data, name)
        assert body["unanswerable"] == list(plan.unanswerable) and len(plan.unanswerable) == 300
        assert set(plan.indexed) | set(plan.held_out) == set(split[name])


@needs_squad
def test_committed_near_misses_do_not_name_the_swapped_in_entity_where_the_answer_is():
    data = c.load_data()
    paragraphs = data.paragraphs
    for name in c.SPLITS:
        body = json.loads(unanswerable.split_path("near-miss", name).read_text())
        swaps = [near_miss.NearMiss(**x) for x in body["questions"]]
        assert len(swaps) == 300 and len({s.id for s in swaps}) == 300
        for s in swaps:
            q = data.questions[s.id]
            assert q.title in c.article_split(data.titles)[name]
            assert s.original == q.question and s.entity in s.original
            starts = [i for i in range(len(s.original)) if s.original.startswith(s.entity, i)]
            assert s.question in {
                s.original[:i] + s.replacement + s.original[i + len(s.entity) :] for i in starts
            }
            gold = f" {c.m.normalize_answer(paragraphs[q.source])} "
            assert f" {c.m.normalize_answer(s.replacement)} " not in gold


# -- near-miss generation ---------------------------------------------------------------------


def test_near_miss_swaps_one_entity_for_one_the_article_names_elsewhere(tiny):
    swaps = {s.id: s for s in near_miss.near_miss_candidates(tiny, tiny.titles)}
    # Paris -> Colorado Springs is the only swap no paragraph could answer: Smiljan and New
    # York City share a paragraph with Tesla working.
    assert swaps["t2"].question == "Which company did Tesla work for in Colorado Springs?"
    # Every other place in the article is named beside Tesla moving (or in the gold paragraph).
    assert "t0" not in swaps
    for s in swaps.values():
        gold = tiny.paragraphs[tiny.questions[s.id].source]
        assert s.replacement not in gold and s.replacement in "".join(
            d.text for d in tiny.documents_of([tiny.questions[s.id].title])
        )
    assert near_miss.near_miss_candidates(tiny, tiny.titles) == list(swaps.values())


# -- backends side by side --------------------------------------------------------------------


class QuoteFirst:
    """A deterministic compact-context backend (like the local model): quotes the first
    sentence of passage [1] of its cut-down context."""

    name: ClassVar[str] = "quote-first"
    Options: ClassVar[type] = NoOptions
    context_tokens: ClassVar[int | None] = 48
    can_rewrite: ClassVar[bool] = False

    @classmethod
    def from_settings(cls, settings, options=None) -> QuoteFirst:
        return cls()

    model = "quote-first"
    context_window = 4096

    def status(self) -> BackendStatus:
        return BackendStatus(self.name, "available", self.model)

    def stream(self, request: ChatRequest) -> Iterator[str]:
        text = request.passages[0].chunk.text if request.passages else ""
        yield text.split(". ")[0].rstrip(".") + " [1]."


def _figures(assistant, backend: str, data: c.SquadData) -> list[tuple]:
    out = []
    for q in data.questions.values():
        a = assistant.ask(q.question, backend=backend)
        citations = tuple((x.source, x.start, x.end) for x in a.citations)
        out.append((a.text, a.abstained, tuple(s.supported for s in a.sentences), citations))
    return out


class BatchSensitiveEmbedder:
    """Like the int8 ONNX embedder: a text's vector leans towards the other texts of its batch."""

    def __init__(self) -> None:
        from rag.testing.fakes import BagEmbedder

        self.bag = BagEmbedder()

    def embed_documents(self, texts):
        vectors = self.bag.embed_documents(texts)
        return vectors + 0.3 * vectors.mean(axis=0) if len(texts) else vectors

    def embed_query(self, text):
        return self.bag.embed_query(text)


def test_support_scores_do_not_depend_on_what_was_scored_before():
    from rag.backends.base import Passage
    from rag.support import SupportScorer
    from rag.testing.fakes import chunks_from_documents

    chunks = chunks_from_documents(
        {
            "tesla.txt": PARAGRAPHS["Nikola_Tesla"][0][0],
            "rhine.txt": PARAGRAPHS["Rhine"][0][0] + "\n\n" + PARAGRAPHS["Rhine"][2][0],
        }
    )
    passages = [Passage(i + 1, chunk) for i, chunk in enumerate(chunks)]
    claim = "Tesla moved to New York City in 1884."
    fresh, seasoned = (
        SupportScorer(BatchSensitiveEmbedder()),
        SupportScorer(BatchSensitiveEmbedder()),
    )
    seasoned.prepare(chunks[1:], ["The Romans built a bridge."])  # an earlier question's batch
    scores = []
    for scorer in (fresh, seasoned):
        vector = scorer.prepare(chunks, [claim])[0]
        scores.append(scorer.score(claim, vector, passages, pick=True).semantic)
    assert scores[0] == pytest.approx(scores[1], abs=1e-6)


def test_each_backends_figures_are_the_same_alone_or_side_by_side(tiny, tmp_path):
    from rag.assistant import Assistant
    from rag.backends import registry
    from rag.config import load_settings

    base = load_settings({"index": {"data_dir": str(tmp_path / "rag")}})
    settings = c.indexed_settings(base, tiny.documents, "squad", "tiny", tiny.fingerprint)
    with registry.override("quote-first", QuoteFirst):
        alone = {name: _figures(Assistant(settings), name, tiny) for name in ("extractive",
                 "quote-first")}  # fmt: skip
        for order in (("quote-first", "extractive"), ("extractive", "quote-first")):
            shared = Assistant(settings)
            for name in order:
                assert _figures(shared, name, tiny) == alone[name], (order, name)
    assert any(any(s) for _, _, s, _ in alone["extractive"])  # it answered something


# -- rag eval ---------------------------------------------------------------------------------


def test_rag_eval_runs_the_committed_split_and_checks_thresholds(tiny, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from rag.cli import cli

    test_ids = [q.id for q in tiny.questions_of(c.article_split(tiny.titles)["test"])]
    monkeypatch.setattr(squad_open, "SPLITS_DIR", tmp_path / "splits")
    c.write_ids(squad_open.split_file("test"), test_ids, "the tiny file's TEST questions")
    args = ["--data-dir", str(tmp_path / "rag"), "eval", "--squad-open", str(tiny.path)]
    args += ["--split", "test", "--backend", "extractive", "--out", str(tmp_path / "out")]
    done = CliRunner().invoke(cli, [*args, "--fail-under", "hit_at_5=0.5"])
    assert done.exit_code == 0, done.output
    assert f"| extractive | {len(test_ids)} |" in done.output
    written = json.loads((tmp_path / "out" / "squad-open-test.json").read_text())
    assert [x["id"] for x in written[0]["items"]] == test_ids
    missed = CliRunner().invoke(cli, [*args, "--fail-under", "exact_match=1.1"])
    assert missed.exit_code == 1 and "FAIL extractive: exact_match" in missed.output
    unknown = CliRunner().invoke(cli, [*args, "--fail-under", "nonsense=1"])
    assert unknown.exit_code == 2 and "unknown metric 'nonsense'" in unknown.output

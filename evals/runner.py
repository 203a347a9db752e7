"""Run a suite through the assistant, score every question, aggregate per backend.

Every question goes through `rag.assistant.Assistant.ask` (the entry point the CLI and the
web app use); the turns of a conversation are asked in order, each with the earlier turns
(and the assistant's own replies) as history. Scores come from `evals.metrics`; an optional
LLM judge (any registered backend) adds faithfulness and relevance on a 1-5 scale beside
them. This module does not load suites, build indexes or write reports.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from evals import metrics as m
from evals.suite import Step, Suite, steps_of
from rag.backends.base import BackendError, ChatBackend, ChatRequest, complete
from rag.citations import MARKER_RE
from rag.types import Answer, Message

K = 5  # the k of hit@k and recall@k
STAGES = ("retrieval", "first_token", "total")


class AsksQuestions(Protocol):
    def ask(self, question: str, history: Sequence[Message] = (), *, backend: str | None = None):
        """Answer one question (rag.assistant.Assistant.ask)."""
        ...


@dataclass
class StepResult:
    """One scored question: what was asked, what came back, scores and what went wrong."""

    label: str
    case_id: str
    turn: int | None
    case_type: str | None
    question: str
    expected_answers: list[str]
    expected_sources: list[str]
    unanswerable: bool
    answer: str = ""
    abstained: bool = False
    error: str | None = None
    fallback: bool = False
    citations: list[dict[str, Any]] = field(default_factory=list)
    retrieved: list[str] = field(default_factory=list)  # ranked sources, without repeats
    scores: dict[str, float | None] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    judge: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.label,
            "case": self.case_id,
            "turn": self.turn,
            "type": self.case_type,
            "question": self.question,
            "expected_answers": self.expected_answers,
            "expected_sources": self.expected_sources,
            "unanswerable": self.unanswerable,
            "answer": self.answer,
            "abstained": self.abstained,
            "error": self.error,
            "fallback": self.fallback,
            "citations": self.citations,
            "retrieved": self.retrieved,
            "scores": {k: _round(v) for k, v in self.scores.items()},
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "judge": self.judge,
            "problems": self.problems,
        }


@dataclass
class BackendRun:
    name: str
    steps: list[StepResult]
    metrics: dict[str, float | int | None]


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def score_step(step: Step, answer: Answer) -> StepResult:
    """Score one answer against what the suite expects (pure; no assistant needed)."""
    turn = step.turn_data
    expected_sources = set(turn.sources)
    ranked = m.dedupe(h.chunk.source for h in answer.hits)
    cited = [c.source for c in answer.citations]
    answered = not answer.abstained and answer.error is None
    if turn.unanswerable:
        correct: float | None = float(answer.abstained)
    elif turn.answers:
        correct = float(answered and m.answer_correct(answer.text, turn.answers))
    else:
        correct = None
    f1 = None
    if turn.reference and not turn.unanswerable:
        # citation markers ("[1]", "[1, 2]") are not part of the answer's wording
        f1 = m.token_f1(MARKER_RE.sub(" ", answer.text), turn.reference) if answered else 0.0
    supported = [s.supported for s in answer.sentences] if answered else []
    cited_supported = [s.supported for s in answer.sentences if s.citations] if answered else []
    scores = {
        "hit_at_5": m.hit_at_k(ranked, expected_sources, K),
        "recall_at_5": m.recall_at_k(ranked, expected_sources, K),
        "reciprocal_rank": m.reciprocal_rank(ranked, expected_sources),
        "correct": correct,
        "token_f1": f1,
        "citation_precision": m.citation_precision(cited, expected_sources) if answered else None,
        "citation_validity": m.citation_validity(cited_supported),
        "groundedness": m.groundedness(supported),
    }
    result = StepResult(
        label=step.label,
        case_id=step.case_id,
        turn=step.turn,
        case_type=step.case_type,
        question=turn.question,
        expected_answers=list(turn.answers),
        expected_sources=list(turn.sources),
        unanswerable=turn.unanswerable,
        answer=answer.text,
        abstained=answer.abstained,
        error=answer.error,
        fallback=answer.fallback,
        citations=[{"n": c.n, "source": c.source, "text": c.text} for c in answer.citations],
        retrieved=ranked,
        scores=scores,
        timings_ms=dict(answer.timings_ms),
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
    )
    result.problems = _problems(result, answer)
    return result


def _problems(r: StepResult, answer: Answer) -> list[str]:
    """What went wrong, in words, for the per-case table."""
    out: list[str] = []
    s = r.scores
    if r.error:
        out.append(f"backend error: {r.error}")
    if r.unanswerable and not r.abstained:
        out.append("answered a question the documents do not answer")
    if not r.unanswerable and r.abstained:
        reason = f" ({answer.abstain_reason})" if answer.abstain_reason else ""
        out.append(f"refused an answerable question{reason}")
    if s["correct"] == 0.0 and not r.unanswerable and not r.abstained and not r.error:
        out.append(f"no expected answer in the reply (expected one of {r.expected_answers})")
    if s["hit_at_5"] == 0.0:
        out.append(f"no expected source in the top {K} retrieved")
    if s["citation_precision"] is not None and s["citation_precision"] < 1.0:
        wrong = sorted({c["source"] for c in r.citations} - set(r.expected_sources))
        out.append(f"cites unexpected sources: {', '.join(wrong)}")
    if s["groundedness"] is not None and s["groundedness"] < 1.0:
        bad = sum(not x.supported for x in answer.sentences)
        out.append(f"{bad} of {len(answer.sentences)} sentences unsupported")
    if r.fallback:
        out.append("model answer unsupported: extractive fallback used")
    return out


def aggregate(results: Sequence[StepResult]) -> dict[str, float | int | None]:
    """Suite-level metrics from per-question results (the --json metric names)."""

    def col(key: str) -> list[float | None]:
        return [r.scores.get(key) for r in results]

    precision, recall = m.abstention_scores(
        [r.abstained for r in results], [r.unanswerable for r in results]
    )
    out: dict[str, float | int | None] = {
        "hit_at_5": m.mean(col("hit_at_5")),
        "recall_at_5": m.mean(col("recall_at_5")),
        "mrr": m.mean(col("reciprocal_rank")),
        "answer_accuracy": m.mean(col("correct")),
        "token_f1": m.mean(col("token_f1")),
        "citation_precision": m.mean(col("citation_precision")),
        "citation_validity": m.mean(col("citation_validity")),
        "groundedness": m.mean(col("groundedness")),
        "abstention_precision": precision,
        "abstention_recall": recall,
    }
    totals = [r.timings_ms["total"] for r in results if "total" in r.timings_ms]
    out["latency_ms_p50"] = m.percentile(totals, 50)
    out["latency_ms_p95"] = m.percentile(totals, 95)
    for stage in STAGES:
        values = [r.timings_ms[stage] for r in results if stage in r.timings_ms]
        out[f"{stage}_ms_p50"] = m.percentile(values, 50)
        out[f"{stage}_ms_p95"] = m.percentile(values, 95)
    judged = [r.judge for r in results if r.judge]
    if judged:
        out["judge_faithfulness"] = m.mean(j.get("faithfulness") for j in judged)
        out["judge_relevance"] = m.mean(j.get("relevance") for j in judged)
    rounded: dict[str, float | int | None] = {k: _round(v) for k, v in out.items()}
    rounded["tokens_in"] = sum(r.tokens_in for r in results)
    rounded["tokens_out"] = sum(r.tokens_out for r in results)
    rounded["questions"] = len(results)
    rounded["errors"] = sum(r.error is not None for r in results)
    return rounded


JUDGE_SYSTEM = (
    "You grade answers given by a document assistant. Reply with exactly two lines:\n"
    "faithfulness: N\nrelevance: N\n"
    "where N is 1 to 5. Faithfulness: 5 if every claim is supported by the passages, 1 if "
    "none is. Relevance: 5 if the answer addresses the question, 1 if not."
)


def judge_prompt(question: str, answer: str, passages: Sequence[str]) -> tuple[Message, ...]:
    docs = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, start=1)) or "(none)"
    user = f"Passages:\n{docs}\n\nQuestion: {question}\n\nAnswer: {answer}\n\nGrades:"
    return (Message("system", JUDGE_SYSTEM), Message("user", user))


_GRADE = {
    "faithfulness": re.compile(r"faithful\w*\W{0,5}([1-5])", re.I),
    "relevance": re.compile(r"relevan\w*\W{0,5}([1-5])", re.I),
}


def parse_grades(text: str) -> dict[str, int | None]:
    """Grades from a judge's reply; labelled first, else the first two digits 1-5 in order."""
    grades: dict[str, int | None] = {}
    for key, pattern in _GRADE.items():
        found = pattern.search(text)
        grades[key] = int(found.group(1)) if found else None
    if None in grades.values():
        digits = [int(d) for d in re.findall(r"(?<!\d)([1-5])(?!\d)", text)]
        if len(digits) >= 2:
            for key, digit in zip(_GRADE, digits, strict=False):
                grades[key] = grades[key] or digit
    return grades


def judge_answer(judge: ChatBackend, question: str, answer: Answer) -> dict[str, Any]:
    """Ask the judge backend to grade one answer. Never raises: failures are recorded."""
    passages = [c.text for c in answer.citations] or [h.chunk.text for h in answer.hits[:K]]
    request = ChatRequest(
        messages=judge_prompt(question, answer.text, passages),
        question=question,
        max_tokens=24,
        temperature=0.0,
    )
    try:
        reply = complete(judge, request)
    except BackendError as err:
        return {"faithfulness": None, "relevance": None, "error": str(err)}
    return {**parse_grades(reply), "raw": reply.strip()[:200]}


def run_suite(
    suite: Suite,
    assistant: AsksQuestions,
    backend: str,
    *,
    judge: ChatBackend | None = None,
    on_step: Callable[[StepResult], None] | None = None,
) -> BackendRun:
    """Ask every question of the suite with one backend, score it, aggregate."""
    results: list[StepResult] = []
    history: list[Message] = []
    current_case = None
    for step in steps_of(suite):
        if step.case_id != current_case:
            history, current_case = [], step.case_id
        question = step.turn_data.question
        started = time.perf_counter()
        answer: Answer = assistant.ask(question, tuple(history), backend=backend)
        result = score_step(step, answer)
        result.timings_ms.setdefault("total", (time.perf_counter() - started) * 1000)
        if judge is not None and not answer.abstained and answer.error is None:
            result.judge = judge_answer(judge, question, answer)
        results.append(result)
        history += [Message("user", question), Message("assistant", answer.text)]
        if on_step is not None:
            on_step(result)
    return BackendRun(name=backend, steps=results, metrics=aggregate(results))

"""Shared pieces of the answering evaluations over SQuAD v1.1: data, splits, scoring, tables.

- `load_data` reads the SQuAD file through the project's SQuAD loader (every paragraph one
  Document, source `<title>/<paragraph index>`) and keeps every question with its gold answers
  and paragraph.
- `article_split` is the one DEV/TEST split of the 48 articles every answering eval uses
  (sorted titles, shuffled with `SPLIT_SEED`, first half DEV, second half TEST); question id
  lists drawn from it are committed under evals/splits/ and read back with `read_ids`.
- `eval_settings` / `indexed_settings` give the settings an eval runs with: its own cached index
  (built once under the data dir) and greedy decoding (temperature 0), so a backend's figures
  repeat from run to run.
- `ask_and_score` asks one question through the public `Assistant` and scores the reply
  (gold answer contained, short-answer token F1 / EM, gold paragraph in the top 5, refusal).

It does not choose questions for a particular eval (squad_open.py, unanswerable.py do) and
does not print anything.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evals import metrics as m
from index.types import Document
from rag.citations import MARKER_RE

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQUAD = REPO_ROOT.parent / "shared" / "datasets" / "squad" / "dev-v1.1.json"
SPLITS_DIR = REPO_ROOT / "evals" / "splits"
SPLIT_SEED = 20261204
SPLITS = ("dev", "test")
Split = Literal["dev", "test"]
K = 5  # hit@k of the gold paragraph


@dataclass(frozen=True)
class SquadQuestion:
    """One SQuAD question: its gold answers and the paragraph (source) it was written on."""

    id: str
    question: str
    answers: tuple[str, ...]
    title: str  # the article title as in the file ("Super_Bowl_50")
    source: str  # "<title>/<paragraph index>", the Document source of its paragraph


@dataclass(frozen=True)
class SquadData:
    """Every paragraph as a Document and every answerable question of one SQuAD file."""

    path: Path
    documents: tuple[Document, ...]
    questions: dict[str, SquadQuestion]  # in file order
    titles: tuple[str, ...]  # article titles in file order
    fingerprint: str  # identifies the file (and so the corpus)

    @property
    def paragraphs(self) -> dict[str, str]:
        """Paragraph text by source."""
        return {d.source: d.text for d in self.documents}

    def documents_of(self, titles: Iterable[str]) -> list[Document]:
        """The paragraphs of these articles, in file order."""
        wanted = set(titles)
        return [d for d in self.documents if title_of(d.source) in wanted]

    def questions_of(self, titles: Iterable[str]) -> list[SquadQuestion]:
        """The questions of these articles, in file order."""
        wanted = set(titles)
        return [q for q in self.questions.values() if q.title in wanted]


def title_of(source: str) -> str:
    """The article title of a paragraph source ("Super_Bowl_50/3" -> "Super_Bowl_50")."""
    return source.rpartition("/")[0]


def load_data(path: str | Path = DEFAULT_SQUAD) -> SquadData:
    """Read a SQuAD v1.1 file (raises evals.datasets.squad.SquadError with a readable message)."""
    from evals.datasets.squad import load_squad

    squad = load_squad(path, sample=0)
    questions = {}
    for case in squad.suite.cases:
        source = case.sources[0]
        questions[case.id] = SquadQuestion(
            id=case.id,
            question=case.question or "",
            answers=tuple(case.answers),
            title=title_of(source),
            source=source,
        )
    titles = tuple(dict.fromkeys(title_of(d.source) for d in squad.documents))
    return SquadData(Path(path), tuple(squad.documents), questions, titles, squad.fingerprint)


def article_split(titles: Iterable[str], seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """{"dev": first half, "test": second half} of the sorted titles shuffled with `seed`."""
    order = sorted(set(titles))
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    return {"dev": order[:half], "test": order[half:]}


def check_split(split: str) -> Split:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use dev or test")
    return split  # type: ignore[return-value]


def read_ids(path: Path) -> list[str]:
    """The ids of a committed list: one a line; blank lines and '#' comments skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def write_ids(path: Path, ids: Sequence[str], header: str) -> None:
    """Write an id list with a '#' header saying how it was drawn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    comments = "".join(f"# {line}\n" for line in header.splitlines())
    path.write_text(comments + "".join(f"{i}\n" for i in ids), encoding="utf-8")


# -- settings and indexes ---------------------------------------------------------------------


def eval_settings(settings: Any) -> Any:
    """The settings with greedy decoding: a local model's figures repeat from run to run."""
    llm = settings.llm.model_copy(update={"temperature": 0.0})
    return settings.model_copy(update={"llm": llm})


def indexed_settings(
    settings: Any,
    documents: Sequence[Document],
    kind: str,
    name: str,
    fingerprint: str,
    *,
    progress: bool = False,
) -> Any:
    """Eval settings whose index holds `documents`, built once and cached under the data dir."""
    from evals.datasets.cache import cached_index_settings, ensure_index

    index = cached_index_settings(settings.index, kind, name, fingerprint)
    ensure_index(list(documents), index, progress=progress)
    return eval_settings(settings.model_copy(update={"index": index}))


# -- scoring ----------------------------------------------------------------------------------


def _padded(text: str) -> str:
    return f" {m.normalize_answer(text)} "


def contains_answer(reply: str, answers: Iterable[str]) -> bool:
    """A gold answer appears in the reply as whole words, after SQuAD normalisation."""
    padded = _padded(MARKER_RE.sub(" ", reply))
    return any(m.normalize_answer(a) and _padded(a) in padded for a in answers)


def f1_score(prediction: str, answers: Iterable[str]) -> float:
    """SQuAD token F1 against the closest gold answer (0.0 when there is none)."""
    return m.best_token_f1(prediction, answers) or 0.0


def exact_match(prediction: str, answers: Iterable[str]) -> float:
    """SQuAD exact match: 1.0 when the normalised prediction equals a normalised gold answer."""
    norm = m.normalize_answer(prediction)
    return float(any(norm == m.normalize_answer(a) for a in answers))


def short_answer_of(answer: Any) -> tuple[str, str]:
    """(short answer text, where it came from): `Answer.short_answer.text` when the Answer has
    one ("short_answer"), else the whole reply without citation markers ("reply")."""
    short = getattr(answer, "short_answer", None)
    text = getattr(short, "text", None) if short is not None else None
    if isinstance(text, str) and text.strip():
        return text.strip(), "short_answer"
    return " ".join(MARKER_RE.sub(" ", answer.text).split()), "reply"


@dataclass(frozen=True)
class Ask:
    """One question to ask and what a right reply holds."""

    id: str
    question: str
    answers: tuple[str, ...] = ()  # empty: the documents do not answer it
    source: str = ""  # the gold paragraph; "" when it is not in the index
    decoys: tuple[str, ...] = ()  # answers of a question it was made from (near-miss)


@dataclass(frozen=True)
class Scored:
    """One question asked and scored."""

    id: str
    question: str
    answers: tuple[str, ...]  # empty: the documents do not answer it
    reply: str
    short_answer: str
    short_answer_source: str  # "short_answer" or "reply"
    abstained: bool
    error: str | None
    correct: bool  # answered (no refusal, no error) and a gold answer is in the reply
    f1: float
    em: float
    hit_at_5: float | None  # None when there is no gold paragraph in the index
    latency_ms: float
    misled: bool = False  # answered with a decoy (the original question's answer)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {
            "answers": list(self.answers)
        }


def ask_and_score(assistant: Any, backend: str, ask: Ask) -> Scored:
    """Ask through `Assistant.ask` with no history and score the reply."""
    started = time.perf_counter()
    answer = assistant.ask(ask.question, (), backend=backend)
    latency = answer.timings_ms.get("total", (time.perf_counter() - started) * 1000)
    answered = not answer.abstained and answer.error is None
    short, origin = short_answer_of(answer)
    ranked = m.dedupe(h.chunk.source for h in answer.hits)
    has_answers = bool(ask.answers) and answered
    return Scored(
        id=ask.id,
        question=ask.question,
        answers=ask.answers,
        reply=answer.text,
        short_answer=short if answered else "",
        short_answer_source=origin,
        abstained=answer.abstained,
        error=answer.error,
        correct=has_answers and contains_answer(answer.text, ask.answers),
        f1=f1_score(short, ask.answers) if has_answers else 0.0,
        em=exact_match(short, ask.answers) if has_answers else 0.0,
        hit_at_5=m.hit_at_k(ranked, {ask.source}, K) if ask.source else None,
        latency_ms=float(latency),
        misled=answered and contains_answer(answer.text, ask.decoys),
    )


def ask_all(
    assistant: Any,
    backend: str,
    asks: Sequence[Ask],
    on_question: Callable[[Scored], None] | None = None,
) -> tuple[Scored, ...]:
    """`ask_and_score` over the questions, in order."""
    out = []
    for ask in asks:
        scored = ask_and_score(assistant, backend, ask)
        out.append(scored)
        if on_question is not None:
            on_question(scored)
    return tuple(out)


def share(flags: Iterable[bool | float | None]) -> float | None:
    """Mean of the defined values, rounded to 4 places (None when there are none)."""
    value = m.mean(None if f is None else float(f) for f in flags)
    return None if value is None else round(value, 4)


def p50(values: Iterable[float]) -> float | None:
    value = m.percentile(list(values), 50)
    return None if value is None else round(value, 1)


def short_answer_origin(scored: Sequence[Scored]) -> str:
    """Which short answer was scored: "short_answer", "reply", or "mixed"."""
    origins = {s.short_answer_source for s in scored if not s.abstained and s.error is None}
    return origins.pop() if len(origins) == 1 else ("mixed" if origins else "none")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; floats to 3 places, None as "–", numbers right-aligned."""

    def cell(value: Any) -> str:
        if value is None:
            return "–"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    first = rows[0] if rows else [""] * len(header)
    align = ["---:" if isinstance(v, int | float) else "---" for v in first]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"

"""Open-book SQuAD: ask SQuAD v1.1 dev questions over an index of all 2,067 paragraphs.

The corpus is every paragraph of the file (one document each, title = article title), indexed
once into its own cached collection. The questions are a seeded sample of the DEV or TEST
articles' questions (common.article_split), committed as id lists:
evals/splits/squad-open-test.txt (500) and squad-open-dev.txt (300); any prefix of a list is
itself a random sample, so `limit` keeps the figures comparable. Each question goes through
the public `Assistant` with no history; per backend the result gives answer accuracy (a gold
answer in the reply), short-answer token F1 and exact match, hit@5 of the gold paragraph,
refusal rate (every question is answerable, so every refusal is a false one) and latency p50.

`python -m evals.answering.squad_open --split test --backend extractive` prints the table;
`--write-splits` regenerates the id lists (the same ones: the draw is seeded). Tune on dev,
report test. This module does not build the index itself (evals.datasets does) or rank.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from evals.answering.common import (
    DEFAULT_SQUAD,
    SPLIT_SEED,
    SPLITS_DIR,
    Ask,
    Scored,
    SquadData,
    article_split,
    ask_all,
    check_split,
    indexed_settings,
    load_data,
    markdown_table,
    p50,
    read_ids,
    share,
    short_answer_origin,
    write_ids,
)

SAMPLE_SIZES = {"test": 500, "dev": 300}


def split_file(split: str) -> Path:
    return SPLITS_DIR / f"squad-open-{check_split(split)}.txt"


def sample_ids(data: SquadData, split: str, n: int | None = None) -> list[str]:
    """A seeded sample of the split's questions, in draw order (any prefix is random too)."""
    titles = article_split(data.titles)[check_split(split)]
    pool = sorted(q.id for q in data.questions_of(titles))
    n = SAMPLE_SIZES[split] if n is None else n
    return random.Random(SPLIT_SEED).sample(pool, min(n, len(pool)))


def write_splits(data: SquadData) -> list[Path]:
    """Write the committed id lists (the same lists every time)."""
    out = []
    for split in ("dev", "test"):
        path = split_file(split)
        header = (
            f"SQuAD v1.1 dev question ids: open-book {split.upper()} sample "
            f"(articles of the {split.upper()} half, seed {SPLIT_SEED}), in draw order."
        )
        write_ids(path, sample_ids(data, split), header)
        out.append(path)
    return out


@dataclass(frozen=True)
class SquadOpenResult:
    """One backend's open-book SQuAD figures on one split."""

    split: str
    backend: str
    questions: int
    answer_accuracy: float | None
    token_f1: float | None
    exact_match: float | None
    hit_at_5: float | None
    refusal_rate: float | None  # all questions are answerable: these are false refusals
    errors: int
    latency_ms_p50: float | None
    short_answer_source: str  # "short_answer" (Answer.short_answer.text) or "reply"
    items: tuple[Scored, ...]

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "items"}
        return data | {"items": [s.to_json() for s in self.items]}


def summarise(split: str, backend: str, items: Sequence[Scored]) -> SquadOpenResult:
    """Aggregate scored questions into the result (pure)."""
    return SquadOpenResult(
        split=split,
        backend=backend,
        questions=len(items),
        answer_accuracy=share(s.correct for s in items),
        token_f1=share(s.f1 for s in items),
        exact_match=share(s.em for s in items),
        hit_at_5=share(s.hit_at_5 for s in items),
        refusal_rate=share(s.abstained for s in items),
        errors=sum(s.error is not None for s in items),
        latency_ms_p50=p50(s.latency_ms for s in items),
        short_answer_source=short_answer_origin(items),
        items=tuple(items),
    )


def open_book_settings(data: SquadData, settings: Any, progress: bool = False) -> Any:
    """Settings over the cached index of every paragraph of the file (built on first use)."""
    return indexed_settings(
        settings,
        data.documents,
        "squad",  # the same cache as `rag eval --squad FILE --sample 0`
        data.path.stem,
        data.fingerprint,
        progress=progress,
    )


def run_squad_open(
    split: str,
    backends: Sequence[str],
    settings: Any,
    *,
    path: str | Path = DEFAULT_SQUAD,
    limit: int | None = None,
    progress: bool = False,
    on_question: Callable[[Scored], None] | None = None,
) -> list[SquadOpenResult]:
    """Ask the split's committed questions (the first `limit`) with each backend in turn.

    One Assistant serves every backend, as in the web app: its figures for a backend are the
    same whether or not other backends ran before it."""
    from rag.assistant import Assistant

    data = load_data(path)
    ids = read_ids(split_file(split))[:limit]
    missing = [i for i in ids if i not in data.questions]
    if missing:
        raise ValueError(f"{path}: {len(missing)} committed ids are not in the file: {missing[:3]}")
    assistant = Assistant(open_book_settings(data, settings, progress))
    chosen = [data.questions[i] for i in ids]
    asks = [Ask(q.id, q.question, q.answers, q.source) for q in chosen]
    return [
        summarise(split, name, ask_all(assistant, name, asks, on_question)) for name in backends
    ]


def results_markdown(results: Sequence[SquadOpenResult], title: str = "") -> str:
    """The results as one Markdown table, a row per backend."""
    header = [
        "backend", "questions", "accuracy", "F1", "EM", "hit@5",
        "refusals", "errors", "p50 ms", "short answer from",
    ]  # fmt: skip
    rows = [
        [
            r.backend,
            r.questions,
            r.answer_accuracy,
            r.token_f1,
            r.exact_match,
            r.hit_at_5,
            r.refusal_rate,
            r.errors,
            None if r.latency_ms_p50 is None else round(r.latency_ms_p50),
            r.short_answer_source,
        ]
        for r in results
    ]
    split = results[0].split.upper() if results else ""
    heading = title or f"## Open-book SQuAD v1.1 ({split}, 2,067 paragraphs indexed)"
    return f"{heading}\n\n{markdown_table(header, rows)}"


@click.command()
@click.option("--split", type=click.Choice(["dev", "test"]), default="dev", show_default=True)
@click.option("--backend", "backends", multiple=True, help="Backend to evaluate (repeatable).")
@click.option("--squad", "path", type=click.Path(dir_okay=False), default=str(DEFAULT_SQUAD))
@click.option("--limit", type=int, default=None, help="Only the first N committed questions.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None)
@click.option(
    "--write-splits", "regenerate", is_flag=True, help="Regenerate evals/splits/squad-open-*.txt."
)
def main(
    split: str,
    backends: tuple[str, ...],
    path: str,
    limit: int | None,
    json_out: str | None,
    regenerate: bool,
) -> None:
    """Open-book SQuAD answer accuracy, F1/EM, hit@5, refusals and latency per backend."""
    from evals.answering.cli import script_main

    script_main(
        squad_open=path,
        split=split,
        backends=backends,
        limit=limit,
        json_out=json_out,
        write_splits=write_splits if regenerate else None,
    )


if __name__ == "__main__":
    main()

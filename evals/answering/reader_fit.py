"""Fit the short-answer reader's ranker and confidence where the product uses them: the model
the product ships (`rag/reader_model.json`).

    python -m evals.answering.span_fit F0 --fold 0 && python -m evals.answering.span_fit F1 --fold 1
    python -m evals.answering.reader_fit rag/reader_model.json --span-folds F0 F1
    python -m evals.answering.reader_eval --split dev --model FILE   # then measure it

The reader reads the passages retrieval returns, not one gold paragraph, so it is fitted on
those too: every question of the DEV articles (evals.answering.common.article_split) except
the committed open-book DEV sample (evals/splits/squad-open-dev.txt, kept for choosing
settings end to end) is searched through the public `Assistant` over the cached open-book
index of every SQuAD paragraph, and `rag.reader.candidates` lists the candidate spans of its
top passages; the same question is also read from its gold paragraph alone. Each candidate's
"span" feature comes from the span model trained without the half of the DEV articles that
holds its question (`span_fit --fold`), so the trees learn how far to trust that score on
articles it has not seen, as in the product. Then:

- the ranker: LightGBM LambdaRank trees ordering each question's candidates by their token F1
  (`reader_eval.TREES`), on both readings of each question, stored as JSON by `rag.reader_trees`
  (LightGBM is a dev dependency; the product evaluates the trees with numpy);
- the confidence: a logistic regression of "the pick has token F1 >= 0.5" on the pick's inputs
  (`rag.reader.CONFIDENCE_INPUTS`), fitted on the retrieved-passage readings' picks by trees
  of the other folds (5 folds grouped by article), so that its probabilities hold for
  questions the trees have not seen, read as the product reads them.

Chosen on DEV (held-out folds, and the 300 open-book DEV questions none of them saw): trees
fitted on gold paragraphs only pick F1 0.448 in 5-fold CV over retrieved passages, on
retrieved passages only 0.459; on the 300 held-out questions 0.385, 0.411, and on both
readings 0.428 (without the span feature). A confidence fitted on the trees' own (in-sample)
picks ran high.

It never reads TEST. It does not measure (reader_eval.py and squad_open.py do).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.answering.common import (
    SquadQuestion,
    article_split,
    f1_score,
    load_data,
    read_ids,
)
from evals.answering.reader_eval import TREES, fit_confidence, fit_trees, passage_of
from rag import reader
from rag.backends.base import Passage
from rag.reader_trees import from_lightgbm
from rag.span_model import SpanModel

FOLDS = 5


@dataclass(frozen=True)
class Read:
    """One question's candidates as the reader sees them, and how good each one is."""

    title: str  # the article: folds never split one
    retrieved: bool  # read from retrieved passages (else from the gold paragraph alone)
    candidates: list[reader.Candidate]
    inputs: Any  # the trees' inputs (rag.reader.model_inputs), one row a candidate
    f1: Any  # each candidate's token F1 against the gold answers


def retrieved_passages(assistant: Any, question: str) -> list[Passage]:
    """The passages the reader gets for `question`: the retrieved chunks, numbered in rank
    order without repeats (what `rag.context.pack_context` keeps when they fit)."""
    hits, _ = assistant.search(question)
    chunks = list({h.chunk.id: h.chunk for h in hits}.values())
    return [Passage(n, chunk) for n, chunk in enumerate(chunks, start=1)]


def read_one(
    q: SquadQuestion, passages: Sequence[Passage], retrieved: bool, span_model: SpanModel
) -> Read | None:
    """The question's candidates from `passages` with their F1, or None when there are none;
    `span_model` gives their "span" feature."""
    import numpy as np

    cands = reader.candidates(q.question, passages)
    if not cands:
        return None
    spans = [reader.parse(passages[c.passage].chunk.text).span_text(c.first, c.last) for c in cands]
    features = reader.feature_matrix(q.question, passages, cands, span_model=span_model)
    x = reader.model_inputs(features)
    return Read(q.title, retrieved, cands, x, np.array([f1_score(s, q.answers) for s in spans]))


def dev_reads(
    span_models: Sequence[SpanModel],
    on_progress: Callable[[int, int], None] | None = None,
    sample: int = 0,
) -> list[Read]:
    """Every DEV question outside the open-book DEV sample, read from its retrieved passages
    and from its gold paragraph alone; its "span" feature from `span_models[k]`, trained
    without the half k of the DEV articles (`span_fit --fold k`) that holds the question.
    `sample` > 0 reads that many of them (drawn with seed 0)."""
    from evals.answering.span_fit import fold_articles
    from evals.answering.squad_open import open_book_settings, split_file
    from rag.assistant import Assistant
    from rag.config import load_settings

    data = load_data()
    held = set(read_ids(split_file("dev")))
    dev = article_split(data.titles)["dev"]
    fold_of = {t: k for k in (0, 1) for t in fold_articles(dev, k)}
    qs = [q for q in data.questions_of(dev) if q.id not in held]
    if 0 < sample < len(qs):
        qs = random.Random(0).sample(qs, sample)
    assistant = Assistant(open_book_settings(data, load_settings(), progress=True))
    out = []
    texts = data.paragraphs
    for done, q in enumerate(qs, start=1):
        model = span_models[fold_of[q.title]]
        for read in (
            read_one(q, retrieved_passages(assistant, q.question), True, model),
            read_one(q, [passage_of(texts[q.source], q.title)], False, model),
        ):
            if read is not None:
                out.append(read)
        if on_progress is not None:
            on_progress(done, len(qs))
    return out


def _triples(reads: Sequence[Read]) -> list[tuple[list[reader.Candidate], Any, Any]]:
    return [(r.candidates, r.inputs, r.f1) for r in reads]


def out_of_fold_scores(reads: Sequence[Read]) -> list[tuple[list[reader.Candidate], Any, Any]]:
    """Each read from retrieved passages as (candidates, scores, F1s), scored by trees fitted
    on the other folds' articles."""
    from sklearn.model_selection import GroupKFold

    scored = []
    folds = GroupKFold(FOLDS).split(reads, groups=[r.title for r in reads])
    for train, held in folds:
        model = fit_trees(_triples([reads[i] for i in train]))
        for read in (reads[i] for i in held if reads[i].retrieved):
            scored.append((read.candidates, model.predict(read.inputs), read.f1))
    return scored


def fit(reads: Sequence[Read]) -> dict:
    """The model file's content: trees fitted on every read, the confidence on out-of-fold
    picks from retrieved passages (where the product reads)."""
    trees = from_lightgbm(fit_trees(_triples(reads)).booster_.dump_model())
    return {
        "features": list(reader.MODEL_FEATURES),
        "questions": sum(r.retrieved for r in reads),
        "settings": TREES,
        "confidence": fit_confidence(out_of_fold_scores(reads)),
        "model": trees.to_json(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="where to write the model (rag/reader_model.json)")
    ap.add_argument(
        "--span-folds",
        type=Path,
        nargs=2,
        required=True,
        metavar=("FOLD0", "FOLD1"),
        help="span models written by `span_fit --fold 0` and `--fold 1`",
    )
    ap.add_argument("--sample", type=int, default=0, help="DEV questions to read (0 = all)")
    args = ap.parse_args(argv)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 500 == 0 or done == total:
            print(f"read {done}/{total} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    models = [SpanModel.load(path) for path in args.span_folds]
    reads = dev_reads(models, progress, args.sample)
    fitted = fit(reads)
    fitted["fitted_on"] = (
        f"SQuAD v1.1 dev, DEV articles without the open-book DEV sample, {fitted['questions']} "
        "questions read from their retrieved passages and from their gold paragraph, span "
        "scores from span models trained without the question's half of the DEV articles"
    )
    args.out.write_text(json.dumps(fitted) + "\n")
    print(json.dumps({k: v for k, v in fitted.items() if k != "model"}))
    print(f"fitted in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

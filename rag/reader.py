"""The short-answer reader: the few words of the passages that answer a question, or None.

`read(question, passages)` ranks the candidate spans of `rag.reader_features.candidates`
(entities of the expected answer type, noun phrases, in the sentences that best match the
question), each with one more feature, "span": the score `rag.span_model` (the bundled MiniLM
fine-tuned as a SQuAD reader) gives it. Gradient-boosted trees learnt, on SQuAD v1.1 DEV
questions, to order a question's candidates by their token F1 (LambdaRank), from each
candidate's features and how they compare with the other candidates' (`reader_model.json`,
written by `evals/answering/reader_fit.py`, evaluated by `rag.reader_trees`; a hand-set
linear scorer when the file is missing). The pick is returned as a `ShortAnswer` with document
offsets of the span and of its supporting sentence, with the probability that it is right
(a logistic fit on DEV of its score and its sentence's match). It returns None when that
probability is below `MIN_SCORE`, or when the question asks for a type (a person, a date, a
number...) the pick is not of: leading with the quoted sentence beats a confident wrong
phrase.

It does not retrieve, generate or check claims; it only reads the passages it is given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.answer_types import type_of
from rag.backends.base import Passage
from rag.reader_features import FEATURES, Candidate, candidates
from rag.reader_text import Parsed, parse
from rag.reader_trees import Trees, from_json
from rag.span_model import SpanModel, default_span_model
from rag.types import ShortAnswer

__all__ = [
    "FEATURES",
    "MODEL_FEATURES",
    "Candidate",
    "ShortAnswer",
    "candidates",
    "feature_matrix",
    "parse",
    "rank",
    "read",
]

# What the trees see of a candidate: its features and the neural span model's score.
MODEL_FEATURES = (*FEATURES, "span")


# Hand-set weights of a linear scorer (features not named weigh 0): the fallback when the
# fitted model is missing or was fitted for other features.
HAND_WEIGHTS = {
    "sentence": 1.0,
    "sentence_rank": -0.3,
    "sentence_gap": 1.0,
    "dense": 1.0,
    "type": 2.0,
    "head": 0.5,
    "in_question": -2.0,
    "near": 1.0,
    "tree": 1.0,
    "window": 1.0,
    "length": -0.2,
}
MODEL_FILE = Path(__file__).with_name("reader_model.json")
Scorer = Callable[[np.ndarray], np.ndarray]


def model_inputs(features: np.ndarray) -> np.ndarray:
    """What the trees see of one question's candidates (rows): each feature, and its
    difference to the best and to the mean value among the question's candidates (three
    columns a feature)."""
    return np.hstack([features, features - features.max(0), features - features.mean(0)])


def hand_scorer(features: np.ndarray) -> np.ndarray:
    """The hand-set linear scorer."""
    return features @ np.array([HAND_WEIGHTS.get(f, 0.0) for f in MODEL_FEATURES])


def tree_scorer(trees: Trees) -> Scorer:
    """Each candidate's score from the fitted trees: higher for a higher expected token F1
    (an order, not an F1; the confidence turns the pick's score into a probability)."""
    return lambda features: trees.predict(model_inputs(features))


def load_model(path: Path = MODEL_FILE) -> tuple[Scorer, tuple[float, ...], float]:
    """(candidate scorer, confidence weights, confidence bias) fitted on SQuAD DEV questions
    (evals/answering/reader_fit.py), or hand-set ones when the file is missing or was
    fitted for other features."""
    try:
        fitted = json.loads(path.read_text(encoding="utf-8"))
        conf = fitted["confidence"]
        if (
            tuple(fitted["features"]) == MODEL_FEATURES
            and tuple(conf["inputs"]) == CONFIDENCE_INPUTS
        ):
            return (
                tree_scorer(from_json(fitted["model"], inputs=3 * len(MODEL_FEATURES))),
                tuple(float(w) for w in conf["weights"]),
                float(conf["bias"]),
            )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    return hand_scorer, (5.0, -1.0, 1.0, 1.0), -3.0


# The product's default (GroundingSettings.min_short_answer_score), chosen on open-book DEV end
# to end: the confidence, fitted on out-of-fold picks, is calibrated low.
MIN_SCORE = 0.2


def read(
    question: str,
    passages: Sequence[Passage],
    *,
    parser: Callable[[str], Parsed] = parse,
    min_score: float = MIN_SCORE,
) -> ShortAnswer | None:
    """The short answer to `question` from `passages`, or None when its confidence is below
    `min_score` or it is not of the asked-for type."""
    ranked = rank(question, passages, parser=parser)
    if not ranked:
        return None
    best, value = ranked[0]
    score = confidence(best, value)
    if score < min_score or not fits_type(best):
        return None
    chunk = passages[best.passage].chunk
    parsed = parser(chunk.text)
    start = parsed.tokens[best.first].start
    end = parsed.tokens[best.last - 1].end
    s_first, s_last = best.sentence
    return ShortAnswer(
        text=chunk.text[start:end],
        n=passages[best.passage].n,
        start=chunk.start + start,
        end=chunk.start + end,
        sentence_start=chunk.start + parsed.tokens[s_first].start,
        sentence_end=chunk.start + parsed.tokens[s_last - 1].end,
        kind=type_of(parser(question)).kind,
        score=round(score, 3),
    )


def fits_type(best: Candidate) -> bool:
    """False when the question asks for a type (a person, a date...) the pick is not of."""
    by_name = dict(zip(FEATURES, best.features, strict=True))
    return by_name["type"] > 0 or by_name["typed"] == 0


CONFIDENCE_INPUTS = ("score", "lacks_predicate", "coverage", "dense")


def confidence_inputs(best: Candidate, score: float) -> tuple[float, ...]:
    """What the confidence is computed from: the pick's score (from the trees), whether its
    sentence states the question's predicate, how much of the question it covers and how
    close it is in meaning."""
    by_name = dict(zip(FEATURES, best.features, strict=True))
    return (score, by_name["lacks_predicate"], by_name["coverage"], by_name["dense"])


def confidence(best: Candidate, score: float) -> float:
    """Probability that the pick is right (token F1 >= 0.5), fitted on SQuAD DEV."""
    z = CONFIDENCE_BIAS + sum(
        w * x for w, x in zip(CONFIDENCE_WEIGHTS, confidence_inputs(best, score), strict=True)
    )
    return 1.0 / (1.0 + math.exp(-z))


def feature_matrix(
    question: str,
    passages: Sequence[Passage],
    cands: Sequence[Candidate],
    *,
    parser: Callable[[str], Parsed] = parse,
    span_model: SpanModel | None = None,
) -> np.ndarray:
    """One row a candidate: its features and the span model's score (`span_model`, else the
    shipped one; 0 when there is none)."""
    base = np.array([c.features for c in cands], dtype=np.float64).reshape(len(cands), -1)
    model = span_model or default_span_model()
    span = np.zeros(len(cands))
    if model is not None and cands:
        spans = []
        for c in cands:
            tokens = parser(passages[c.passage].chunk.text).tokens
            spans.append((c.passage, tokens[c.first].start, tokens[c.last - 1].end))
        span = model.scores(question, [p.chunk.text for p in passages], spans)
    return np.hstack([base, span[:, None]])


def rank(
    question: str,
    passages: Sequence[Passage],
    *,
    parser: Callable[[str], Parsed] = parse,
    scorer: Scorer | None = None,
    span_model: SpanModel | None = None,
) -> list[tuple[Candidate, float]]:
    """Every candidate with its score (from the fitted trees), best first."""
    cands = candidates(question, passages, parser=parser)
    if not cands:
        return []
    features = feature_matrix(question, passages, cands, parser=parser, span_model=span_model)
    scores = (scorer or SCORER)(features)
    order = sorted(range(len(cands)), key=lambda k: -scores[k])
    return [(cands[k], float(scores[k])) for k in order]


SCORER, CONFIDENCE_WEIGHTS, CONFIDENCE_BIAS = load_model()

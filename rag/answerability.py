"""How likely the retrieved passages hold the answer: a logistic model over retrieval signals.

A single coverage threshold mixes up two things: a question whose words are spread thinly
over five passages (nothing there answers it) and one whose words sit together in one
sentence (that sentence likely answers it). `probability(signals)` weighs, for the question's
IDF-weighted key terms, the share found in all hits together, in the best single passage, in
the top passage and in the best two-sentence stretch, plus the best dense cosine and whether
a name of the question never occurs in the corpus. The weights and the refusal threshold are
fitted on DEV questions only (SQuAD out-of-corpus and open-book questions, the repo suite's
DEV half) by `evals/answering/answerability_fit.py`, which writes `answerability_weights.json`
beside this module with what it was fitted on.

The dense cosine is that of the bundled all-MiniLM-L6-v2; another embedder shifts it, so the
rules of rag.abstain (`grounding.refusal_model = false`) are the fallback there. This module
decides nothing by itself and retrieves nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.abstain import AbstainSignals

WEIGHTS_FILE = Path(__file__).with_name("answerability_weights.json")
FEATURES = (
    "known_coverage",  # share of the key terms some document uses, in all hits together
    "passage_coverage",  # ... in the best single passage (title included)
    "top_coverage",  # ... in the top-ranked passage
    "sentence_coverage",  # ... in the best two-sentence stretch (with the passage's title)
    "best_dense",  # best cosine between question and a hit
    "unknown_name",  # 1 when a name or number of the question never occurs in the corpus
)


@dataclass(frozen=True)
class AnswerabilityModel:
    """Logistic weights over `FEATURES`; refuse when P(answerable) is below `threshold`."""

    weights: tuple[float, ...]
    intercept: float
    threshold: float

    def probability(self, values: tuple[float, ...]) -> float:
        """P(the passages hold the answer) for the feature values, in `FEATURES` order."""
        z = self.intercept + sum(w * v for w, v in zip(self.weights, values, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


def feature_values(signals: AbstainSignals) -> tuple[float, ...]:
    """The model's inputs from the retrieval signals, in `FEATURES` order."""
    return (
        signals.known_coverage,
        signals.passage_coverage,
        signals.top_coverage,
        signals.sentence_coverage,
        signals.best_dense if signals.best_dense is not None else 0.0,
        1.0 if signals.missing_names else 0.0,
    )


@cache
def default_model(path: Path = WEIGHTS_FILE) -> AnswerabilityModel | None:
    """The fitted model, or None when the weights file is missing or does not fit FEATURES."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            return None
        return AnswerabilityModel(
            weights=tuple(float(w) for w in data["weights"]),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None

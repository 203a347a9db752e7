"""The refusal model's fit: weights over every feature, a threshold that keeps false refusals
at the DEV limit, figures per source (synthetic examples; the real fit reads DEV data)."""

from __future__ import annotations

import random

from evals.answering.answerability_fit import MAX_FALSE_REFUSALS, Example, fit
from rag.answerability import FEATURES, AnswerabilityModel


def _examples(n: int, answerable: bool, source: str, rng: random.Random) -> list[Example]:
    def value() -> float:
        return min(1.0, max(0.0, rng.gauss(0.7 if answerable else 0.35, 0.15)))

    return [
        Example(
            source,
            f"{source}-{answerable}-{i}",
            answerable,
            (*(value() for _ in FEATURES[:-1]), 0.0),
        )
        for i in range(n)
    ]


def test_fit_separates_answerable_from_unanswerable_and_keeps_false_refusals_low() -> None:
    rng = random.Random(7)
    examples = _examples(200, True, "squad", rng) + _examples(200, False, "squad", rng)
    examples += _examples(30, True, "suite", rng) + _examples(10, False, "suite", rng)
    fitted = fit(examples)
    assert fitted["features"] == list(FEATURES)
    model = AnswerabilityModel(tuple(fitted["weights"]), fitted["intercept"], fitted["threshold"])
    refused = [model.probability(e.values) < model.threshold for e in examples]
    answerable = [r for r, e in zip(refused, examples, strict=True) if e.answerable]
    unanswerable = [r for r, e in zip(refused, examples, strict=True) if not e.answerable]
    assert sum(answerable) / len(answerable) <= MAX_FALSE_REFUSALS + 0.01
    assert sum(unanswerable) / len(unanswerable) > 0.5  # the classes are well apart here
    assert set(fitted["dev_figures"]) == {"squad", "suite"}
    assert fitted["dev_figures"]["suite"]["answerable"] == 30

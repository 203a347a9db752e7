"""Eval metrics as pure functions: retrieval, answers, citations, abstention, latency, nDCG.

Every function takes plain values (ranked source names, answer text, flags) and returns a
number, or None where the metric is undefined for that input (no expected sources, no
citations...); `mean` skips the Nones. Nothing here calls the assistant or reads files.
Definitions follow the usual references: token F1 uses the SQuAD v1.1 normalisation, nDCG
uses linear gains and log2 discounts as trec_eval (and so BEIR) does.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np

# Metrics on a 0-1 scale, in the order reports show them.
QUALITY_METRICS = (
    "hit_at_5",
    "recall_at_5",
    "mrr",
    "answer_accuracy",
    "token_f1",
    "citation_precision",
    "citation_validity",
    "groundedness",
    "abstention_precision",
    "abstention_recall",
)


def dedupe(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats (chunk hits -> ranked documents)."""
    return list(dict.fromkeys(items))


def hit_at_k(ranked: Sequence[str], expected: Collection[str], k: int) -> float | None:
    """1.0 if any of the first k ranked items is expected, else 0.0 (None: nothing expected)."""
    if not expected:
        return None
    return 1.0 if any(item in expected for item in ranked[:k]) else 0.0


def recall_at_k(ranked: Sequence[str], expected: Collection[str], k: int) -> float | None:
    """Share of the expected items found among the first k ranked items."""
    if not expected:
        return None
    found = set(ranked[:k]) & set(expected)
    return len(found) / len(set(expected))


def reciprocal_rank(
    ranked: Sequence[str], expected: Collection[str], k: int | None = None
) -> float | None:
    """1 / rank of the first expected item (0.0 if none within k); mean over cases is MRR."""
    if not expected:
        return None
    for rank, item in enumerate(ranked[:k] if k else ranked, start=1):
        if item in expected:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """nDCG@k with graded relevance: sum(rel / log2(rank + 1)) over the ideal ordering's."""
    dcg = sum(
        relevance.get(item, 0) / math.log2(rank + 1)
        for rank, item in enumerate(ranked[:k], start=1)
    )
    ideal = sorted((r for r in relevance.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(rank + 1) for rank, r in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def _fold(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.casefold().split())


def answer_correct(answer: str, answers: Iterable[str]) -> bool:
    """True if any expected answer appears in the answer (case and spacing ignored)."""
    folded = _fold(answer)
    return any(_fold(expected) in folded for expected in answers)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between a prediction and one reference answer."""
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_token_f1(prediction: str, references: Iterable[str]) -> float | None:
    """The best F1 over several references (SQuAD scores against each gold answer)."""
    scores = [token_f1(prediction, ref) for ref in references]
    return max(scores) if scores else None


def citation_precision(cited_sources: Sequence[str], expected: Collection[str]) -> float | None:
    """Share of citations that point into an expected source (None: no citations/expected)."""
    if not cited_sources or not expected:
        return None
    return sum(src in expected for src in cited_sources) / len(cited_sources)


def citation_validity(cited_sentence_supported: Sequence[bool]) -> float | None:
    """Share of sentences carrying citations whose cited text supports them."""
    if not cited_sentence_supported:
        return None
    return sum(cited_sentence_supported) / len(cited_sentence_supported)


def groundedness(sentence_supported: Sequence[bool]) -> float | None:
    """Share of answer sentences supported by what they cite (None: no sentences)."""
    if not sentence_supported:
        return None
    return sum(sentence_supported) / len(sentence_supported)


def abstention_scores(
    abstained: Sequence[bool], unanswerable: Sequence[bool]
) -> tuple[float | None, float | None]:
    """(precision, recall) of refusing, with 'unanswerable' as the positive class.

    Precision: of the refusals, the share that were on unanswerable questions (an answerable
    question wrongly refused lowers it). Recall: of the unanswerable questions, the share
    refused. None where the denominator is zero.
    """
    if len(abstained) != len(unanswerable):
        raise ValueError("abstained and unanswerable must have the same length")
    tp = sum(a and u for a, u in zip(abstained, unanswerable, strict=True))
    refused = sum(abstained)
    positives = sum(unanswerable)
    precision = tp / refused if refused else None
    recall = tp / positives if positives else None
    return precision, recall


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation as numpy does); None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the defined values (None if there are none)."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None

"""Fit rag.answerability's refusal model on DEV questions and write its weights file.

The questions, all from DEV splits (TEST is never read):
- SQuAD out-of-corpus (unanswerable.py's plan): the held-out articles' questions should be
  refused, the indexed articles' questions answered, over the half index;
- SQuAD open-book (squad-open-dev.txt): answerable over all 2,067 paragraphs;
- the repo suite's DEV half (single questions): answerable and unanswerable over corpus/,
  weighted `SUITE_WEIGHT` times so five documents' worth of paraphrases is not drowned out.

For each question this runs retrieval only (`Assistant.search`, no generation), takes
rag.abstain's signals and fits a logistic regression of "answerable" on
rag.answerability.FEATURES. The threshold is the highest probability at which at most
`MAX_FALSE_REFUSALS` of the DEV answerable questions would be refused (the premise check
refuses some more after it). `python -m evals.answering.answerability_fit` prints the DEV
figures and writes rag/answerability_weights.json; it does not change settings or run TEST.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evals.answering import common as c
from rag.answerability import FEATURES, WEIGHTS_FILE, feature_values

SUITE = c.REPO_ROOT / "evals" / "suites" / "corpus.yaml"
SUITE_WEIGHT = 3.0
MAX_FALSE_REFUSALS = 0.03


@dataclass(frozen=True)
class Example:
    source: str  # squad-out-of-corpus, squad-open, suite
    id: str
    answerable: bool
    values: tuple[float, ...]


def _examples(settings: Any, source: str, asks: Sequence[c.Ask]) -> list[Example]:
    from rag.abstain import retrieval_signals
    from rag.assistant import Assistant

    assistant = Assistant(settings)
    out = []
    for ask in asks:
        hits, stats = assistant.search(ask.question)
        signals = retrieval_signals(ask.question, hits, stats)
        out.append(Example(source, ask.id, bool(ask.answers), feature_values(signals)))
    return out


def dev_examples(settings: Any) -> list[Example]:
    """The DEV questions of the three sources, with their feature values."""
    from evals.answering.squad_open import open_book_settings
    from evals.answering.unanswerable import _plan
    from evals.cli import _resolve_corpus, _suite_index
    from evals.suite import load_suite, split_suite

    data = c.load_data(c.DEFAULT_SQUAD)
    ooc_settings, asks = _plan(data, "out-of-corpus", "dev", settings, None, False)
    examples = _examples(ooc_settings, "squad-out-of-corpus", asks)
    q = data.questions
    ids = c.read_ids(c.SPLITS_DIR / "squad-open-dev.txt")
    open_asks = [c.Ask(i, q[i].question, q[i].answers) for i in ids]
    examples += _examples(open_book_settings(data, settings), "squad-open", open_asks)
    suite = split_suite(load_suite(SUITE), "dev")
    corpus_settings = _suite_index(settings, _resolve_corpus(suite.corpus or "", suite.path), False)
    suite_asks = [
        c.Ask(case.id, case.question, () if case.unanswerable else tuple(case.answers or ("?",)))
        for case in suite.cases
        if case.question
    ]
    return examples + _examples(corpus_settings, "suite", suite_asks)


def fit(examples: Sequence[Example]) -> dict[str, Any]:
    """Logistic weights, the threshold and the DEV figures per source."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([e.values for e in examples])
    y = np.array([e.answerable for e in examples])
    w = np.array([SUITE_WEIGHT if e.source == "suite" else 1.0 for e in examples])
    model = LogisticRegression(max_iter=5000).fit(x, y, sample_weight=w)
    p = model.predict_proba(x)[:, 1]
    answerable = p[y]
    # the highest threshold refusing at most MAX_FALSE_REFUSALS of the answerable questions
    threshold = float(np.quantile(answerable, MAX_FALSE_REFUSALS))
    figures = {}
    for source in dict.fromkeys(e.source for e in examples):
        mask = np.array([e.source == source for e in examples])
        refused = p < threshold
        figures[source] = {
            "answerable": int((mask & y).sum()),
            "unanswerable": int((mask & ~y).sum()),
            "false_refusals": round(float(refused[mask & y].mean()), 3)
            if (mask & y).any()
            else None,
            "refusals": round(float(refused[mask & ~y].mean()), 3) if (mask & ~y).any() else None,
        }
    return {
        "features": list(FEATURES),
        "weights": [round(float(v), 4) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 4),
        "threshold": round(threshold, 4),
        "fitted_on": "DEV: SQuAD out-of-corpus + open-book questions, the repo suite's DEV half",
        "suite_weight": SUITE_WEIGHT,
        "max_false_refusals": MAX_FALSE_REFUSALS,
        "dev_figures": figures,
    }


def main() -> int:
    from rag.config import load_settings

    fitted = fit(dev_examples(load_settings()))
    WEIGHTS_FILE.write_text(json.dumps(fitted, indent=1) + "\n", encoding="utf-8")
    json.dump(fitted, sys.stdout, indent=1)
    print(f"\nwrote {WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

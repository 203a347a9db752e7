"""The reader's fit (evals/answering/reader_fit.py) writes a model the product loads and uses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evals.answering import reader_fit
from evals.answering.reader_fit import Read, fit
from rag import reader

pytest.importorskip("lightgbm")


def _reads(n: int, seed: int) -> list[Read]:
    """Questions of 8 candidates each; the answer is mostly the candidate of highest `type`
    (an unseen term blurs it, so some picks are wrong)."""
    rng = np.random.RandomState(seed)
    col = reader.MODEL_FEATURES.index("type")
    out = []
    for q in range(n):
        feats = rng.rand(8, len(reader.MODEL_FEATURES))  # the candidates' and the span score
        blurred = feats[:, col] + 0.3 * rng.rand(8)
        f1 = np.where(blurred == blurred.max(), 1.0, 0.0)
        base = feats[:, : len(reader.FEATURES)]
        cands = [reader.Candidate(0, (0, 1), 0, 1, "", tuple(row)) for row in base]
        out.append(Read(f"article {q % 12}", q % 2 == 0, cands, reader.model_inputs(feats), f1))
    return out


def test_the_fitted_model_loads_and_ranks_the_answer_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(reader_fit.TREES, "n_estimators", 40)  # the same fit, faster
    model = tmp_path / "reader_model.json"
    model.write_text(json.dumps(fit(_reads(240, seed=0))))
    scorer, weights, _ = reader.load_model(model)
    assert scorer is not reader.hand_scorer
    unseen = _reads(50, seed=1)
    right = [int(np.argmax(scorer(r.inputs[:, : len(reader.MODEL_FEATURES)]))) for r in unseen]
    assert np.mean([r.f1[k] for r, k in zip(unseen, right, strict=True)]) > 0.6
    # a higher score makes a right pick more likely
    assert weights[reader.CONFIDENCE_INPUTS.index("score")] > 0

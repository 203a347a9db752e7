"""The reader's stored trees: evaluated as LightGBM evaluates them, loaded safely."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag import reader
from rag.reader_trees import from_json, from_lightgbm


def test_a_stored_stump_splits_where_it_says() -> None:
    stump = {
        "base": 0.5,
        "trees": [
            {
                "feature": [1, 0, 0],
                "threshold": [2.0, 0.0, 0.0],
                "left": [1, -1, -1],
                "right": [2, -1, -1],
                "value": [0.0, -0.25, 0.25],
            }
        ],
    }
    trees = from_json(stump)
    x = np.array([[9.0, 1.0], [9.0, 2.0], [-9.0, 3.0]])
    assert trees.predict(x).tolist() == [0.25, 0.25, 0.75]


def test_exported_lightgbm_trees_rank_as_lightgbm_does() -> None:
    import lightgbm

    rng = np.random.RandomState(0)
    x = rng.rand(3000, 5)
    relevance = np.rint(4 * np.clip(x[:, 0] * x[:, 1] + 0.3 * (x[:, 2] > 0.5), 0, 1))
    model = lightgbm.LGBMRanker(n_estimators=40, num_leaves=15, min_child_samples=20, verbose=-1)
    model.fit(x, relevance.astype(int), group=[30] * 100)
    stored = from_json(json.loads(json.dumps(from_lightgbm(model.booster_.dump_model()).to_json())))
    probe = rng.rand(500, 5)
    assert np.abs(stored.predict(probe) - model.predict(probe)).max() < 1e-6


def _model_file(tree: dict[str, list[float]]) -> str:
    return json.dumps(
        {
            "features": list(reader.FEATURES),
            "confidence": {
                "inputs": list(reader.CONFIDENCE_INPUTS),
                "weights": [1.0, 1.0, 1.0, 1.0],
                "bias": 0.0,
            },
            "model": {"base": 0.0, "trees": [tree]},
        }
    )


@pytest.mark.parametrize(
    "broken",
    [
        "not json",
        json.dumps({"features": list(reader.FEATURES)}),
        # a split on a feature the candidates do not have
        _model_file(
            {"feature": [9999], "threshold": [0], "left": [-1], "right": [-1], "value": [0]}
        ),
        # a child outside its tree
        _model_file({"feature": [0], "threshold": [0], "left": [5], "right": [5], "value": [0]}),
        # a tree that loops back to its root
        _model_file({"feature": [0], "threshold": [0], "left": [0], "right": [0], "value": [0]}),
    ],
)
def test_a_broken_model_file_falls_back_to_the_hand_scorer(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "model.json"
    path.write_text(broken, encoding="utf-8")
    scorer, _weights, _bias = reader.load_model(path)
    assert scorer is reader.hand_scorer


def test_the_shipped_model_is_the_fitted_trees() -> None:
    scorer, _weights, _bias = reader.load_model()
    assert scorer is not reader.hand_scorer
    assert reader.SCORER is not reader.hand_scorer

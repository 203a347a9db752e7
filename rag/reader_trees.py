"""A tree ensemble stored as JSON and evaluated with numpy: the reader's ranker.

The short-answer reader orders each question's candidate spans by the score of gradient-
boosted trees over the candidate's features (`rag.reader_features.FEATURES`), trees that
learnt on SQuAD DEV questions to put the candidates with the highest token F1 first
(LightGBM's LambdaRank, fitted by `evals/answering/reader_eval.py --fit` and read here by
`from_lightgbm`). They are stored as plain arrays in `reader_model.json`: no pickle, so
loading runs no code and does not depend on the version of the library that fitted them. A
tree ensemble, unlike the linear ranker it replaced, weighs features together ("a date"
counts for "when" questions, not for "who" ones).

This module only evaluates stored trees; it does not fit them or know what the features mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

LEAF = -1


@dataclass(frozen=True)
class Trees:
    """Trees padded to one node count: node k of tree t splits on feature[t, k] at
    threshold[t, k] (go left when <=), or is a leaf (left == LEAF) with value[t, k]."""

    feature: np.ndarray  # int, (trees, nodes)
    threshold: np.ndarray  # float, (trees, nodes)
    left: np.ndarray  # int, (trees, nodes)
    right: np.ndarray  # int, (trees, nodes)
    value: np.ndarray  # float, (trees, nodes): the leaf's contribution, learning rate applied
    base: float  # the prediction before any tree

    @cached_property
    def depth(self) -> int:
        """The most splits from a root to a leaf."""
        return max(_depth(lt, rt) for lt, rt in zip(self.left, self.right, strict=True))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The ensemble's prediction for each row of x, shape (rows, features)."""
        x = np.asarray(x, dtype=np.float64)
        rows = x.shape[0]
        if rows == 0:
            return np.zeros(0)
        trees = np.arange(self.feature.shape[0])[:, None]
        node = np.zeros((self.feature.shape[0], rows), dtype=np.int64)
        cols = np.arange(rows)[None, :]
        for _ in range(self.depth):
            feat = self.feature[trees, node]
            go_left = x[cols, np.maximum(feat, 0)] <= self.threshold[trees, node]
            nxt = np.where(go_left, self.left[trees, node], self.right[trees, node])
            node = np.where(self.left[trees, node] == LEAF, node, nxt)
        return self.base + self.value[trees, node].sum(axis=0)

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "trees": [
                {
                    "feature": self.feature[t].tolist(),
                    "threshold": [float(v) for v in self.threshold[t]],
                    "left": self.left[t].tolist(),
                    "right": self.right[t].tolist(),
                    "value": [round(float(v), 9) for v in self.value[t]],
                }
                for t in range(self.feature.shape[0])
            ],
        }


def from_json(data: dict[str, Any], inputs: int | None = None) -> Trees:
    """The trees of `Trees.to_json`; ValueError/KeyError/TypeError when malformed (a child
    outside its tree, a tree that loops) or when a split names a feature at or past `inputs`
    (the width of the rows they will see)."""
    trees = data["trees"]
    if not trees:
        raise ValueError("no trees")
    width = max(len(t["feature"]) for t in trees)

    def pad(key: str, fill: float, dtype: type) -> np.ndarray:
        return np.array([list(t[key]) + [fill] * (width - len(t[key])) for t in trees], dtype=dtype)

    left = pad("left", LEAF, np.int64)
    right = pad("right", LEAF, np.int64)
    if left.max() >= width or right.max() >= width:
        raise ValueError("a child outside its tree")
    feature = pad("feature", 0, np.int64)
    if inputs is not None and (feature.max() >= inputs or feature.min() < 0):
        raise ValueError("a split on a feature the rows do not have")
    loaded = Trees(
        feature=feature,
        threshold=pad("threshold", 0.0, np.float64),
        left=left,
        right=right,
        value=pad("value", 0.0, np.float64),
        base=float(data["base"]),
    )
    _ = loaded.depth  # a tree that loops fails here, at loading
    return loaded


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Splits on the longest path from node 0; ValueError when a node is reached twice."""
    deepest, level, seen = 0, [0], set()
    while level:
        nxt = []
        for k in level:
            if k in seen:
                raise ValueError("a tree that loops")
            seen.add(k)
            if left[k] != LEAF:
                nxt += [int(left[k]), int(right[k])]
        if nxt:
            deepest += 1
        level = nxt
    return deepest


def from_lightgbm(dump: dict[str, Any]) -> Trees:
    """The trees of a LightGBM model's `booster.dump_model()` (numerical "<=" splits; leaf
    values there already carry the learning rate). ValueError for what `Trees` cannot
    express (categorical splits, zero read as missing)."""
    flat: list[dict[str, list]] = []
    for info in dump["tree_info"]:
        tree: dict[str, list] = {k: [] for k in ("feature", "threshold", "left", "right", "value")}

        def add(node: dict[str, Any], tree: dict[str, list] = tree) -> int:
            k = len(tree["feature"])
            for key in tree:
                tree[key].append(LEAF if key in ("left", "right") else 0)
            if "leaf_value" in node:
                tree["value"][k] = float(node["leaf_value"])
                return k
            if node["decision_type"] != "<=" or node.get("missing_type") == "Zero":
                raise ValueError("a split the trees cannot express")
            tree["feature"][k] = int(node["split_feature"])
            tree["threshold"][k] = float(node["threshold"])
            tree["left"][k] = add(node["left_child"])
            tree["right"][k] = add(node["right_child"])
            return k

        add(info["tree_structure"])
        flat.append(tree)
    return from_json({"base": 0.0, "trees": flat})

"""`EmbedderContract`: the tests every `index.embedding.Embedder` must pass.

An embedder (built in or from a plugin) subclasses it and provides one fixture, `embedder`.
The tests check what the index and retrieval rely on: `embed_documents` gives an n x dim
float32 array with one unit-length row per text (also for an empty list, a long text and
non-English text), `embed_query` one unit-length vector of shape (dim,), and the same text
always gets the same vector.

    class TestMyEmbedder(EmbedderContract):
        @pytest.fixture(scope="class")
        def embedder(self):
            return MyEmbedder()

This module only tests; it does not load a model.
"""

from __future__ import annotations

import numpy as np
import pytest

from index.embedding import Embedder

TEXTS = [
    "Honey bees make honey from flower nectar.",
    "A volcano erupts when magma rises through the crust.",
    "Le ferry traverse le Danube toutes les vingt minutes, même en hiver.",
    "Zürich – 東京 – Grindavík",
    " ".join(["The river ferry carried passengers and cargo along the Danube."] * 120),
]
_TOLERANCE = 1e-4


class EmbedderContract:
    """What the index and retrieval rely on, for any embedder."""

    @pytest.fixture
    def embedder(self) -> Embedder:
        raise NotImplementedError("an embedder's test class provides this fixture")

    def test_it_is_an_embedder_with_a_name_and_a_dimension(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)
        assert isinstance(embedder.name, str) and embedder.name
        assert isinstance(embedder.dim, int) and embedder.dim > 0

    def test_documents_are_n_by_dim_float32(self, embedder: Embedder) -> None:
        vectors = np.asarray(embedder.embed_documents(TEXTS))
        assert vectors.shape == (len(TEXTS), embedder.dim)
        assert vectors.dtype == np.float32

    def test_every_row_has_unit_length(self, embedder: Embedder) -> None:
        vectors = np.asarray(embedder.embed_documents(TEXTS))
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=_TOLERANCE)

    def test_no_texts_give_an_empty_matrix(self, embedder: Embedder) -> None:
        assert np.asarray(embedder.embed_documents([])).shape == (0, embedder.dim)

    def test_a_query_is_one_unit_vector(self, embedder: Embedder) -> None:
        vector = np.asarray(embedder.embed_query("Who makes the honey?"))
        assert vector.shape == (embedder.dim,)
        assert vector.dtype == np.float32
        assert abs(float(np.linalg.norm(vector)) - 1.0) <= _TOLERANCE

    def test_the_same_text_gets_the_same_vector(self, embedder: Embedder) -> None:
        first = np.asarray(embedder.embed_documents(TEXTS[:2]))
        again = np.asarray(embedder.embed_documents(TEXTS[:2]))
        np.testing.assert_allclose(first, again, atol=_TOLERANCE)

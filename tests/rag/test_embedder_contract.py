"""Every embedder passes `rag.testing.embedding.EmbedderContract`: the fakes the tests use and
the real ones (sentence-transformers on torch, the int8 ONNX export; slow: they load a model)."""

from __future__ import annotations

import pytest

from index.config import IndexSettings
from rag.testing.embedding import EmbedderContract
from rag.testing.fakes import BagEmbedder, HashEmbedder, plain_words


class TestBagEmbedderOfContentTerms(EmbedderContract):
    @pytest.fixture
    def embedder(self):
        return BagEmbedder(128)


class TestBagEmbedderOfPlainWords(EmbedderContract):
    @pytest.fixture
    def embedder(self):
        return BagEmbedder(64, terms=plain_words)


class TestHashEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self):
        return HashEmbedder()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx-int8"], indirect=True)
class TestRealEmbedder(EmbedderContract):
    @pytest.fixture(scope="class")
    def backend(self, request: pytest.FixtureRequest) -> str:
        return request.param

    @pytest.fixture(scope="class")
    def embedder(self, backend: str):
        from index.embedding import get_embedder

        return get_embedder(IndexSettings(embedding_backend=backend))

"""`POST /v1/embeddings`: the HTTP layer around a fake embedder, then the official `openai`
client and the remote embedder against a real `rag serve` (vectors equal to in-process ones)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import openai
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from index.config import IndexSettings
from index.embedding import EmbeddingError, get_embedder
from index.pipeline import ingest
from index.store import open_index
from rag.config import Settings
from ui.api import build_router, install_error_handler
from ui.embeddings_api import build_embeddings_router

CORPUS = Path(__file__).resolve().parents[2] / "corpus"

# --- unit tests: the HTTP layer around a fake embedder --------------------------------------


class LengthEmbedder:
    """A 3-dimensional embedder whose vectors depend on the text's length; 'down' fails."""

    name = "length-embedder"
    dim = 3

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if any("down" in t for t in texts):
            raise EmbeddingError("model file missing")
        rows = np.array([[len(t), 1.0, 2.0] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("TEST_SERVER_KEY", "k-123")
    settings = Settings(server={"api_key_env": "TEST_SERVER_KEY"})
    app = FastAPI()
    install_error_handler(app)
    router = build_router(object(), settings)  # the chat routes are not called here
    # /v1/embeddings (registered by build_router) uses the index's embedder; the same route
    # with the fake embedder is mounted at /fake for the tests of the HTTP layer.
    app.include_router(build_embeddings_router(settings, LengthEmbedder), prefix="/fake")
    app.include_router(router)
    return TestClient(app, headers={"Authorization": "Bearer k-123"})


def post(client: TestClient, body: object, path: str = "/fake/embeddings"):
    return client.post(path, json=body)


def test_a_list_of_texts_gets_one_normalised_vector_each_in_order(client: TestClient) -> None:
    reply = post(client, {"input": ["a", "abcdef"], "model": "default"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["object"] == "list" and body["model"] == "length-embedder"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert all(d["object"] == "embedding" for d in body["data"])
    vectors = np.array([d["embedding"] for d in body["data"]])
    assert np.allclose(vectors, LengthEmbedder().embed_documents(["a", "abcdef"]), atol=1e-6)
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0


def test_the_openai_sdk_reads_both_float_and_its_default_base64(client: TestClient) -> None:
    sdk = openai.OpenAI(
        base_url="http://testserver/fake", api_key="k-123", http_client=client, max_retries=0
    )
    expected = LengthEmbedder().embed_query("hello there")
    as_base64 = sdk.embeddings.create(input="hello there", model="length-embedder")
    as_float = sdk.embeddings.create(input="hello there", model="default", encoding_format="float")
    for reply in (as_base64, as_float):
        assert np.allclose(reply.data[0].embedding, expected, atol=1e-6)


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"input": "x", "model": "text-embedding-3-small"}, 404, "does not exist here"),
        ({"input": [1, 2, 3], "model": "default"}, 400, "token arrays are not accepted"),
        ({"input": [], "model": "default"}, 400, "input is empty"),
        ({"input": ["ok", "  "], "model": "default"}, 400, "input[1] is empty"),
        ({"model": "default"}, 400, "input"),
        ({"input": "x", "model": "default", "dimensions": 8}, 400, "3-dimensional"),
        ({"input": "server down", "model": "default"}, 503, "model file missing"),
    ],
)
def test_bad_requests_get_one_openai_shaped_error(
    client: TestClient, body: dict, status: int, needle: str
) -> None:
    reply = post(client, body)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert needle in error["message"]
    if status == 404:
        assert error["code"] == "model_not_found"


def test_the_route_needs_the_same_key_as_the_chat_endpoint(client: TestClient) -> None:
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": ""}):
        reply = client.post(
            "/v1/embeddings", json={"input": "x", "model": "default"}, headers=headers
        )
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == "invalid_api_key"


# --- a real `rag serve` ---------------------------------------------------------------------


@pytest.mark.server
@pytest.mark.e2e
def test_rag_serve_embeds_like_the_in_process_embedder(rag_server, tmp_path: Path) -> None:
    local = get_embedder(IndexSettings())
    texts = [p.read_text(encoding="utf-8")[:1500] for p in sorted(CORPUS.glob("*.txt"))]
    sdk = openai.OpenAI(base_url=f"{rag_server.url}/v1", api_key=rag_server.api_key)
    reply = sdk.embeddings.create(input=texts, model="default")
    assert reply.model == local.name
    remote = np.array([d.embedding for d in reply.data], dtype=np.float32)
    cosines = np.sum(remote * local.embed_documents(texts), axis=1)
    assert cosines.min() >= 0.999

    with pytest.raises(openai.NotFoundError, match="does not exist here"):
        sdk.embeddings.create(input="x", model="text-embedding-3-small")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{rag_server.url}/v1", api_key="wrong").embeddings.create(
            input="x", model="default"
        )


@pytest.mark.server
@pytest.mark.e2e
def test_an_index_embedded_through_rag_serve_holds_the_in_process_vectors(
    rag_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_REMOTE_KEY", rag_server.api_key)
    settings = IndexSettings(
        data_dir=tmp_path / "data",
        embedding_backend="openai",
        embedding_base_url=f"{rag_server.url}/v1",
        embedding_remote_model="all-MiniLM-L6-v2 (onnx-int8)",
        embedding_api_key_env="TEST_REMOTE_KEY",
        embedding_batch_size=64,
    )
    report = ingest([CORPUS], settings)
    assert report.added == 5
    index = open_index(settings)
    assert index.status().embedding_model == "openai:all-MiniLM-L6-v2 (onnx-int8)"
    chunks = [c for s in sorted(index.sources()) for c in index.chunks_of(s)]
    stored = index.embeddings([c.id for c in chunks])
    # int8 vectors depend slightly on the other texts of their batch (activations are
    # quantized per batch), so all 29 chunks went in one request and are embedded at once here.
    assert len(chunks) == 29
    local = get_embedder(IndexSettings()).embed_documents([c.text for c in chunks])
    assert np.sum(stored * local, axis=1).min() >= 0.999

    query = "Who did the CIA director call to discuss cooperation and crisis resolution?"
    hits = index.dense_search(get_embedder(settings).embed_query(query), k=3)
    assert any("Ratcliffe initiated the call" in c.text for c in index.get([h[0] for h in hits]))

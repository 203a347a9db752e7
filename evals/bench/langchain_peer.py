"""The peer for `rag bench`: LangChain's standard RAG indexing and search, as its docs show.

`RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)` splits the documents,
`langchain_chroma.Chroma` stores them (persisted in its own folder), the same embedding model
(the bundled all-MiniLM-L6-v2) runs through `langchain_huggingface.HuggingFaceEmbeddings`, and
`similarity_search(query, k=4)` retrieves. Nothing is tuned beyond what the docs do.

This is the only module that imports LangChain (the optional `bench` extra); the product never
does. It measures nothing itself: `evals/bench/peer.py` times it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.embedding import bundled_model_path
from index.types import Document

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
SEARCH_K = 4


class PeerUnavailable(RuntimeError):
    """The LangChain packages are not installed; the message names the extra."""


def _imports() -> tuple[Any, Any, Any, Any]:
    try:
        from langchain_chroma import Chroma
        from langchain_core.documents import Document as LCDocument
        from langchain_huggingface import HuggingFaceEmbeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError as err:
        raise PeerUnavailable(
            f"The LangChain peer needs the 'bench' extra (pip install -e '.[bench]'): {err}"
        ) from None
    return Chroma, LCDocument, HuggingFaceEmbeddings, RecursiveCharacterTextSplitter


def load_embeddings() -> Any:
    """HuggingFaceEmbeddings on the bundled model (loaded once; the load is not timed)."""
    _, _, embeddings_cls, _ = _imports()
    return embeddings_cls(model_name=str(bundled_model_path()))


def embedder_description(embeddings: Any) -> str:
    """What the peer's embeddings run: the model, through langchain-huggingface, on what."""
    import sentence_transformers

    client = getattr(embeddings, "_client", None)  # the SentenceTransformer it wraps
    backend = getattr(client, "backend", "torch")
    model = Path(str(getattr(embeddings, "model_name", "?"))).name
    return (
        f"{model} (langchain-huggingface, sentence-transformers "
        f"{sentence_transformers.__version__} on {backend})"
    )


@dataclass
class PeerIndex:
    """A LangChain Chroma vector store built from documents; `search` returns source names."""

    store: Any
    chunks: int

    def search(self, query: str, k: int = SEARCH_K) -> list[str]:
        """The sources of the k most similar chunks, best first (duplicates kept)."""
        return [d.metadata["source"] for d in self.store.similarity_search(query, k=k)]


def split(documents: Sequence[Document]) -> list[Any]:
    """LangChain documents split with RecursiveCharacterTextSplitter(1000, 200)."""
    _, lc_document, _, splitter_cls = _imports()
    splitter = splitter_cls(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    docs = [lc_document(page_content=d.text, metadata={"source": d.source}) for d in documents]
    return splitter.split_documents(docs)


def build(
    documents: Sequence[Document], persist_dir: Path, embeddings: Any, collection: str = "peer"
) -> tuple[PeerIndex, dict[str, float]]:
    """Split, embed and store the documents; also returns the split/store seconds."""
    import time

    chroma_cls, _, _, _ = _imports()
    started = time.perf_counter()
    splits = split(documents)
    split_s = time.perf_counter() - started
    store = chroma_cls(
        collection_name=collection,
        embedding_function=embeddings,
        persist_directory=str(persist_dir),
    )
    # add_documents sends everything in one upsert, which Chroma refuses above its maximum
    # batch size (about 5,000 rows): add in slices of that size, as LangChain users must.
    batch = int(store._client.get_max_batch_size())
    for start in range(0, len(splits), batch):
        store.add_documents(documents=splits[start : start + batch])
    total = time.perf_counter() - started
    return PeerIndex(store, len(splits)), {"split": split_s, "embed_store": total - split_s}

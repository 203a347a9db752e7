"""Embedding backends for `rag bench`: the bundled model on torch, on ONNX Runtime, and int8.

sentence-transformers' own `backend="onnx"` needs `optimum-onnx`, whose only release
(0.1.0) requires transformers < 4.58, while this project runs transformers 5; so the ONNX
model is exported here with `torch.onnx.export` (the dynamo exporter, dynamic batch and
sequence axes) from the bundled weights, offline, and cached; int8 is onnxruntime's
`quantize_dynamic` (what sentence-transformers' int8 export wraps). `OnnxEmbedder` does what
the sentence-transformers pipeline does (tokenize, truncate to the model's max_seq_length,
mean pooling, L2 normalisation) and implements `index.embedding.Embedder`.

`compare_backends` embeds the same chunk texts with each backend (chunks/s) and scores dense
retrieval on them by exact cosine search (nDCG@10 against the qrels), so the quality loss of
ONNX and int8 is measured on the same data. This module does not change the product default.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import BUNDLED_MODEL, Embedder, bundled_model_path

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MAX_NDCG_LOSS = 0.005  # a backend counts as "quality holds" below this SciFact nDCG@10 loss


def export_onnx(out_dir: Path) -> dict[str, Path]:
    """fp32 and int8 ONNX files of the bundled model, exported once into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out_dir / "model.onnx", out_dir / "model_int8.onnx"
    if not fp32.is_file():
        _export_fp32(fp32)
    if not int8.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return {"onnx": fp32, "onnx-int8": int8}


def _export_fp32(target: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = str(bundled_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()

    class _LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = tokenizer(
        ["an example", "a slightly longer example text"], padding=True, return_tensors="pt"
    )
    batch = torch.export.Dim("batch", min=1, max=4096)
    seq = torch.export.Dim("sequence", min=2, max=512)
    partial = target.with_suffix(".partial.onnx")
    torch.onnx.export(
        _LastHidden(model),
        tuple(sample[k] for k in _INPUTS),
        str(partial),
        input_names=list(_INPUTS),
        output_names=["last_hidden_state"],
        dynamic_shapes={k: {0: batch, 1: seq} for k in _INPUTS},
        dynamo=True,
        external_data=False,
    )
    partial.replace(target)


class OnnxEmbedder:
    """The bundled model run by ONNX Runtime: same tokenizer, pooling and normalisation."""

    def __init__(self, model_file: Path, batch_size: int = 64) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        path = bundled_model_path()
        self._tokenizer = AutoTokenizer.from_pretrained(str(path))
        config = json.loads((path / "sentence_bert_config.json").read_text())
        self._max_len = int(config.get("max_seq_length", 256))
        self._session = ort.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
        self.name = f"{BUNDLED_MODEL} ({model_file.name})"
        self.batch_size = batch_size
        self.dim = int(self.embed_documents(["dimension probe"]).shape[1])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for i in range(0, len(texts), self.batch_size):
            enc = self._tokenizer(
                list(texts[i : i + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=self._max_len,
                return_tensors="np",
            )
            feeds = {k: enc[k].astype(np.int64) for k in _INPUTS}
            hidden = self._session.run(None, feeds)[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out.append((pooled / np.clip(norms, 1e-12, None)).astype(np.float32))
        return np.vstack(out) if out else np.zeros((0, getattr(self, "dim", 0)), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def exact_dense_ndcg(
    embedder: Embedder,
    chunk_vectors: np.ndarray,
    chunk_sources: Sequence[str],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
) -> dict[str, float]:
    """nDCG@10 / recall@100 of exact cosine search; a document scores as its best chunk."""
    from evals.beir import score_rankings

    sources = np.asarray(chunk_sources)
    rankings: dict[str, list[str]] = {}
    for qid, text in queries.items():
        scores = chunk_vectors @ embedder.embed_query(text)
        order = np.argsort(-scores)
        rankings[qid] = list(dict.fromkeys(sources[order].tolist()))[:100]
    result = score_rankings(rankings, {q: dict(qrels[q]) for q in queries})
    return {"ndcg_at_10": result["ndcg_at_10"], "recall_at_100": result["recall_at_100"]}


def compare_backends(
    torch_embedder: Embedder,
    texts: Sequence[str],
    sources: Sequence[str],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    cache_dir: Path,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """chunks/s and dense nDCG@10 per backend on the same texts; the int8 verdict."""
    result: dict[str, Any] = {"chunks": len(texts), "queries": len(queries), "backends": {}}
    embedders: dict[str, Callable[[], Embedder]] = {"torch": lambda: torch_embedder}
    try:
        started = time.perf_counter()
        files = export_onnx(cache_dir)
        result["onnx_export_seconds"] = round(time.perf_counter() - started, 2)
        for name, file in files.items():
            embedders[name] = lambda file=file: OnnxEmbedder(file)
    except Exception as err:  # the export depends on torch/onnx versions: report, go on
        result["onnx_error"] = f"ONNX export failed: {err}"
    for name, make in embedders.items():
        log(f"embedding {len(texts)} chunks with {name}")
        embedder = make()
        embedder.embed_documents(list(texts[:8]))  # warm-up
        started = time.perf_counter()
        vectors = embedder.embed_documents(list(texts))
        seconds = time.perf_counter() - started
        quality = exact_dense_ndcg(embedder, vectors, sources, queries, qrels)
        result["backends"][name] = {
            "seconds": round(seconds, 2),
            "chunks_per_s": round(len(texts) / seconds, 1) if seconds else None,
            **quality,
        }
    backends = result["backends"]
    if "torch" in backends:
        base = backends["torch"]["ndcg_at_10"]
        for b in backends.values():
            b["ndcg_loss_vs_torch"] = round(base - b["ndcg_at_10"], 4)
            b["quality_holds"] = b["ndcg_loss_vs_torch"] < MAX_NDCG_LOSS
        if "onnx-int8" in backends:
            result["int8_acceptable"] = backends["onnx-int8"]["quality_holds"]
    usable = {n: b for n, b in backends.items() if b.get("quality_holds", True)}
    if usable:
        result["fastest_with_quality"] = max(usable, key=lambda n: usable[n]["chunks_per_s"] or 0)
    return result

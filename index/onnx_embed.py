"""The embedding model on ONNX Runtime: a local export (fp32 or int8) and a fast embedder.

sentence-transformers' own `backend="onnx"` needs `optimum-onnx`, which requires an older
transformers than this project runs, so the model is exported here with `torch.onnx.export`
from the local weights (eager attention, dynamic batch and sequence axes) with mean pooling and
L2 normalisation inside the graph. "onnx" is that graph with onnxruntime's BERT fusions
(Attention, SkipLayerNorm, BiasGelu); "onnx-int8" is the plain graph quantized with
`quantize_dynamic` (int8 weights per channel, MatMul only: quantizing the embedding Gather
too, the default, costs far more accuracy). Exports are cached in a folder keyed by model,
weights and variant; they are written to a temporary file, checked by loading them, then
renamed, so an interrupted export never leaves a broken cache. Nothing is ever downloaded.

`OnnxEmbedder` tokenizes with the model's own fast tokenizer (truncated to the model's
`max_seq_length`), sorts texts by length so batches carry little padding, and runs one
ORT session using every core. This module does not choose a backend (index.embedding does).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

VARIANTS = ("onnx", "onnx-int8")
EXPORT_VERSION = 2  # bump when the exported graph changes, so old caches are not reused
_OPSET = 17


class OnnxExportError(RuntimeError):
    """The model could not be exported to (or loaded from) ONNX; the message says why."""


def _fingerprint(model_path: Path) -> str:
    """A short key of the model's weights and config (size + mtime: cheap, changes on update)."""
    parts = [f"v{EXPORT_VERSION}"]
    for name in ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json"):
        file = model_path / name
        if file.is_file():
            stat = file.stat()
            parts.append(f"{name}:{stat.st_size}:{int(stat.st_mtime)}")
    digest = hashlib.sha256("|".join([str(model_path.resolve()), *parts]).encode()).hexdigest()
    return digest[:16]


def max_seq_length(model_path: Path) -> int:
    """The sequence length sentence-transformers truncates to for this model."""
    config = model_path / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length") or 256)
    return 256


def cached_model_file(model_path: Path, variant: str, cache_dir: Path) -> Path:
    """The ONNX file of `variant` for this model, exported into `cache_dir` on first use."""
    if variant not in VARIANTS:
        raise OnnxExportError(f"Unknown ONNX variant {variant!r}; expected one of {VARIANTS}.")
    folder = cache_dir / f"{model_path.name}-{_fingerprint(model_path)}"
    plain = folder / "model.onnx"
    if not plain.is_file():
        _atomic_write(plain, lambda tmp: _export_fp32(model_path, tmp))
    target, derive = {
        "onnx": (folder / "model_fused.onnx", _fuse),
        "onnx-int8": (folder / "model_int8.onnx", _quantize),
    }[variant]
    if not target.is_file():
        _atomic_write(target, lambda tmp: derive(plain, tmp, model_path))
    return target


def _atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Run `write(tmp_path)`, check the result loads, then rename it onto `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".onnx", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        _session(tmp, threads=1)  # a file ORT cannot load must not enter the cache
        os.replace(tmp, target)
    except Exception as err:
        raise OnnxExportError(f"Could not export the embedding model to ONNX: {err}") from err
    finally:
        tmp.unlink(missing_ok=True)
        for extra in target.parent.glob(f"{tmp.name}*"):  # external-data side files
            extra.unlink(missing_ok=True)


def _export_fp32(model_path: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    # Eager attention exports the plain MatMul/Softmax pattern ORT's BERT fusion recognises.
    model = AutoModel.from_pretrained(
        str(model_path), local_files_only=True, attn_implementation="eager"
    ).eval()

    class _Pooled(torch.nn.Module):
        """Transformer + mean pooling + L2 normalisation, as the sentence-transformers stack."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            pooled = summed / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    ids = torch.ones((2, 8), dtype=torch.int64)
    # The tracer's warnings are about Python-side shape checks that do not affect the graph
    # (the fp32 output matches torch on padded batches, see tests/index/test_embedding_onnx.py).
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Pooled(model),
            (ids, torch.ones_like(ids)),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "embedding": {0: "batch"},
            },
            opset_version=_OPSET,
            dynamo=False,
        )


def _fuse(plain: Path, target: Path, model_path: Path) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    config = json.loads((model_path / "config.json").read_text())
    fused = optimize_model(
        str(plain),
        model_type="bert",
        num_heads=int(config.get("num_attention_heads", 0)),
        hidden_size=int(config.get("hidden_size", 0)),
    )
    fused.save_model_to_file(str(target))


def _quantize(plain: Path, target: Path, _model_path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic logs a "run pre-processing" hint on root
    try:
        quantize_dynamic(
            str(plain),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
    finally:
        root.setLevel(level)


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _session(model_file: Path, threads: int) -> InferenceSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])


class OnnxEmbedder:
    """An exported sentence-transformers model run by ONNX Runtime; implements `Embedder`."""

    def __init__(
        self,
        model_path: Path,
        model_file: Path,
        name: str,
        batch_size: int = 64,
        threads: int | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        tokenizer_file = model_path / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise OnnxExportError(f"{model_path} has no tokenizer.json (a fast tokenizer).")
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()  # padding is done per length-sorted batch below
        self._tokenizer.enable_truncation(max_length=max_seq_length(model_path))
        self._session = _session(model_file, threads or cpu_count())
        self.name = name
        self.batch_size = batch_size
        self.model_file = model_file
        # ORT sessions may run concurrently, but two runs would fight over the same cores.
        self._lock = threading.Lock()
        self.dim = int(self.embed_documents(["dimension probe"]).shape[1])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(-lengths, kind="stable")
        out: np.ndarray | None = None
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                width = int(lengths[rows[0]])
                ids = np.zeros((len(rows), width), dtype=np.int64)
                mask = np.zeros((len(rows), width), dtype=np.int64)
                for r, i in enumerate(rows):
                    n = int(lengths[i])
                    ids[r, :n] = encodings[i].ids
                    mask[r, :n] = 1
                vectors = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
                if out is None:
                    out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
                out[rows] = vectors
        assert out is not None
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

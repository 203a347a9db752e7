"""The reader's neural span scorer (rag/span_model.py): the shipped file loads and prefers the
span that answers; what `span_fit` trains is what `SpanModel.load` merges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.span_model import SpanModel, default_span_model

torch = pytest.importorskip("torch")

PASSAGE = (
    "CIA Director John Ratcliffe initiated the call with his counterpart, SVR Director "
    "Sergey Naryshkin, to discuss areas of potential cooperation and crisis resolution."
)


def _span(name: str) -> tuple[int, int, int]:
    start = PASSAGE.index(name)
    return 0, start, start + len(name)


@pytest.mark.parametrize(
    ("question", "right", "wrong"),
    [
        ("Who heads the CIA?", "John Ratcliffe", "Sergey Naryshkin"),
        ("Who did Ratcliffe call?", "Sergey Naryshkin", "John Ratcliffe"),
        ("What did the two men want to talk about?", "areas of potential cooperation", "CIA"),
    ],
)
def test_the_shipped_model_scores_the_answer_above_other_spans(
    question: str, right: str, wrong: str
) -> None:
    # Alone it confuses roles more than the reader does ("Whom did the CIA director call?"
    # scores both men about equally); the trees weigh it with the other features.
    model = default_span_model()
    assert model is not None, "rag/span_model.safetensors should ship with the package"
    good, bad = model.scores(question, [PASSAGE], [_span(right), _span(wrong)])
    assert good > bad


def test_what_span_fit_trains_is_what_load_merges(tmp_path: Path) -> None:
    from safetensors.torch import save_file
    from transformers import AutoTokenizer, BertConfig, BertModel

    from evals.answering import span_fit
    from index.embedding import bundled_model_path

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_path()))
    tokenizer.save_pretrained(str(tmp_path))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(tmp_path))
    encoder = BertModel.from_pretrained(str(tmp_path))
    trained = span_fit.adapt(encoder)
    with torch.no_grad():
        for p in trained:  # as if training had moved every trained tensor
            p.add_(0.1 * torch.randn_like(p))
    head = torch.nn.Linear(32, 2)
    save_file(span_fit.trained_tensors(encoder, head), str(tmp_path / "delta.safetensors"))

    loaded = SpanModel.load(tmp_path / "delta.safetensors", base=tmp_path)
    batch = tokenizer(["Who called?"], ["Ratcliffe called Naryshkin."], return_tensors="pt")
    with torch.no_grad():
        expected = head(encoder.eval()(**batch).last_hidden_state)[0].numpy()
    starts, ends, ranges = loaded.logits("Who called?", ["Ratcliffe called Naryshkin."])[0]
    assert np.allclose(starts, expected[:, 0], atol=1e-4)
    assert np.allclose(ends, expected[:, 1], atol=1e-4)
    # only the passage's word pieces have character ranges
    assert ranges[0] is None and any(r is not None for r in ranges)


def test_a_span_past_the_read_part_of_a_long_passage_scores_lowest() -> None:
    model = default_span_model()
    assert model is not None
    long = PASSAGE + " Filler sentence about nothing much." * 80 + " Bob Smith arrived."
    end = len(long) - 1
    first = _span("John Ratcliffe")
    scores = model.scores("Who heads the CIA?", [long], [first, (0, end - 9, end)])
    assert scores[1] < scores[0]

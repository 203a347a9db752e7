"""Experiment: can the bundled SmolLM2-135M choose among the reader's top candidates?

    python -m evals.answering.reader_llm_choice --sample 100

For SQuAD DEV questions (gold paragraph given), the rule reader's best K distinct candidates
are scored by the local model after "Context: <supporting sentence>\nQuestion: <q>\nAnswer:":
mean token log-probability of the candidate (length-normalised), and PMI (its log-probability
with the context minus without it). Printed: token F1 of the rule pick, of each model choice,
and ms per question of the model scoring. The prompt prefix is evaluated once per question
and kept in the cache for each candidate. Not used by the product.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import TYPE_CHECKING

import numpy as np

from evals.answering.common import f1_score
from evals.answering.reader_eval import passage_of, questions
from rag import reader
from rag.backends.llama_cpp import bundled_model_path

if TYPE_CHECKING:
    from llama_cpp import Llama


def _logprobs(llm: Llama, prefix: list[int], options: list[list[int]]) -> list[float]:
    """Summed log-probability of each option's tokens after `prefix`."""
    llm.reset()
    llm.eval(prefix)
    out = []
    for tokens in options:
        llm.n_tokens = len(prefix)  # eval() drops the cache past n_tokens: the prefix stays
        llm.eval(tokens)
        rows = np.asarray(llm.scores[len(prefix) - 1 : len(prefix) + len(tokens) - 1])
        rows = rows - rows.max(axis=1, keepdims=True)
        logp = rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))
        out.append(float(sum(logp[i, t] for i, t in enumerate(tokens))))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample", type=int, default=100)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--k", type=int, default=4)
    args = ap.parse_args(argv)
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(bundled_model_path()),
        n_ctx=1024,
        logits_all=True,
        verbose=False,
        seed=0,
        n_threads=1,
    )
    qs, paragraphs = questions("dev", args.sample, args.seed)
    f1: dict[str, list[float]] = {"rule": [], "mean_logprob": [], "pmi": [], "oracle_top_k": []}
    spent = 0.0
    for q in qs:
        text = paragraphs[q.source]
        doc = reader.parse(text)
        ranked = reader.rank(q.question, [passage_of(text, q.title)])
        if not ranked:
            for key in f1:
                f1[key].append(0.0)
            continue
        picks, seen = [], set()
        for cand, _ in ranked:
            span = doc.span_text(cand.first, cand.last)
            if span not in seen:
                seen.add(span)
                picks.append((cand, span))
            if len(picks) == args.k:
                break
        sentence = doc.span_text(*picks[0][0].sentence)
        t0 = time.perf_counter()
        options = [llm.tokenize((" " + span).encode(), add_bos=False) for _, span in picks]
        with_ctx = llm.tokenize(
            f"Context: {sentence}\nQuestion: {q.question}\nAnswer:".encode(), add_bos=True
        )
        without = llm.tokenize(f"Question: {q.question}\nAnswer:".encode(), add_bos=True)
        lp = _logprobs(llm, with_ctx, options)
        lp0 = _logprobs(llm, without, options)
        spent += time.perf_counter() - t0
        mean = [v / len(t) for v, t in zip(lp, options, strict=True)]
        pmi = [a - b for a, b in zip(lp, lp0, strict=True)]
        scores = [f1_score(span, q.answers) for _, span in picks]
        f1["rule"].append(scores[0])
        f1["mean_logprob"].append(scores[int(np.argmax(mean))])
        f1["pmi"].append(scores[int(np.argmax(pmi))])
        f1["oracle_top_k"].append(max(scores))
        done = len(f1["rule"])
        if done % 10 == 0:  # partial figures: the model is slow on a busy machine
            print(done, {k: round(statistics.fmean(v), 3) for k, v in f1.items()}, flush=True)
    figures = {k: round(statistics.fmean(v), 4) for k, v in f1.items()}
    figures["questions"] = len(qs)
    figures["model_ms_per_question"] = round(1000 * spent / len(qs), 1)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

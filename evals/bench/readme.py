"""`rag bench --report FILE...`: the README's performance tables from committed bench.json files.

Every figure row names the run it comes from ([1], [2], ... listed under the tables with the
file, date, commit, machine and the sections it measured). When several files are given, a
figure measured by more than one of them is taken from the last one given, and a sentence
above the tables says that they combine runs. Quick (subset) runs are marked as such.
Nothing is measured here, and nothing is made up: a figure no run measured is left out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.bench.report import fmt, targets
from evals.bench.results import BenchResult, from_json

Row = tuple[str, ...]
Rows = dict[str, tuple[Row, int]]  # figure key -> (cells, run number)
RowsOf = Callable[[BenchResult], Iterator[tuple[str, Row]]]


class ReportError(ValueError):
    """A bench.json that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class Run:
    ref: int  # the [n] the tables cite
    path: str
    result: BenchResult


def load_runs(paths: Sequence[Path]) -> list[Run]:
    """Read bench.json files (a folder stands for the bench.json inside it)."""
    from pydantic import ValidationError

    runs = []
    for n, path in enumerate(paths, start=1):
        file = path / "bench.json" if path.is_dir() else path
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            runs.append(Run(n, str(file), from_json(data)))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ReportError(f"{file}: cannot read it ({err})") from None
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "top level"
            raise ReportError(f"{file}: not a rag bench result ({where}: {first['msg']})") from None
    return runs


# Targets renamed since a run recorded them (the run's figure is shown under the new name).
RENAMED = {
    "Retrieval p50 at ~100k chunks (hybrid, warm)": (
        "Retrieval p50 at the scale collection (hybrid, warm)"
    ),
}


def _targets(result: BenchResult) -> Iterator[tuple[str, Row]]:
    status = {True: "met", False: "**missed**", None: "–"}
    # recomputed where the run's figures allow: the rules for "met" may be newer than the run
    now = {t.target: t for t in targets(result) if t.measured is not None}
    for t in (now.get(RENAMED.get(t.target, t.target), t) for t in result.targets):
        if t.measured is not None:
            note = t.note.strip().strip("()")
            value = fmt(t.measured) + (f" ({note})" if note else "")
            yield t.target, (t.target, t.goal, value, status[t.met])


def _embedding(result: BenchResult) -> Iterator[tuple[str, Row]]:
    emb = result.embedding
    if emb is None:
        return
    for name, b in emb.backends.items():
        ran = f"`{b.embedder}` on {b.runtime}"
        if b.model_file:
            ran += f" (`{Path(b.model_file).name}`)"
        speed = f"{b.chunks_per_s:.1f}" if b.chunks_per_s else "–"
        loss = f"{b.ndcg_loss_vs_torch:+.4f}" if b.ndcg_loss_vs_torch is not None else "–"
        quality = (f"{b.ndcg_at_10:.4f}", f"{b.recall_at_100:.4f}", loss)
        yield name, (name, ran, f"{emb.chunks:,}", speed, *quality)


def _retrieval(result: BenchResult) -> Iterator[tuple[str, Row]]:
    r = result.retrieval
    if r is None:
        return
    docs = result.scope.max_docs if result.scope else None
    subset = f" (subset: {docs:,} docs)" if docs else ""
    where = f"SciFact{subset}, `{r.quality_embedder}`, {r.quality_candidates} candidates per half"
    for mode, q in r.quality.items():
        recall = f", recall@100 {fmt(q.recall_at_100)}" if q.recall_at_100 is not None else ""
        yield f"quality-{mode}", (f"quality, {mode}", where, f"nDCG@10 {fmt(q.ndcg_at_10)}{recall}")
    store = result.scale.store if result.scale is not None else None
    for scale, lat in r.latency.items():
        kept = f", {store}" if scale == "scale" and store else ""
        at = f"{scale}: {lat.chunks:,} chunks{kept}, `{lat.embedder}`"
        key = f"{scale}-{store}" if kept else scale  # a server's and an embedded run both show
        for mode in ("dense", "bm25", "hybrid"):
            p = getattr(lat, mode)
            measured = f"p50 {fmt(p.p50_ms)} ms, p95 {fmt(p.p95_ms)} ms"
            yield f"latency-{key}-{mode}", (f"latency, {mode}, warm", at, measured)
    yield from _scale(result)


def _scale(result: BenchResult) -> Iterator[tuple[str, Row]]:
    """The scale collection's build, BM25 load and `rag serve` memory, when measured."""
    s = result.scale
    if s is None or s.store is None:
        return
    at = f"scale: {s.chunks:,} chunks, {s.store}"
    if s.build_seconds is not None:
        load = s.build_load_average or []
        during = f", load average {load[0]} → {load[-1]}" if load else ""
        built = f"{fmt(s.build_seconds)} s, peak RSS {fmt(s.build_peak_rss_mb)} MB{during}"
        yield f"scale-{s.store}-build", ("time to build", at, built)
    if s.bm25_load_seconds is not None:
        yield f"scale-{s.store}-bm25", ("BM25 load at start", at, f"{fmt(s.bm25_load_seconds)} s")
    if s.serve is not None and s.serve.peak_rss_mb is not None:
        memory = f"{fmt(s.serve.peak_rss_mb)} MB ({s.serve.backend or '?'}, process and children)"
        yield f"scale-{s.store}-serve", ("`rag serve` peak RSS", at, memory)


def _indexing(result: BenchResult) -> Iterator[tuple[str, Row]]:
    for corpus in ("corpus", "scifact"):
        part = getattr(result.indexing, corpus)
        if part is None:
            continue
        for who, r in (("ours", part.ours), ("LangChain peer", part.peer)):
            if r is not None:
                measured = (
                    f"{r.documents:,} docs, {r.chunks:,} chunks in {fmt(r.seconds)} s "
                    f"({fmt(r.chunks_per_s)} chunks/s)"
                )
                yield f"{corpus}-{who}", (f"{corpus}, {who}", f"`{r.embedder}`", measured)


def _answers(result: BenchResult) -> Iterator[tuple[str, Row]]:
    a = result.answer
    if a is None:
        return
    w = a.warm
    ran = f"{w.backend} (`{', '.join(w.models) or '?'}`)"
    started = f"{w.first_token.n} of {w.questions} questions reached the model"
    ttft = f"p50 {fmt(w.first_token.p50_ms)} ms, p95 {fmt(w.first_token.p95_ms)} ms ({started})"
    yield "ttft", ("first token, warm", ran, ttft)
    yield "total", ("whole answer, warm", ran, f"p50 {fmt(w.total.p50_ms)} ms")
    cold = a.cold_start_rag_ask
    yield "cold", ("`rag ask` as a new process", cold.backend, f"{fmt(cold.seconds)} s")
    if a.serve.peak_rss_mb is not None:
        memory = f"{fmt(a.serve.peak_rss_mb)} MB"
        yield "serve", ("`rag serve` peak RSS", a.serve.backend or "?", memory)


TABLES = (
    ("Targets", ("target", "goal", "measured", "status"), _targets),
    (
        "Embedding backends (the same SciFact chunks, exact cosine search)",
        ("backend", "what ran", "chunks", "chunks/s", "nDCG@10", "recall@100", "loss vs torch"),
        _embedding,
    ),
    ("Retrieval", ("figure", "where", "measured"), _retrieval),
    ("Indexing", ("corpus, pipeline", "embedder", "measured"), _indexing),
    ("Answering", ("figure", "backend (model)", "measured"), _answers),
)


def _collect(runs: Sequence[Run], rows_of: RowsOf) -> Rows:
    rows: Rows = {}
    for run in runs:
        for key, row in rows_of(run.result):
            rows[key] = (row, run.ref)  # a later run replaces an earlier one's figure
    return rows


def _table(header: Sequence[str], rows: Rows) -> list[str]:
    cells = [*header, "run"]
    lines = ["| " + " | ".join(cells) + " |", "| " + " | ".join("---" for _ in cells) + " |"]
    lines += ["| " + " | ".join([*row, f"[{ref}]"]) + " |" for row, ref in rows.values()]
    return lines


def _run_line(run: Run) -> str:
    r, m = run.result, run.result.machine
    commit = "commit unknown"
    if r.commit is not None:
        changed = " with local changes" if r.commit.local_changes else ""
        commit = f"commit {r.commit.sha[:10]}{changed}"
    sections = ", ".join(f"{name} {s / 60:.1f} min" for name, s in r.section_seconds.items())
    kind = "quick run (subsets)" if r.quick else "full run"
    load = m.load_average[0] if m.load_average else "?"
    end = f" and {m.load_average_end[0]} at the end" if m.load_average_end else ""
    return (
        f"- [{run.ref}] [`{run.path}`]({run.path}): {kind} started "
        f"{r.started_at or '(date unknown)'}, "
        f"{commit}; {m.cpu_model or 'CPU unknown'}, {m.cpus} cores, {m.ram_gb or '?'} GB RAM, "
        f"load average {load} at the start{end}; sections: {sections or 'none'}."
    )


def performance_markdown(runs: Sequence[Run]) -> str:
    """The Markdown tables (and the list of runs) for the README's Performance section."""
    tables = [(title, header, _collect(runs, rows_of)) for title, header, rows_of in TABLES]
    used = sorted({ref for _, _, rows in tables for _, ref in rows.values()})
    files = " ".join(r.path for r in runs)
    lines = [f"<!-- generated by `rag bench --report {files}` -->", ""]
    if len(used) > 1:
        lines += [
            f"These tables combine {len(used)} runs (listed below): the run column says which "
            "run each figure comes from; a figure measured in several runs is taken from the "
            "last one listed.",
            "",
        ]
    for title, header, rows in tables:
        if rows:
            lines += [f"**{title}**", "", *_table(header, rows), ""]
    lines += ["Runs:", "", *[_run_line(r) for r in runs if r.ref in used]]
    return "\n".join(lines) + "\n"

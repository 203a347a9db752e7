"""How `rag bench` results are shown: the issue's targets, rich tables, and bench.md.

`targets(result)` compares the measured figures with the project's performance targets (a
target whose figure was not measured is `met: None`, never a pass). `tables(result)` lays
every measured section out as (title, header, rows); `render` prints them with rich and
`markdown` writes the same content for bench.md. Nothing is measured here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evals.bench.results import BenchResult, Target

LOCAL_BACKEND = "llama-cpp"  # "the local model" of the targets


def _measured(result: BenchResult) -> dict[str, float | None]:
    """The figure behind each target, None when that part did not run."""
    retrieval = result.retrieval
    quality = retrieval.quality.get("hybrid") if retrieval else None
    latency = retrieval.latency if retrieval else {}
    scifact = result.indexing.scifact
    answer = result.answer
    return {
        "ndcg": quality.ndcg_at_10 if quality else None,
        "p50_scifact": latency["scifact"].hybrid.p50_ms if "scifact" in latency else None,
        "p50_scale": latency["scale"].hybrid.p50_ms if "scale" in latency else None,
        "speedup": scifact.speedup_vs_peer if scifact else None,
        "ttft": answer.warm.first_token.p50_ms if answer else None,
        "serve_rss": answer.serve.peak_rss_mb if answer else None,
    }


def targets(result: BenchResult) -> list[Target]:
    """Each target with the measured value and whether it is met."""
    docs = result.scope.max_docs if result.scope else None
    quick = " (quick: subset)" if result.quick else ""
    if docs and not quick:
        quick = f" (subset: {docs:,} SciFact docs)"
    scale = result.retrieval.latency.get("scale") if result.retrieval else None
    scale_chunks = scale.chunks if scale else None
    got = _measured(result)
    scifact = result.indexing.scifact
    pipelines = ""
    if scifact is not None and scifact.peer is not None:
        pipelines = f" (ours: {scifact.ours.embedder}; peer: {scifact.peer.embedder})"
    answer = result.answer
    local = answer is not None and answer.warm.backend == LOCAL_BACKEND
    other = "" if answer is None or local else f" (ran {answer.warm.backend}, not the local model)"
    rows = [
        ("SciFact nDCG@10, default (hybrid) retrieval", ">= 0.72", ">=", 0.72,
         got["ndcg"], quick),
        ("Retrieval p50 at SciFact scale (hybrid, warm)", "<= 15 ms", "<=", 15.0,
         got["p50_scifact"], quick),
        ("Retrieval p50 at the scale collection (hybrid, warm)", "<= 50 ms", "<=", 50.0,
         got["p50_scale"], f" (at {scale_chunks:,} chunks)" if scale_chunks else ""),
        ("Indexing throughput vs LangChain on SciFact", ">= 2.0x", ">=", 2.0,
         got["speedup"], quick or pipelines),
        ("Time to first token p50, local model (warm)", "<= 800 ms", "<=", 800.0,
         got["ttft"], other),
        ("Peak RSS of `rag serve` with the local model", "<= 1536 MB", "<=", 1536.0,
         got["serve_rss"], other or " (process and children)"),
    ]  # fmt: skip
    out = []
    for name, goal, op, limit, value, note in rows:
        met = None if value is None else (value >= limit if op == ">=" else value <= limit)
        if "subset" in note or ("scale collection" in name and (scale_chunks or 0) < 50_000):
            met = None  # measured, but not at the size the target is about
        if "local model" in name and not local:
            met = None  # measured, but with another backend than the target is about
        margin = _margin(value, op, limit, goal)
        out.append(
            Target(target=name, goal=goal, measured=value, met=met, margin=margin, note=note)
        )
    return out


def _margin(value: float | None, op: str, limit: float, goal: str) -> str | None:
    """How far the measured value is from the limit, e.g. 'missed by 3.1 ms (21%)'."""
    if value is None:
        return None
    gap = (value - limit) if op == "<=" else (limit - value)  # > 0: on the wrong side
    unit = goal.split()[-1]
    unit = "" if unit[0].isdigit() else unit if unit in ("ms", "MB") else ""
    if op == ">=" and goal.endswith("x"):
        unit = "x"
    size = f"{abs(gap):,.0f}" if abs(gap) >= 100 else f"{abs(gap):.3g}"
    amount = f"{size}{' ' + unit if unit and unit != 'x' else unit}"
    share = f" ({abs(gap) / limit:.0%})" if limit else ""
    return f"missed by {amount}{share}" if gap > 0 else f"met by {amount}{share}"


def fmt(value: Any) -> str:
    """A figure as the tables print it (thousands separators, 3 decimals below 10)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


Table = tuple[str, list[str], list[Sequence[Any]]]


def _indexing(result: BenchResult) -> list[Table]:
    rows: list[Sequence[Any]] = []
    for corpus, part in (("corpus", result.indexing.corpus), ("scifact", result.indexing.scifact)):
        if part is None:
            continue
        for who, r in (("ours", part.ours), ("peer", part.peer)):
            if r is not None:
                split = " / ".join(f"{k} {v:.1f}" for k, v in r.timings_s.items())
                rows.append((corpus, who, r.embedder, r.documents, r.chunks, r.seconds,
                             r.docs_per_s, r.chunks_per_s, split, r.peak_rss_mb))  # fmt: skip
        if part.speedup_vs_peer is not None:
            rows.append((corpus, "ours/peer throughput", "", "", "", "", "", "",
                         f"x{part.speedup_vs_peer} (median of runs)", ""))  # fmt: skip
    if not rows:
        return []
    header = ["corpus", "pipeline", "embedder", "docs", "chunks", "s", "docs/s", "chunks/s",
              "split (s)", "process peak RSS MB"]  # fmt: skip
    return [("Indexing", header, rows)]


def _retrieval(result: BenchResult) -> list[Table]:
    out: list[Table] = []
    if result.embedding and result.embedding.backends:
        emb = result.embedding
        rows: list[Sequence[Any]] = [
            (n, b.embedder, b.runtime, b.chunks_per_s, b.ndcg_at_10, b.ndcg_loss_vs_torch,
             b.quality_holds)
            for n, b in emb.backends.items()
        ]  # fmt: skip
        title = f"Embedding backends ({emb.chunks:,} SciFact chunks, exact cosine search)"
        header = ["backend", "index records", "ran on", "chunks/s", "nDCG@10", "loss",
                  "quality holds"]  # fmt: skip
        out.append((title, header, rows))
    if result.retrieval is None:
        return out
    r = result.retrieval
    if r.quality:
        rows = [(m, q.ndcg_at_10, q.recall_at_100) for m, q in r.quality.items()]
        title = (
            f"Retrieval quality (SciFact, {r.quality_embedder}, "
            f"{r.quality_candidates} candidates per half)"
        )
        out.append((title, ["mode", "nDCG@10", "recall@100"], rows))
    rows = []
    for scale, part in r.latency.items():
        for mode in ("dense", "bm25", "hybrid"):
            p = getattr(part, mode)
            rows.append((f"{scale} ({part.embedder})", part.chunks, mode, p.p50_ms, p.p95_ms))
        vs = part.vs_peer
        if vs:
            peer = vs.peer_similarity_k4
            rows.append((scale, part.chunks, "peer similarity k=4", peer.p50_ms, peer.p95_ms))
            rows.append((scale, "", "peer p50 / our hybrid p50", vs.peer_over_ours_p50, ""))
    if rows:
        out.append(("Retrieval latency (ms)", ["scale", "chunks", "mode", "p50", "p95"], rows))
    return out


def _answers(result: BenchResult) -> list[Table]:
    answer = result.answer
    if answer is None:
        return []
    warm, cold = answer.warm, answer.cold_start_rag_ask
    rows: list[Sequence[Any]] = [
        ("first token (warm)", warm.first_token.p50_ms, warm.first_token.p95_ms),
        ("total (warm)", warm.total.p50_ms, warm.total.p95_ms),
        ("cold `rag ask` (process)", cold.seconds * 1000, ""),
    ]
    if answer.serve.peak_rss_mb is not None:
        rows.append(("`rag serve` peak RSS (MB, not ms)", answer.serve.peak_rss_mb, ""))
    models = ", ".join(warm.models) or "?"
    title = (
        f"Answering ({warm.backend}: {models}; {warm.questions} eval-suite questions, "
        f"{warm.refused_before_model} refused before the model ran)"
    )
    return [(title, ["measure", "p50 ms", "p95 ms"], rows)]


def tables(result: BenchResult) -> list[Table]:
    """(title, header, rows) for every section that has figures, then the targets."""
    met = {True: "yes", False: "NO", None: "–"}
    rows: list[Sequence[Any]] = [
        (t.target, t.goal, t.measured, met[t.met], t.margin or "", t.note.strip())
        for t in result.targets
    ]
    header = ["target", "goal", "measured", "met", "margin", "note"]
    targets_table = ("Performance targets", header, rows)
    from evals.bench.remote import remote_tables

    extra = remote_tables(result)
    return [*_indexing(result), *_retrieval(result), *extra, *_answers(result), targets_table]


def _extras(result: BenchResult) -> list[str]:
    lines = []
    if result.scale is not None:
        lines.append(f"Scale collection: {result.scale.what}.")
    if result.embedding and result.embedding.onnx_error:
        lines.append(result.embedding.onnx_error)
    if result.answer is not None:
        warm = result.answer.warm
        if warm.stages_median_ms:
            shown = ", ".join(f"{k} {v:,.0f}" for k, v in warm.stages_median_ms.items())
            lines.append(
                f"Answer stages, median ms: {shown} "
                f"(prompt tokens, median: {warm.prompt_tokens_median})."
            )
        if result.answer.serve.error:
            lines.append(f"rag serve RSS not measured: {result.answer.serve.error}")
    lines += result.notes
    lines += [f"{name} failed: {err}" for name, err in result.errors.items()]
    return lines


def render(result: BenchResult, console: Any) -> None:
    """Print the tables with rich."""
    from rich.table import Table as RichTable

    for title, header, rows in tables(result):
        table = RichTable(title=title, title_justify="left")
        for h in header:
            table.add_column(h)
        for row in rows:
            table.add_row(*(fmt(v) for v in row))
        console.print(table)
    for line in _extras(result):
        console.print(line, markup=False)


def markdown(result: BenchResult) -> str:
    """bench.md: the same tables in Markdown."""
    from evals.bench.results import to_json

    mode = "quick" if result.quick else "full"
    commit = to_json(result.commit) if result.commit else "unknown"
    parts = [
        f"# rag bench ({mode} run, started {result.started_at})",
        "",
        f"- Machine: {to_json(result.machine)}",
        f"- Commit: {commit}",
        f"- Versions: {result.versions}",
        f"- Section wall time (s): {result.section_seconds}",
        "",
    ]
    for title, header, rows in tables(result):
        parts += [f"## {title}", "", "| " + " | ".join(header) + " |"]
        parts.append("| " + " | ".join("---" for _ in header) + " |")
        parts += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
        parts.append("")
    parts += [f"- {line}" for line in _extras(result)]
    return "\n".join(parts) + "\n"

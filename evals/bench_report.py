"""How `rag bench` results are shown: the issue's targets, rich tables, and bench.md.

`targets(result)` compares the measured figures with the issue 6 targets (a target whose
figure was not measured is `met: None`, never a pass). `render(result, console)` prints
tables; `markdown(result)` is the same content for bench.md. Nothing is measured here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each issue target with the measured value and whether it is met."""
    quick = " (quick: subset)" if result.get("quick") else ""
    scale_chunks = _get(result, "retrieval", "latency", "scale", "chunks")
    rows = [
        ("SciFact nDCG@10, default (hybrid) retrieval", ">= 0.72", ">=", 0.72,
         _get(result, "retrieval", "quality", "hybrid", "ndcg_at_10"), quick),
        ("Retrieval p50 at SciFact scale (hybrid, warm)", "<= 15 ms", "<=", 15.0,
         _get(result, "retrieval", "latency", "scifact", "hybrid", "p50_ms"), quick),
        ("Retrieval p50 at ~100k chunks (hybrid, warm)", "<= 50 ms", "<=", 50.0,
         _get(result, "retrieval", "latency", "scale", "hybrid", "p50_ms"),
         f" (at {scale_chunks:,} chunks)" if scale_chunks else ""),
        ("Indexing throughput vs LangChain on SciFact", ">= 2.0x", ">=", 2.0,
         _get(result, "indexing", "scifact", "speedup_vs_peer"), quick),
        ("Time to first token p50, local model (warm)", "<= 800 ms", "<=", 800.0,
         _get(result, "answer", "warm", "first_token", "p50_ms"), ""),
        ("Peak RSS of `rag serve` with the local model", "<= 1536 MB", "<=", 1536.0,
         _get(result, "answer", "serve", "peak_rss_mb"), " (process and children)"),
    ]  # fmt: skip
    out = []
    for name, goal, op, limit, value, note in rows:
        met = None if value is None else (value >= limit if op == ">=" else value <= limit)
        if "subset" in note or ("100k" in name and (scale_chunks or 0) < 50_000):
            met = None  # measured, but not at the size the target is about
        out.append(
            {
                "target": name,
                "goal": goal,
                "measured": value,
                "met": met,
                "margin": _margin(value, op, limit, goal),
                "note": note,
            }
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


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def tables(result: dict[str, Any]) -> list[tuple[str, list[str], list[Sequence[Any]]]]:
    """(title, header, rows) for every section that has figures."""
    out = []
    rows = []
    for corpus in ("corpus", "scifact"):
        part = _get(result, "indexing", corpus) or {}
        for who in ("ours", "peer"):
            r = part.get(who)
            if r:
                t = r.get("timings_s", {})
                split = " / ".join(f"{k} {v:.1f}" for k, v in t.items())
                rows.append(
                    (
                        corpus,
                        who,
                        r["documents"],
                        r["chunks"],
                        r["seconds"],
                        r["docs_per_s"],
                        r["chunks_per_s"],
                        split,
                        r["peak_rss_mb"],
                    )
                )
        if part.get("speedup_vs_peer") is not None:
            rows.append((corpus, "ours/peer throughput", "", "", "", "", "",
                         f"x{part['speedup_vs_peer']} (median of runs)", ""))  # fmt: skip
    if rows:
        header = ["corpus", "pipeline", "docs", "chunks", "s", "docs/s", "chunks/s",
                  "split (s)", "peak RSS MB"]  # fmt: skip
        out.append(("Indexing", header, rows))
    emb = result.get("embedding") or {}
    if emb.get("backends"):
        rows = [
            (n, b["chunks_per_s"], b["ndcg_at_10"], b.get("ndcg_loss_vs_torch"),
             b.get("quality_holds"))
            for n, b in emb["backends"].items()
        ]  # fmt: skip
        title = f"Embedding backends ({emb['chunks']:,} SciFact chunks, exact cosine search)"
        out.append((title, ["backend", "chunks/s", "nDCG@10", "loss", "quality holds"], rows))
    quality = _get(result, "retrieval", "quality") or {}
    if quality:
        rows = [(m, q.get("ndcg_at_10"), q.get("recall_at_100")) for m, q in quality.items()]
        out.append(("Retrieval quality (SciFact)", ["mode", "nDCG@10", "recall@100"], rows))
    latency = _get(result, "retrieval", "latency") or {}
    rows = []
    for scale, part in latency.items():
        for mode in ("dense", "bm25", "hybrid"):
            if mode in part:
                rows.append((scale, part.get("chunks"), mode, part[mode]["p50_ms"],
                             part[mode]["p95_ms"]))  # fmt: skip
        vs = part.get("vs_peer")
        if vs:
            peer = vs["peer_similarity_k4"]
            rows.append(
                (scale, part.get("chunks"), "peer similarity k=4", peer["p50_ms"], peer["p95_ms"])
            )
            rows.append((scale, "", "peer p50 / our hybrid p50", vs["peer_over_ours_p50"], ""))
    if rows:
        out.append(("Retrieval latency (ms)", ["scale", "chunks", "mode", "p50", "p95"], rows))
    answer = result.get("answer") or {}
    if answer:
        warm, cold = answer["warm"], answer["cold_start_rag_ask"]
        rows = [
            ("first token (warm)", warm["first_token"]["p50_ms"], warm["first_token"]["p95_ms"]),
            ("total (warm)", warm["total"]["p50_ms"], warm["total"]["p95_ms"]),
            ("cold `rag ask` (process)", cold["seconds"] * 1000, ""),
        ]
        serve = answer.get("serve") or {}
        if "peak_rss_mb" in serve:
            rows.append(("`rag serve` peak RSS (MB, not ms)", serve["peak_rss_mb"], ""))
        title = f"Answering ({warm['backend']}, {warm['questions']} eval-suite questions)"
        out.append((title, ["measure", "p50 ms", "p95 ms"], rows))
    rows = [
        (t["target"], t["goal"], t["measured"], {True: "yes", False: "NO", None: "–"}[t["met"]],
         t.get("margin") or "", t["note"].strip())
        for t in result.get("targets", [])
    ]  # fmt: skip
    header = ["target", "goal", "measured", "met", "margin", "note"]
    out.append(("Targets (issue 6)", header, rows))
    return out


def _extras(result: dict[str, Any]) -> list[str]:
    lines = []
    if _get(result, "scale", "what"):
        lines.append(f"Scale collection: {result['scale']['what']}.")
    if _get(result, "embedding", "onnx_error"):
        lines.append(result["embedding"]["onnx_error"])
    stages = _get(result, "answer", "warm", "stages_median_ms")
    if stages:
        shown = ", ".join(f"{k} {v:,.0f}" for k, v in stages.items())
        tokens = _get(result, "answer", "warm", "prompt_tokens_median")
        lines.append(f"Answer stages, median ms: {shown} (prompt tokens, median: {tokens}).")
    if _get(result, "answer", "serve", "error"):
        lines.append(f"rag serve RSS not measured: {result['answer']['serve']['error']}")
    lines += result.get("notes", [])
    lines += [f"{name} failed: {err}" for name, err in (result.get("errors") or {}).items()]
    return lines


def render(result: dict[str, Any], console: Any) -> None:
    """Print the tables with rich."""
    from rich.table import Table

    for title, header, rows in tables(result):
        table = Table(title=title, title_justify="left")
        for h in header:
            table.add_column(h)
        for row in rows:
            table.add_row(*(_fmt(v) for v in row))
        console.print(table)
    for line in _extras(result):
        console.print(line, markup=False)


def markdown(result: dict[str, Any]) -> str:
    """bench.md: the same tables in Markdown."""
    mode = "quick" if result.get("quick") else "full"
    parts = [f"# rag bench ({mode} run)", "", f"Machine: {result.get('machine')}", ""]
    for title, header, rows in tables(result):
        parts += [f"## {title}", "", "| " + " | ".join(header) + " |"]
        parts.append("| " + " | ".join("---" for _ in header) + " |")
        parts += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
        parts.append("")
    parts += [f"- {line}" for line in _extras(result)]
    return "\n".join(parts) + "\n"
